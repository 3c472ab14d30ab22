import { z } from "zod";
import { type ClusterConfig, parseClusters } from "./config/clusters.js";
import { parseTargets, type TargetConfig } from "./config/targets.js";
import { ClusterNameSchema, type ClusterRoster, DEFAULT_CLUSTER_LABEL } from "./contracts/cluster.js";
import { BackstopError, formatZodIssues } from "./errors.js";
import { setLogFormat, setLogLevel } from "./log.js";

export { type ClusterConfig, parseClusters } from "./config/clusters.js";
export type { TargetConfig } from "./config/targets.js";

/**
 * Backstop's configuration, parsed once by zod from the environment. This is the only module that
 * reads `process.env` (DESIGN.md, "Rules of the house"); everything else receives a `Config`.
 *
 * Model targets come from `BACKSTOP_TARGETS`: a JSON array (or a path to a JSON file) of
 * `{ name, base_url, model, api_key_env?, tier, input_usd_per_mtok, output_usd_per_mtok, timeout_ms?, rpm?,
 * headers? }`; the API key is read from the environment variable named by `api_key_env` (default
 * `OPENAI_API_KEY`); `headers` (string values) go with every request to the target, e.g. Portkey's
 * `x-portkey-config` (docs/gateways.md).
 * `BACKSTOP_JUDGE_TARGET` is one such object for the quality gate's cheap judge.
 * The target schema is `ModelTargetConfigSchema` (`src/contracts/model-target.ts`); clusters are parsed
 * by `src/config/clusters.ts`.
 */

const bool = z
  .enum(["true", "false", "1", "0", "yes", "no", ""])
  .default("false")
  .transform((v) => v === "true" || v === "1" || v === "yes");

const EnvSchema = z.object({
  LOG_LEVEL: z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]).default("info"),
  LOG_FORMAT: z.enum(["auto", "json", "pretty"]).default("auto"),
  BACKSTOP_METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(9464),
  BACKSTOP_READY_CACHE_MS: z.coerce.number().int().nonnegative().default(30_000),
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url({ protocol: /^https?$/, error: "expected an http(s) URL" }).optional(),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: z
    .url({ protocol: /^https?$/, error: "expected an http(s) URL" })
    .optional(),
  OTEL_EXPORTER_OTLP_HEADERS: z.string().default(""),
  OTEL_SERVICE_NAME: z.string().min(1).optional(),
  BACKSTOP_MODEL_MODE: z.enum(["chain", "virtual"]).default("chain"),
  BACKSTOP_TARGETS: z.string().optional(),
  BACKSTOP_JUDGE_TARGET: z.string().optional(),
  BACKSTOP_DAILY_BUDGET_USD: z.coerce.number().nonnegative().default(25),
  BACKSTOP_COOLDOWN_MS: z.coerce.number().int().nonnegative().default(300_000),
  BACKSTOP_TFY_LOGGING_CONFIG: z.string().default('{"enabled":true}'),
  BACKSTOP_POLICY_FILE: z.string().optional(),
  BACKSTOP_PROMPT_REGISTRY_URL: z.url().optional(),
  BACKSTOP_RECEIPT_KEY: z.string().optional(),
  BACKSTOP_RECEIPT_KEY_FILE: z.string().optional(),
  BACKSTOP_RECEIPTS_DIR: z.string().default(".backstop/receipts"),
  BACKSTOP_INFRA_MCP_URL: z.url().optional(),
  BACKSTOP_NOTIFY_MCP_URL: z.url().optional(),
  BACKSTOP_WRITER_KUBECONFIG: z.string().optional(),
  BACKSTOP_CLUSTERS: z.string().optional(),
  BACKSTOP_CLUSTER_NAME: ClusterNameSchema.optional(),
  BACKSTOP_CLUSTER_LABEL: z
    .string()
    .regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, "expected a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)")
    .default(DEFAULT_CLUSTER_LABEL),
  BACKSTOP_PROMETHEUS_URL: z.url().optional(),
  BACKSTOP_LIVE: bool,
  BACKSTOP_RECOVERY_TIMEOUT_MS: z.coerce.number().int().positive().default(120_000),
  BACKSTOP_SIGNALS_WINDOW: z
    .string()
    .regex(/^\d+[smhd]$/)
    .default("15m"),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, "expected redis://host:port")
    .default("redis://127.0.0.1:6379"),
  BACKSTOP_WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(2),
  BACKSTOP_APPROVAL_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .positive()
    .default(30 * 60_000),
  BACKSTOP_APPROVERS: z.string().default(""),
  BACKSTOP_APPROVER_GROUP: z.string().optional(),
  BACKSTOP_ALERT_TOKEN: z.string().min(16, "use a long random token").optional(),
  BACKSTOP_GUARDRAIL_TOKEN: z.string().min(16, "use a long random token").optional(),
  BACKSTOP_GUARDRAIL_MAX_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .max(64 * 1024 * 1024)
    .default(1024 * 1024),
  SLACK_MODE: z.enum(["http", "socket"]).default("http"),
  SLACK_BOT_TOKEN: z.string().optional(),
  SLACK_SIGNING_SECRET: z.string().optional(),
  SLACK_APP_TOKEN: z.string().optional(),
  SLACK_BOT_USER_ID: z.string().optional(),
  SLACK_BOT_ID: z.string().optional(),
  SLACK_API_URL: z.url().optional(),
  SLACK_ALERT_CHANNEL: z.string().optional(),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().default("0.0.0.0"),
});

