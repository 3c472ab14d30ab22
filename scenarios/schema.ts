import { readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { AlertmanagerWebhookSchema } from "../src/contracts/alertmanager.js";
import { ClusterNameSchema, refineUniqueClusterNames } from "../src/contracts/cluster.js";
import { DiagnosisSchema } from "../src/contracts/diagnosis.js";
import { ModelTargetSchema } from "../src/contracts/model-target.js";
import { BackstopError, formatZodIssues } from "../src/errors.js";

/**
 * The scenario file format (`scenarios/*.yaml`), documented field by field in `scenarios/README.md`.
 * A scenario is a whole incident: the cluster's starting state, the faults the sandbox injects, the
 * Alertmanager notification, the ground truth, the scripted model behaviour and the expected outcomes.
 * Times in the file are relative (`minutes_ago`) so a scenario replays the same at any wall-clock time.
 */

const slug = z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "expected a DNS-1123 label");

/**
 * How a container image behaves when it runs in the sandbox.
 * - `healthy`: ready, no restarts; `error_ratio` default 0.002, `p99_ms` default 120.
 * - `crashloop`: exits with `exit_code` (default 1) shortly after start → `CrashLoopBackOff`.
 * - `oom`: killed by the kernel (exit 137) → `OOMKilled`, then `CrashLoopBackOff`.
 * - `error`: runs and is ready but fails `error_ratio` (default 0.35) of requests.
 * - `slow`: runs and is ready but answers at `p99_ms` (default 4000 ms).
 * `logs` are the lines the container writes (the tail is served by pods/log); for crash states, the
 * lines of the last run before it died.
 * `healthy_for_minutes`: health that changes over time: the image behaves `healthy` for this many
 * minutes after its pod starts (the deploy time for the scenario's initial pods), then as `state`.
 * `termination_message`: what a crashing container wrote to its termination-message file
 * (`lastState.terminated.message`, https://kubernetes.io/docs/tasks/debug/debug-application/determine-reason-pod-failure/).
 */
export const HealthProfileSchema = z.object({
  state: z.enum(["healthy", "crashloop", "oom", "error", "slow"]),
  error_ratio: z.number().min(0).max(1).optional(),
  p99_ms: z.number().positive().optional(),
  exit_code: z.number().int().optional(),
  /** Container restarts per pod per 10 minutes while crashing (default 4). */
  restarts_per_10m: z.number().nonnegative().optional(),
  logs: z.array(z.string()).default([]),
  healthy_for_minutes: z.number().positive().optional(),
  termination_message: z.string().max(4096).optional(),
});
export type HealthProfile = z.infer<typeof HealthProfileSchema>;

/** One deploy in a workload's rollout history, oldest first; the last entry is what runs now. */
export const HistoryEntrySchema = z.object({
  /** The deploy SHA; it is the image tag unless `image` overrides the whole reference. */
  sha: z.string().min(4),
  /** When this revision was rolled out, in minutes before the scenario starts. */
  minutes_ago: z.number().nonnegative(),
  /** Full image reference if it is not `<workload image>:<sha>`. */
  image: z.string().optional(),
  health: HealthProfileSchema,
});
export type HistoryEntry = z.infer<typeof HistoryEntrySchema>;

export const WorkloadSpecSchema = z.object({
  kind: z.enum(["Deployment", "StatefulSet"]),
  namespace: slug,
  name: slug,
  replicas: z.number().int().min(0),
  /** Pod labels and selector; default `{ app: <name> }`. */
  labels: z.record(z.string(), z.string()).optional(),
  /** Container name; default the workload name. */
  container: z.string().optional(),
  /** Image repository without a tag, e.g. `ghcr.io/acme/checkout`. */
  image: z.string().min(1),
  /**
   * Extra metadata annotations on the workload (e.g. `kubernetes.io/change-cause`). They reach the
   * signals (bounded, marked untrusted): whoever can deploy can write them.
   */
  annotations: z.record(z.string(), z.string()).optional(),
  history: z.array(HistoryEntrySchema).min(1),
});
export type WorkloadSpec = z.infer<typeof WorkloadSpecSchema>;

/** Kubernetes API verbs as RBAC names them. */
export const K8S_VERBS = ["get", "list", "watch", "create", "update", "patch", "delete"] as const;

