import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

/**
 * Backstop's Prometheus metrics (prom-client). Names follow the Prometheus naming conventions
 * (https://prometheus.io/docs/practices/naming/): the `backstop_` prefix, base units in the name
 * (`_seconds`, `_usd`), `_total` on counters. Label values are bounded sets (target names, rule ids,
 * outcomes), never free text. The README's "Metrics" table lists them all.
 */
export interface BackstopMetrics {
  registry: Registry;
  /** Runs started, by trigger (`alert`, `command`, `cli`) and cluster (`unknown` for a run without one). */
  runsStarted: Counter<"trigger" | "cluster">;
  /** Runs finished, by trigger (`approval` for a run finished after a human decision), outcome and cluster. */
  runs: Counter<"trigger" | "outcome" | "cluster">;
  /** Wall time of a finished run (s), by outcome and cluster. */
  runDuration: Histogram<"outcome" | "cluster">;
  /** Time spent in each stage of a run (s): triage, diagnose, validate, act, escalate, record. */
  stageDuration: Histogram<"stage">;
  /** One count per rule a gate checked, by gate (`quality`, `action`), rule id (e.g. `sha_in_history`) and result (`pass`, `fail`). */
  gateVerdicts: Counter<"gate" | "rule" | "result">;
  /** Whole-gate verdicts, by gate and result (`pass`, `fail`). */
  gateResults: Counter<"gate" | "result">;
  /** Model HTTP calls by target, purpose (`diagnose`, `judge`) and status (`ok`, `invalid_reply`, an HTTP status, `timeout`, `error`). */
  modelCalls: Counter<"target" | "purpose" | "status">;
  /** Model call latency (s), by target and purpose. */
  modelCallDuration: Histogram<"target" | "purpose">;
  /** Fallbacks from one target to the next, by from, to (`none` when the chain ran out) and reason. */
  fallbacks: Counter<"from" | "to" | "reason">;
  /** Tokens by target and type (`input`, `output`; the GenAI `gen_ai.token.type` values). */
  tokens: Counter<"target" | "type">;
  /** Model spend in USD by target. */
  costUsd: Counter<"target">;
  /** Values masked by the input guardrail, by type (secretlint rule or PII kind). */
  redactions: Counter<"type">;
  /** Human decisions on escalations: approved, rejected, expired. */
  approvals: Counter<"decision" | "cluster">;
  /** Anomalies charged to a run's anomaly budget, by kind. */
  anomalies: Counter<"kind">;
  /** Circuit-breaker trips, by reason (`anomaly_budget`, `loop_cap`). */
  breakerTrips: Counter<"reason">;
  /** Write-path outcomes by action type and result (`executed`, `failed`, `dry_run_failed`). */
  actions: Counter<"type" | "result" | "cluster">;
  /** Jobs of the runs queue by state (waiting, active, delayed, failed, …), read from Redis at scrape time. */
  queueJobs: Gauge<"queue" | "state">;
  /** Jobs this process finished, by queue, job name and outcome (`completed`, `failed`, `stalled`). */
  queueJobOutcomes: Counter<"queue" | "name" | "outcome">;
  /** Processing time of a job attempt (s), by queue, job name and outcome. */
  queueJobDuration: Histogram<"queue" | "name" | "outcome">;
  /**
   * Adds a queue whose job counts `backstop_queue_jobs` reads at each scrape (`counts` e.g. BullMQ's
   * `queue.getJobCounts()`). A source that does not answer in 1 s keeps its last values; the scrape
   * never waits on a dead Redis longer than that.
   */
  addQueue(source: QueueDepthSource): void;
  /** The text exposition format of every metric (what `GET /metrics` serves). */
  scrape(): Promise<{ contentType: string; body: string }>;
}

/** Where queue depth comes from: a queue name and a function returning its job counts by state. */
export interface QueueDepthSource {
  queue: string;
  counts(): Promise<Record<string, number>>;
}

/** How long a scrape waits for one queue's counts (ms). */
const QUEUE_COUNT_TIMEOUT_MS = 1000;

/** Seconds buckets for runs and stages: a run takes seconds to minutes (recovery watches last up to minutes). */
const RUN_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];
/** Seconds buckets for one model call. */
const CALL_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60];

/**
 * Creates every metric on a fresh registry (or `opts.registry`). `defaultMetrics` (default true) adds
 * prom-client's process and Node.js runtime metrics (`process_cpu_seconds_total`, `nodejs_heap_size_used_bytes`, …).
 * Asynchronous gauges (queue depth) are attached by `observeQueueDepth` in `src/observability/queue.ts`.
 */