/** The parsed configuration. Durations are ms, money USD. */
export interface Config {
  logLevel: string;
  /** `auto`: human-readable (pino-pretty) when stderr is a terminal, JSON otherwise. */
  logFormat: "auto" | "json" | "pretty";
  /**
   * Observability: the worker's `/metrics` + health port (the bot serves them on its own port), how
   * long a readiness probe's Slack `auth.test` answer is reused (ms), and OTLP/HTTP trace export —
   * `tracesUrl` is `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, else `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces`
   * (OpenTelemetry exporter spec), else null (tracing is a no-op).
   */
  observability: {
    metricsPort: number;
    readyCacheMs: number;
    tracesUrl: string | null;
    otlpHeaders: Record<string, string>;
    serviceName: string | undefined;
  };
  models: {
    mode: "chain" | "virtual";
    targets: TargetConfig[];
    judge: TargetConfig | null;
    dailyBudgetUsd: number;
    cooldownMs: number;
    loggingConfig: string;
  };
  policyFile: string | undefined;
  promptRegistryUrl: string | undefined;
  receipts: { dir: string; keyPem: string | undefined; keyFile: string | undefined };
  mcp: { infraUrl: string | undefined; notifyUrl: string | undefined };
  /** The first cluster's writer kubeconfig (kept for single-cluster callers; see `clusters`). */
  writerKubeconfig: string | undefined;
  /** The first cluster's Prometheus (kept for single-cluster callers; see `clusters`). */
  prometheusUrl: string | undefined;
  /**
   * The clusters this Backstop serves (at least one, unique names): `BACKSTOP_CLUSTERS`, or one
   * cluster named `BACKSTOP_CLUSTER_NAME` (default `default`) from the single-cluster variables.
   */
  clusters: ClusterConfig[];
  /** Cluster names and the alert label that names a cluster (`BACKSTOP_CLUSTER_LABEL`, default `cluster`). */
  clusterRoster: ClusterRoster;
  live: boolean;
  recoveryTimeoutMs: number;
  signalsWindow: string;
  redisUrl: string;
  /** REDIS_URL as given, or undefined when unset (the demo then looks for or starts a Redis). */
  redisUrlFromEnv: string | undefined;
  worker: { concurrency: number };
  approvals: { users: string[]; usergroup: string | undefined; timeoutMs: number };
  /** Slack settings; `null` fields are checked by {@link requireSlack} when the bot starts. */
  slack: {
    mode: "http" | "socket";
    botToken: string | undefined;
    signingSecret: string | undefined;
    appToken: string | undefined;
    botUserId: string | undefined;
    botId: string | undefined;
    apiUrl: string | undefined;
    alertChannel: string | undefined;
    alertToken: string | undefined;
    /** Bearer token of `POST /guardrails/quality` (BACKSTOP_GUARDRAIL_TOKEN); the route is off without it. */
    guardrailToken: string | undefined;
    /** Largest guardrail request body in bytes (BACKSTOP_GUARDRAIL_MAX_BYTES, default 1 MiB). */
    guardrailMaxBytes: number;
    port: number;
    host: string;
  };
}

/**
 * `OTEL_EXPORTER_OTLP_HEADERS`: comma-separated `key=value` pairs, values percent-decoded (W3C
 * Baggage format, as the OpenTelemetry exporter spec says).
 * @throws BackstopError `config.invalid` for a pair without `=` or an empty key.
 */
function parseOtlpHeaders(raw: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of raw.split(",")) {
    if (pair.trim() === "") continue;
    const i = pair.indexOf("=");
    const key = i < 0 ? "" : pair.slice(0, i).trim();
    if (key === "") {
      throw new BackstopError(
        "config.invalid",
        "OTEL_EXPORTER_OTLP_HEADERS: expected key=value pairs separated by commas",
      );
    }
    out[key] = decodeURIComponent(pair.slice(i + 1).trim());
  }
  return out;
}