/**
 * A fault the sandbox Kubernetes API injects: the `after` matching requests pass, then the next `times`
 * answer with `status` (a Kubernetes `Status` body) or hang for `hang_ms` before answering normally.
 * `dry_run` limits it to dry-run (`true`) or real (`false`) writes; `token` to one credential.
 */
export const ClusterFaultSchema = z
  .object({
    verb: z.enum(K8S_VERBS),
    /** Resource as RBAC names it: `deployments`, `deployments/scale`, `pods`, `pods/log`, `events`, ... */
    resource: z.string().min(1),
    namespace: z.string().optional(),
    name: z.string().optional(),
    token: z.enum(["readonly", "writer", "admin"]).optional(),
    dry_run: z.boolean().optional(),
    status: z.number().int().min(400).max(599).optional(),
    message: z.string().optional(),
    hang_ms: z.number().int().positive().optional(),
    after: z.number().int().min(0).default(0),
    times: z.number().int().min(1).default(1),
  })
  .refine((f) => f.status !== undefined || f.hang_ms !== undefined, "a fault needs `status` or `hang_ms`");
export type ClusterFault = z.infer<typeof ClusterFaultSchema>;

/**
 * One scripted model answer, used for the n-th call of a run to one model for one purpose.
 * - `reply`: `truth` (the ground-truth diagnosis), `wrong` (the scenario's plausible wrong one),
 *   `diagnosis` (the inline `diagnosis`), `raw` (the `text` as is: a reply that is not a diagnosis at
 *   all), or for the judge `grounded` / `ungrounded`. A judge never looks at the ground truth: each
 *   judge call is scripted, and an unscripted one answers `ungrounded` (fail-closed).
 * - `format`: how the JSON is wrapped: `plain`, `fenced` (```json), `prose` (text around it),
 *   `truncated` (cut mid-object), `garbage` (no JSON at all).
 * - `status`: answer with this HTTP error instead (with `Retry-After: retry_after_s` when given).
 * - `delay_ms`: wait before answering (a timeout when longer than the caller's).
 */
export const ModelStepSchema = z
  .object({
    reply: z.enum(["truth", "wrong", "diagnosis", "raw", "grounded", "ungrounded"]).optional(),
    diagnosis: DiagnosisSchema.optional(),
    /** The reply text for `reply: raw`, sent unchanged (no `format` applies). */
    text: z.string().optional(),
    reason: z.string().optional(),
    format: z.enum(["plain", "fenced", "prose", "truncated", "garbage"]).default("plain"),
    status: z.number().int().min(400).max(599).optional(),
    retry_after_s: z.number().nonnegative().optional(),
    message: z.string().optional(),
    delay_ms: z.number().int().nonnegative().optional(),
    /** Token usage to report; default estimated from the text (4 characters per token). */
    usage: z.object({ prompt_tokens: z.number().int(), completion_tokens: z.number().int() }).optional(),
  })
  .refine((st) => st.reply !== "raw" || st.text !== undefined, {
    message: "reply: raw needs `text`",
    path: ["text"],
  })
  .refine((st) => st.reply !== "diagnosis" || st.diagnosis !== undefined, {
    message: "reply: diagnosis needs an inline `diagnosis`",
    path: ["diagnosis"],
  });
export type ModelStep = z.infer<typeof ModelStepSchema>;

/** A model target the scenario's chain walks; prices are USD per 1M tokens, `timeout_ms` per call, `latency_ms` per answer. */
export const ScenarioTargetSchema = z.object({
  name: ModelTargetSchema.shape.name,
  model: ModelTargetSchema.shape.model,
  tier: ModelTargetSchema.shape.tier,
  input_usd_per_mtok: ModelTargetSchema.shape.inputUsdPerMTok,
  output_usd_per_mtok: ModelTargetSchema.shape.outputUsdPerMTok,
  timeout_ms: ModelTargetSchema.shape.timeoutMs.default(20_000),
  /**
   * Scripted latency of this model in ms: the sandbox provider waits this long before every answer to
   * it (scripted steps and the default alike, errors included), on top of a step's `delay_ms`.
   * Default 0. Used by benchmarks to model a real provider's latency.
   */
  latency_ms: z.number().int().nonnegative().default(0),
});
export type ScenarioTarget = z.infer<typeof ScenarioTargetSchema>;