export function createMetrics(opts: { registry?: Registry; defaultMetrics?: boolean } = {}): BackstopMetrics {
  const registry = opts.registry ?? new Registry();
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const queues: QueueDepthSource[] = [];
  return {
    registry,
    runsStarted: new Counter({
      name: "backstop_runs_started_total",
      help: "Runs started, by trigger and cluster.",
      labelNames: ["trigger", "cluster"],
      registers,
    }),
    runs: new Counter({
      name: "backstop_runs_total",
      help: "Runs finished, by trigger, outcome and cluster.",
      labelNames: ["trigger", "outcome", "cluster"],
      registers,
    }),
    runDuration: new Histogram({
      name: "backstop_run_duration_seconds",
      help: "Wall time of a finished run, in seconds, by outcome and cluster.",
      labelNames: ["outcome", "cluster"],
      buckets: RUN_BUCKETS,
      registers,
    }),
    stageDuration: new Histogram({
      name: "backstop_stage_duration_seconds",
      help: "Time spent in each stage of a run, in seconds.",
      labelNames: ["stage"],
      buckets: RUN_BUCKETS,
      registers,
    }),
    gateVerdicts: new Counter({
      name: "backstop_gate_verdicts_total",
      help: "Rule results of the quality and action gates, by gate, rule and result.",
      labelNames: ["gate", "rule", "result"],
      registers,
    }),
    gateResults: new Counter({
      name: "backstop_gate_results_total",
      help: "Whole-gate verdicts, by gate and result.",
      labelNames: ["gate", "result"],
      registers,
    }),
    modelCalls: new Counter({
      name: "backstop_model_calls_total",
      help: "Model calls, by target, purpose and status.",
      labelNames: ["target", "purpose", "status"],
      registers,
    }),
    modelCallDuration: new Histogram({
      name: "backstop_model_call_duration_seconds",
      help: "Latency of one model call, in seconds.",
      labelNames: ["target", "purpose"],
      buckets: CALL_BUCKETS,
      registers,
    }),
    fallbacks: new Counter({
      name: "backstop_model_fallbacks_total",
      help: "Fallbacks from one model target to the next, by from, to and reason.",
      labelNames: ["from", "to", "reason"],
      registers,
    }),
    tokens: new Counter({
      name: "backstop_model_tokens_total",
      help: "Model tokens, by target and type (input, output).",
      labelNames: ["target", "type"],
      registers,
    }),
    costUsd: new Counter({
      name: "backstop_model_cost_usd_total",
      help: "Model spend in US dollars, by target.",
      labelNames: ["target"],
      registers,
    }),
    redactions: new Counter({
      name: "backstop_redactions_total",
      help: "Values masked by the input guardrail, by type.",
      labelNames: ["type"],
      registers,
    }),
    approvals: new Counter({
      name: "backstop_approvals_total",
      help: "Decisions on escalations, by decision and cluster.",
      labelNames: ["decision", "cluster"],
      registers,
    }),
    anomalies: new Counter({
      name: "backstop_breaker_anomalies_total",
      help: "Anomalies charged to a run's anomaly budget, by kind.",
      labelNames: ["kind"],
      registers,
    }),
    breakerTrips: new Counter({
      name: "backstop_breaker_trips_total",
      help: "Circuit-breaker trips, by reason.",
      labelNames: ["reason"],
      registers,
    }),
    actions: new Counter({
      name: "backstop_actions_total",
      help: "Write-path outcomes, by action type, result and cluster.",
      labelNames: ["type", "result", "cluster"],
      registers,
    }),
    queueJobs: new Gauge({
      name: "backstop_queue_jobs",
      help: "Jobs in the queue, by state (read from Redis when scraped).",
      labelNames: ["queue", "state"],
      registers,
      async collect() {
        for (const q of queues) {
          let timer: NodeJS.Timeout | undefined;
          const counts = await Promise.race([
            q.counts().catch(() => null),
            new Promise<null>((r) => {
              timer = setTimeout(() => r(null), QUEUE_COUNT_TIMEOUT_MS);
            }),
          ]);
          clearTimeout(timer);
          if (!counts) continue;
          for (const [state, n] of Object.entries(counts)) this.set({ queue: q.queue, state }, n);
        }
      },
    }),
    queueJobOutcomes: new Counter({
      name: "backstop_queue_jobs_total",
      help: "Jobs this process finished, by queue, job name and outcome.",
      labelNames: ["queue", "name", "outcome"],
      registers,
    }),
    queueJobDuration: new Histogram({
      name: "backstop_queue_job_duration_seconds",
      help: "Processing time of one job attempt, in seconds.",
      labelNames: ["queue", "name", "outcome"],
      buckets: RUN_BUCKETS,
      registers,
    }),
    addQueue(source) {
      queues.push(source);
    },
    async scrape() {
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}
