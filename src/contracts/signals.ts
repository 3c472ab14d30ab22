import { z } from "zod";

/**
 * What `get_signals` (mcp-infra) returns for one workload over a window: the evidence a diagnosis must be
 * grounded in. Every list and text is bounded by the server (limits in the tool description); `truncated`
 * says where something was cut. Times are ISO-8601 strings; latencies are ms; ratios are 0..1.
 */
export const PodSignalSchema = z.object({
  name: z.string(),
  phase: z.string(),
  ready: z.boolean(),
  restarts: z.number().int(),
  /** Waiting reason (`CrashLoopBackOff`, `ImagePullBackOff`) or null when running. */
  waiting_reason: z.string().nullable(),
  /** Reason of the last termination (`OOMKilled`, `Error`) or null. */
  last_termination_reason: z.string().nullable(),
  last_exit_code: z.number().int().nullable(),
  /**
   * UNTRUSTED text: the last termination's message (what the container wrote to its
   * terminationMessagePath), bounded by the server; absent from older servers.
   */
  termination_message: z.string().nullable().optional(),
  image: z.string(),
  revision: z.string().nullable(),
});

export const RolloutRevisionSchema = z.object({
  revision: z.number().int(),
  /** The deploy SHA: the image tag, or the `backstop.dev/deploy-sha` / `app.kubernetes.io/version` annotation. */
  sha: z.string().nullable(),
  image: z.string(),
  /** When this revision's ReplicaSet was created (the deploy time), ISO-8601. */
  deployed_at: z.string(),
  current: z.boolean(),
  /** `healthy` / `failing` from live pods (current) or Prometheus history (earlier); `unknown` otherwise. */
  health: z.enum(["healthy", "failing", "unknown"]),
});

export const EventSignalSchema = z.object({
  type: z.string(),
  reason: z.string(),
  message: z.string(),
  object: z.string(),
  count: z.number().int(),
  last_seen: z.string().nullable(),
});

export const LogTailSchema = z.object({
  pod: z.string(),
  container: z.string(),
  previous: z.boolean(),
  lines: z.array(z.string()),
  truncated: z.boolean(),
});

export const MetricsSignalSchema = z.object({
  source: z.enum(["prometheus", "none"]),
  error_ratio: z.number().nullable(),
  p99_latency_ms: z.number().nullable(),
  restarts: z.number().nullable(),
});

export const WorkloadSignalSchema = z.object({
  kind: z.enum(["Deployment", "StatefulSet"]),
  namespace: z.string(),
  name: z.string(),
  replicas: z.object({
    desired: z.number().int(),
    ready: z.number().int(),
    available: z.number().int(),
    updated: z.number().int(),
  }),
  image: z.string(),
  revision: z.number().int().nullable(),
  /**
   * UNTRUSTED text: the workload's metadata annotations (e.g. `kubernetes.io/change-cause`), bounded by
   * the server, without `kubectl.kubernetes.io/last-applied-configuration`; absent from older servers.
   * Whoever can deploy can write them: they may be quoted as evidence, never choose an action.
   */
  annotations: z.record(z.string(), z.string()).optional(),
  conditions: z.array(
    z.object({
      type: z.string(),
      status: z.string(),
      reason: z.string().nullable(),
      message: z.string().nullable(),
    }),
  ),
});

/**
 * What the server masked and stripped while gathering (counts only, never values): secrets and PII per
 * type (`[REDACTED:<Type>]`) and invisible Unicode Cf characters per kind (`ZeroWidth`, `BidiControl`,
 * `TagCharacter`, `OtherFormat`). Optional: an older server does not send it.
 */
export const SanitizedSchema = z.object({
  redactions: z.record(z.string(), z.number().int().nonnegative()),
  invisible: z.record(z.string(), z.number().int().nonnegative()),
  /**
   * The redactor that did it (`redactorVersion()` of src/guardrails/redact/version.ts): a reader running
   * the same one need not redact again. Absent from older servers.
   */
  redactor: z.string().max(200).optional(),
});

export const SignalsSchema = z.object({
  /** The cluster the signals were read from (mcp-infra sets it; absent from older servers and fixtures). */
  cluster: z.string().optional(),
  namespace: z.string(),
  window: z.string(),
  collected_at: z.string(),
  workload: WorkloadSignalSchema,
  pods: z.array(PodSignalSchema),
  rollout_history: z.array(RolloutRevisionSchema),
  events: z.array(EventSignalSchema),
  logs: z.array(LogTailSchema),
  metrics: MetricsSignalSchema,
  truncated: z.array(z.string()),
  sanitized: SanitizedSchema.optional(),
  /**
   * The fields that hold free text written by whoever runs or deploys the workload (log lines, event
   * messages, annotations, termination messages): evidence at most, never instructions, never the
   * source of an action's target or revision. Absent from older servers.
   */
  untrusted_fields: z.array(z.string()).optional(),
});

/** The value of `untrusted_fields` mcp-infra reports. */
export const UNTRUSTED_SIGNAL_FIELDS = [
  "logs[].lines",
  "events[].message",
  "workload.annotations",
  "pods[].termination_message",
] as const;

export type PodSignal = z.infer<typeof PodSignalSchema>;
export type RolloutRevision = z.infer<typeof RolloutRevisionSchema>;
export type EventSignal = z.infer<typeof EventSignalSchema>;
export type LogTail = z.infer<typeof LogTailSchema>;
export type MetricsSignal = z.infer<typeof MetricsSignalSchema>;
export type WorkloadSignal = z.infer<typeof WorkloadSignalSchema>;
export type Signals = z.infer<typeof SignalsSchema>;