export const ModelsSpecSchema = z.object({
  /** The priority chain, strongest-first within a tier; tier 1 is the first tried, higher tiers are stronger. */
  chain: z.array(ScenarioTargetSchema).min(1),
  /** The cheap model the quality gate's judge uses. */
  judge: ScenarioTargetSchema,
  /** The router's daily spend cap in USD (default 50); a tiny one runs out mid-run. */
  daily_budget_usd: z.number().nonnegative().default(50),
  /** Per model name, per purpose, the scripted steps in call order; after the last, the default applies. */
  script: z
    .record(
      z.string(),
      z.object({
        diagnose: z.array(ModelStepSchema).default([]),
        judge: z.array(ModelStepSchema).default([]),
      }),
    )
    .default({}),
});
export type ModelsSpec = z.infer<typeof ModelsSpecSchema>;

// The Alertmanager webhook (v4) schema lives in src/contracts/alertmanager.ts; re-exported for scenario users.
export {
  type AlertmanagerAlert,
  AlertmanagerAlertSchema,
  type AlertmanagerWebhook,
  AlertmanagerWebhookSchema,
} from "../src/contracts/alertmanager.js";

/** What an expected action looks like in `expect` (and in `--json` output). */
export const ExpectedActionSchema = z.object({
  type: z.enum(["rollback", "restart", "scale", "delete"]),
  namespace: z.string(),
  kind: z.string(),
  name: z.string(),
  to_sha: z.string().optional(),
  replicas: z.number().int().optional(),
});

export const AgentExpectationSchema = z.object({
  outcome: z.enum(["resolved", "escalated", "damaged", "failed"]),
  /** Exactly these actions, in order, when given. */
  actions: z.array(ExpectedActionSchema).optional(),
  /** At least this many model fallbacks on the receipt. */
  min_fallbacks: z.number().int().min(0).optional(),
  /** Protected workloads changed: must be 0 for Backstop. */
  max_protected_touched: z.number().int().min(0).optional(),
  /** At least this many workloads changed (for the naive agent's damage). */
  min_workloads_changed: z.number().int().min(0).optional(),
});

/**
 * One named cluster of a multi-cluster scenario. Every cluster has the namespaces and workloads of
 * `cluster`; `state` says how they run there:
 * - `failing`: as `cluster` describes them (the incident);
 * - `healthy`: each workload's rollout history stops at its last `healthy` deploy (the bad deploy never
 *   reached this cluster), so the same `namespace/workload` is fine here.
 * `faults`, when given, replace the scenario's `faults.cluster` for this cluster (e.g. its API is down).
 */
export const ScenarioClusterSchema = z.object({
  name: ClusterNameSchema,
  state: z.enum(["failing", "healthy"]).default("failing"),
  faults: z.array(ClusterFaultSchema).optional(),
});
export type ScenarioCluster = z.infer<typeof ScenarioClusterSchema>;

/**
 * A Kubernetes event the scenario adds to the cluster (core/v1 Event), about the workload, one of its
 * pods (`pod: first` = the first pod of the current ReplicaSet) or any named object. Times are relative.
 * Events are untrusted text: the message may say anything.
 */
export const ScenarioEventSchema = z.object({
  namespace: slug,
  /** `Deployment`, `StatefulSet`, `ReplicaSet` or `Pod`. */
  kind: z.enum(["Deployment", "StatefulSet", "ReplicaSet", "Pod"]),
  /** The object's name; for `Pod`, `first` names the first pod of the workload `workload`. */
  name: z.string().min(1),
  /** For `name: first`: the workload whose first pod it is. */
  workload: slug.optional(),
  type: z.enum(["Normal", "Warning"]).default("Warning"),
  reason: z.string().min(1).max(128),
  message: z.string().max(4096),
  count: z.number().int().min(1).default(1),
  minutes_ago: z.number().nonnegative().default(1),
  /** The component that reported it (`kubelet`, `deployment-controller`, `argocd`…). */
  component: z.string().default("kubelet"),
});
export type ScenarioEvent = z.infer<typeof ScenarioEventSchema>;

