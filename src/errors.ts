/**
 * Every code a {@link BackstopError} may carry: `<family>.<reason>` (dotted, lower case). A caller
 * switches on the code, never on the message; adding a code means adding it here. The families:
 *
 * - `action.*` — the write path refused or failed an action (`src/actions/`): bad input, an unsupported
 *   kind or type, out of the policy's bounds, paused, another cluster's run, a revision not found.
 * - `alert.*` — an Alertmanager alert Backstop cannot act on (no target labels).
 * - `budget.*` — the shared spend store (Redis) cannot be read.
 * - `cli.*` — a command-line flag or argument is wrong, or a command is not in this build (`src/cli/`).
 * - `cluster.*` — a run names no cluster, or one this Backstop does not serve (`src/contracts/cluster.ts`).
 * - `config.*` — an environment variable, file or setting is missing or invalid (`src/config.ts`).
 * - `console.*`, `demo.*`, `naive.*`, `sandbox.*`, `scenario.*` — the sandbox: console and demo servers,
 *   the naive agent, the fake cluster and Slack, scenario files.
 * - `gateway.*` — the model router: no target, every target failed (`exhausted`), the daily budget
 *   spent, a rejected or invalid request, an aborted call, bad router options.
 * - `infra.*` — mcp-infra cannot find a namespace or workload, or the cluster is missing or unknown.
 * - `input.*` — a queue job, incident or metric sample is malformed: never retried.
 * - `judge.*` — the quality gate's judge answered something unparseable.
 * - `k8s.*` — the Kubernetes API answered 401/403/404, timed out or was unreachable.
 * - `mcp.*` — an MCP server is unreachable, answered an error or an invalid result, or a tool is not
 *   on the allow-list.
 * - `notify.*` — the notify MCP server was given an invalid ticket.
 * - `policy.*`, `prompt.*`, `redact.*` — the policy file, a prompt (file, registry, rendering) or the
 *   redaction rules are unreadable or invalid.
 * - `prometheus.*` — Prometheus is unreachable or answered an error.
 * - `queue.*`, `store.*` — Redis (the run queue, the run store) is unreachable, misaddressed or holds
 *   a corrupt or missing record.
 * - `receipt.*` — a receipt cannot be built, signed or verified (key, chain, events, canonical JSON).
 * - `slack.*` — Slack settings, request signing, or a receipt upload failed.
 * - `target.*` — an incident's target (namespace/kind/name) is invalid.
 * - `untrusted.*` — untrusted text (tool output, alert text) does not fit its schema.
 */
export type BackstopErrorCode =
  | "action.failed"
  | "action.invalid"
  | "action.out_of_bounds"
  | "action.paused"
  | "action.revision_not_found"
  | "action.unsupported_kind"
  | "action.unsupported_type"
  | "action.wrong_cluster"
  | "alert.no_target"
  | "budget.unavailable"
  | "cli.invalid"
  | "cli.unavailable"
  | "cluster.required"
  | "cluster.unknown"
  | "config.invalid"
  | "console.listen"
  | "demo.bot"
  | "demo.fire"
  | "demo.redis"
  | "demo.scenarios"
  | "demo.unknown_scenario"
  | "gateway.aborted"
  | "gateway.budget_exhausted"
  | "gateway.config"
  | "gateway.exhausted"
  | "gateway.invalid_request"
  | "gateway.no_targets"
  | "gateway.rejected"
  | "infra.cluster_required"
  | "infra.namespace_not_found"
  | "infra.not_found"
  | "infra.unknown_cluster"
  | "infra.workload_not_found"
  | "input.invalid_incident"
  | "input.invalid_job"
  | "input.invalid_latency"
  | "input.invalid_pending"
  | "input.invalid_spend"
  | "judge.unparseable"
  | "k8s.forbidden"
  | "k8s.not_found"
  | "k8s.timeout"
  | "k8s.unauthorized"
  | "k8s.unavailable"
  | "mcp.invalid_options"
  | "mcp.invalid_output"
  | "mcp.tool_error"
  | "mcp.tool_not_allowed"
  | "mcp.unavailable"
  | "naive.sandbox_only"
  | "naive.unsupported_kind"
  | "notify.invalid_ticket"
  | "policy.invalid"
  | "policy.read"
  | "prometheus.error"
  | "prometheus.unavailable"
  | "prompt.invalid"
  | "prompt.read"
  | "prompt.registry"
  | "prompt.render"
  | "queue.bad_url"
  | "queue.unavailable"
  | "receipt.canonical"
  | "receipt.chain"
  | "receipt.empty"
  | "receipt.event"
  | "receipt.key"
  | "receipt.run_id"
  | "redact.invalid"
  | "redact.secretlint"
  | "sandbox.cluster.listen"
  | "sandbox.cluster.scenario"
  | "sandbox.clusters"
  | "sandbox.slack.api_error"
  | "sandbox.slack.config"
  | "scenario.invalid"
  | "scenario.read"
  | "scenario.yaml"
  | "slack.config"
  | "slack.receipt_invalid"
  | "slack.signing.no_secret"
  | "slack.upload_failed"
  | "store.corrupt"
  | "store.not_found"
  | "store.unavailable"
  | "target.invalid"
  | "untrusted.invalid";

/**
 * The one error type Backstop throws on purpose. `code` is a {@link BackstopErrorCode} a caller can
 * switch on (for example `scenario.invalid`, `gateway.exhausted`, `k8s.forbidden`); `cause` keeps the
 * original error (logged with its stack by `src/log.ts`).
 *
 * Modelled on the typed hierarchy of openai-node (`src/core/error.ts`): one class, a code, the cause.
 */
export class BackstopError extends Error {
  /** A stable, dotted, lower-case code: `<family>.<reason>`. */
  readonly code: BackstopErrorCode;
  /** Extra, secret-free context for logs and receipts. */
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: BackstopErrorCode,
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "BackstopError";
    this.code = code;
    this.details = options.details;
  }
}

/** True when `err` is a {@link BackstopError}, optionally with the given code. */
export function isBackstopError(err: unknown, code?: BackstopErrorCode): err is BackstopError {
  return err instanceof BackstopError && (code === undefined || err.code === code);
}

/** The message of any thrown value, for logs and events. Never throws. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  try {
    return typeof err === "string" ? err : JSON.stringify(err);
  } catch {
    return String(err);
  }
}

/** The part of a zod issue {@link formatZodIssues} reads (zod 4's `$ZodIssue` has it). */
export interface ZodIssueLike {
  readonly path: readonly PropertyKey[];
  readonly message: string;
}

/**
 * One line of text for a failed zod parse: each issue as `<path>: <message>`, the path's keys joined
 * with `.` (`(root)` for the value itself), issues joined with `; `. Options: `prefix` goes before every
 * path (`BACKSTOP_CLUSTERS` gives `BACKSTOP_CLUSTERS[0.name]: …`, the path then in brackets), `root`
 * names the value itself (default `(root)`), `limit` keeps the first N issues (default all), `separator`
 * (default `; `). Never throws. Symbol keys print as `Symbol(…)`.
 */
export function formatZodIssues(
  error: { readonly issues: readonly ZodIssueLike[] },
  options: { prefix?: string; root?: string; limit?: number; separator?: string } = {},
): string {
  const { prefix, root = "(root)", limit, separator = "; " } = options;
  const issues = limit === undefined ? error.issues : error.issues.slice(0, limit);
  return issues
    .map((i) => {
      const path = i.path.map(String).join(".");
      const where = prefix === undefined ? path || root : `${prefix}[${path}]`;
      return `${where}: ${i.message}`;
    })
    .join(separator);
}
