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
  conditions: z.array(
    z.object({
      type: z.string(),
      status: z.string(),
      reason: z.string().nullable(),
      message: z.string().nullable(),
    }),
  ),
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
});

export type PodSignal = z.infer<typeof PodSignalSchema>;
export type RolloutRevision = z.infer<typeof RolloutRevisionSchema>;
export type EventSignal = z.infer<typeof EventSignalSchema>;
export type LogTail = z.infer<typeof LogTailSchema>;
export type MetricsSignal = z.infer<typeof MetricsSignalSchema>;
export type WorkloadSignal = z.infer<typeof WorkloadSignalSchema>;
export type Signals = z.infer<typeof SignalsSchema>;