export const ScenarioSchema = z.object({
  name: slug,
  title: z.string().min(1),
  description: z.string().min(1),
  /** Which seed-document failure mode this exercises and which defence should fire. */
  fires: z.string().min(1),
  cluster: z.object({
    /** Seconds a rollout takes in the sandbox from template change to all pods ready (default 2). */
    rollout_seconds: z.number().nonnegative().default(2),
    namespaces: z
      .array(z.object({ name: slug, labels: z.record(z.string(), z.string()).default({}) }))
      .min(2),
    workloads: z.array(WorkloadSpecSchema).min(1),
    /** Custom Kubernetes events (see {@link ScenarioEventSchema}). */
    events: z.array(ScenarioEventSchema).default([]),
  }),
  /**
   * Two or more named clusters with the same namespaces and workloads (see {@link ScenarioClusterSchema});
   * absent: one cluster. Unique names. The sandbox starts one Kubernetes API per cluster.
   */
  clusters: z
    .array(ScenarioClusterSchema)
    .min(2, "list two or more clusters, or leave `clusters` out for one")
    .superRefine(refineUniqueClusterNames)
    .optional(),
  faults: z.object({ cluster: z.array(ClusterFaultSchema).default([]) }).default({ cluster: [] }),
  /** Minutes before the scenario starts at which the incident began; fills alerts' `startsAt`. */
  onset_minutes_ago: z.number().nonnegative(),
  alert: AlertmanagerWebhookSchema,
  truth: z.object({
    /** The deploy SHA that caused the incident, or null when no deploy did. */
    bad_sha: z.string().nullable(),
    /** What a correct model answers (`reply: truth`). */
    diagnosis: DiagnosisSchema,
  }),
  /** The plausible but wrong diagnosis (`reply: wrong`), e.g. a hallucinated SHA with `scope: all`. */
  wrong: DiagnosisSchema.optional(),
  models: ModelsSpecSchema,
  expect: z.object({ backstop: AgentExpectationSchema, naive: AgentExpectationSchema }),
});
export type Scenario = z.infer<typeof ScenarioSchema>;

/**
 * Parses and validates scenario YAML text. Fills each alert's `startsAt` from `onset_minutes_ago`
 * relative to `now` (ms since epoch) when the file leaves it out.
 * @throws BackstopError `scenario.invalid` naming every bad field, or `scenario.yaml` on a YAML syntax error.
 */
export function parseScenario(text: string, source = "<scenario>", now = Date.now()): Scenario {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new BackstopError("scenario.yaml", `${source}: not valid YAML: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const result = ScenarioSchema.safeParse(raw);
  if (!result.success) {
    const lines = formatZodIssues(result.error, { separator: "\n  - " });
    throw new BackstopError("scenario.invalid", `${source}: invalid scenario:\n  - ${lines}`);
  }
  const scenario = result.data;
  const startsAt = new Date(now - scenario.onset_minutes_ago * 60_000).toISOString();
  for (const alert of scenario.alert.alerts) alert.startsAt ??= startsAt;
  return scenario;
}

/** Reads and parses one scenario file. @throws BackstopError `scenario.read`, `scenario.yaml`, `scenario.invalid`. */
export function loadScenario(file: string, now = Date.now()): Scenario {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new BackstopError("scenario.read", `cannot read scenario ${file}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return parseScenario(text, basename(file), now);
}

/** The `*.yaml` files of a folder, sorted by name, as absolute-or-relative paths joined to `dir`. */
export function listScenarioFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".yaml") || f.endsWith(".yml"))
    .sort()
    .map((f) => join(dir, f));
}

/** `<image>:<sha>` unless the history entry overrides the whole image reference. */
export function imageRef(workload: WorkloadSpec, entry: HistoryEntry): string {
  return entry.image ?? `${workload.image}:${entry.sha}`;
}

/**
 * The single-cluster scenario one named cluster of `scenario` runs: for a `healthy` cluster every
 * workload's history is cut after its last healthy deploy (kept whole when it has none), and the
 * cluster's own `faults` replace the scenario's. Without `clusters` it returns `scenario` unchanged.
 * @throws BackstopError `scenario.invalid` when `scenario` has no cluster named `name`.
 */
export function scenarioForCluster(scenario: Scenario, name: string): Scenario {
  if (!scenario.clusters) return scenario;
  const entry = scenario.clusters.find((c) => c.name === name);
  if (!entry) {
    throw new BackstopError(
      "scenario.invalid",
      `${scenario.name}: no cluster named "${name}" (it has ${scenario.clusters.map((c) => c.name).join(", ")})`,
    );
  }
  const out: Scenario = structuredClone(scenario);
  delete out.clusters;
  if (entry.faults) out.faults = { cluster: entry.faults };
  if (entry.state === "healthy") {
    for (const w of out.cluster.workloads) {
      const last = w.history.map((h) => h.health.state).lastIndexOf("healthy");
      if (last >= 0) w.history = w.history.slice(0, last + 1);
    }
  }
  return out;
}