/**
 * Parses the configuration from `env` (default `process.env`) and applies the log level.
 * @throws BackstopError `config.invalid` naming each bad variable.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    throw new BackstopError("config.invalid", `invalid configuration: ${formatZodIssues(parsed.error)}`);
  }
  const e = parsed.data;
  setLogLevel(e.LOG_LEVEL);
  setLogFormat(e.LOG_FORMAT);
  const targets = parseTargets(e.BACKSTOP_TARGETS, env, "BACKSTOP_TARGETS");
  const judge = parseTargets(e.BACKSTOP_JUDGE_TARGET, env, "BACKSTOP_JUDGE_TARGET")[0] ?? null;
  const clusters = parseClusters(e);
  return {
    logLevel: e.LOG_LEVEL,
    logFormat: e.LOG_FORMAT,
    observability: {
      metricsPort: e.BACKSTOP_METRICS_PORT,
      readyCacheMs: e.BACKSTOP_READY_CACHE_MS,
      tracesUrl:
        e.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ??
        (e.OTEL_EXPORTER_OTLP_ENDPOINT
          ? `${e.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, "")}/v1/traces`
          : null),
      otlpHeaders: parseOtlpHeaders(e.OTEL_EXPORTER_OTLP_HEADERS),
      serviceName: e.OTEL_SERVICE_NAME,
    },
    models: {
      mode: e.BACKSTOP_MODEL_MODE,
      targets,
      judge,
      dailyBudgetUsd: e.BACKSTOP_DAILY_BUDGET_USD,
      cooldownMs: e.BACKSTOP_COOLDOWN_MS,
      loggingConfig: e.BACKSTOP_TFY_LOGGING_CONFIG,
    },
    policyFile: e.BACKSTOP_POLICY_FILE,
    promptRegistryUrl: e.BACKSTOP_PROMPT_REGISTRY_URL,
    receipts: {
      dir: e.BACKSTOP_RECEIPTS_DIR,
      keyPem: e.BACKSTOP_RECEIPT_KEY,
      keyFile: e.BACKSTOP_RECEIPT_KEY_FILE,
    },
    mcp: { infraUrl: e.BACKSTOP_INFRA_MCP_URL, notifyUrl: e.BACKSTOP_NOTIFY_MCP_URL },
    writerKubeconfig: clusters[0]!.writerKubeconfig,
    prometheusUrl: clusters[0]!.prometheusUrl,
    clusters,
    clusterRoster: { names: clusters.map((c) => c.name), label: e.BACKSTOP_CLUSTER_LABEL },
    live: e.BACKSTOP_LIVE,
    recoveryTimeoutMs: e.BACKSTOP_RECOVERY_TIMEOUT_MS,
    signalsWindow: e.BACKSTOP_SIGNALS_WINDOW,
    redisUrl: e.REDIS_URL,
    redisUrlFromEnv: env.REDIS_URL ? e.REDIS_URL : undefined,
    worker: { concurrency: e.BACKSTOP_WORKER_CONCURRENCY },
    approvals: {
      users: e.BACKSTOP_APPROVERS.split(",")
        .map((u) => u.trim())
        .filter(Boolean),
      usergroup: e.BACKSTOP_APPROVER_GROUP,
      timeoutMs: e.BACKSTOP_APPROVAL_TIMEOUT_MS,
    },
    slack: {
      mode: e.SLACK_MODE,
      botToken: e.SLACK_BOT_TOKEN,
      signingSecret: e.SLACK_SIGNING_SECRET,
      appToken: e.SLACK_APP_TOKEN,
      botUserId: e.SLACK_BOT_USER_ID,
      botId: e.SLACK_BOT_ID,
      apiUrl: e.SLACK_API_URL,
      alertChannel: e.SLACK_ALERT_CHANNEL,
      alertToken: e.BACKSTOP_ALERT_TOKEN,
      guardrailToken: e.BACKSTOP_GUARDRAIL_TOKEN,
      guardrailMaxBytes: e.BACKSTOP_GUARDRAIL_MAX_BYTES,
      port: e.PORT,
      host: e.HOST,
    },
  };
}

/**
 * The Slack settings the bot cannot start without, or a BackstopError `config.invalid` naming every
 * missing variable (SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, SLACK_BOT_USER_ID, SLACK_BOT_ID,
 * SLACK_ALERT_CHANNEL, BACKSTOP_ALERT_TOKEN; SLACK_APP_TOKEN in socket mode; approvers).
 */
export function requireSlack(config: Config): {
  botToken: string;
  signingSecret: string;
  appToken: string | undefined;
  botUserId: string;
  botId: string;
  alertChannel: string;
  alertToken: string;
} {
  const s = config.slack;
  const missing: string[] = [];
  if (!s.botToken) missing.push("SLACK_BOT_TOKEN");
  if (!s.signingSecret) missing.push("SLACK_SIGNING_SECRET");
  if (!s.botUserId) missing.push("SLACK_BOT_USER_ID");
  if (!s.botId) missing.push("SLACK_BOT_ID");
  if (!s.alertChannel) missing.push("SLACK_ALERT_CHANNEL");
  if (!s.alertToken) missing.push("BACKSTOP_ALERT_TOKEN");
  if (s.mode === "socket" && !s.appToken) missing.push("SLACK_APP_TOKEN (socket mode)");
  if (config.approvals.users.length === 0 && !config.approvals.usergroup) {
    missing.push("BACKSTOP_APPROVERS or BACKSTOP_APPROVER_GROUP");
  }
  if (missing.length > 0) {
    throw new BackstopError("config.invalid", `the Slack bot needs: ${missing.join(", ")}`);
  }
  return {
    botToken: s.botToken!,
    signingSecret: s.signingSecret!,
    appToken: s.appToken,
    botUserId: s.botUserId!,
    botId: s.botId!,
    alertChannel: s.alertChannel!,
    alertToken: s.alertToken!,
  };
}
