import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

/** Seconds buckets for runs and stages: a run takes seconds to minutes (recovery watches last up to minutes). */
const RUN_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];
/** Seconds buckets for one model call. */
const CALL_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60];

/**
 * One row of {@link METRICS}: the prom-client type, the Prometheus name, the label names `L`, the
 * `# HELP` text and, for a histogram, its bucket upper bounds (s).
 */
interface MetricDef<
  T extends "counter" | "gauge" | "histogram" = "counter" | "gauge" | "histogram",
  L extends string = string,
> {
  type: T;
  name: string;
  labels: readonly L[];
  help: string;
  buckets?: readonly number[];
}

/** The row maker of a counter or a gauge: `(name, labels, help)`. */
function rowOf<T extends "counter" | "gauge">(type: T) {
  return <L extends string>(name: string, labels: readonly L[], help: string): MetricDef<T, L> => ({
    type,
    name,
    labels,
    help,
  });
}
const counter = rowOf("counter");
const gauge = rowOf("gauge");
/** A histogram's row: `(name, labels, help, buckets)`, buckets in seconds. */
const histogram = <L extends string>(
  name: string,
  labels: readonly L[],
  help: string,
  buckets: readonly number[],
): MetricDef<"histogram", L> => ({ type: "histogram", name, labels, help, buckets });

/**
 * Backstop's Prometheus metrics, one row each, in the order `/metrics` lists them. Names follow the
 * Prometheus naming conventions (https://prometheus.io/docs/practices/naming/): the `backstop_` prefix,
 * base units in the name (`_seconds`, `_usd`), `_total` on counters. Label values are bounded sets
 * (target names, rule ids, outcomes), never free text. The README's "Metrics" table lists them all.
 */
// biome-ignore format: a table, one row per metric
const METRICS = {
  /** Runs started, by trigger (`alert`, `command`, `cli`) and cluster (`unknown` for a run without one). */
  runsStarted: counter("backstop_runs_started_total", ["trigger", "cluster"], "Runs started, by trigger and cluster."),
  /** Runs finished, by trigger (`approval` for a run finished after a human decision), outcome and cluster. */
  runs: counter("backstop_runs_total", ["trigger", "outcome", "cluster"], "Runs finished, by trigger, outcome and cluster."),
  /** Wall time of a finished run (s), by outcome and cluster. */
  runDuration: histogram("backstop_run_duration_seconds", ["outcome", "cluster"], "Wall time of a finished run, in seconds, by outcome and cluster.", RUN_BUCKETS),
  /** Time spent in each stage of a run (s): triage, diagnose, validate, act, escalate, record. */
  stageDuration: histogram("backstop_stage_duration_seconds", ["stage"], "Time spent in each stage of a run, in seconds.", RUN_BUCKETS),
  /** One count per rule a gate checked, by gate (`quality`, `action`), rule id (e.g. `sha_in_history`) and result (`pass`, `fail`). */
  gateVerdicts: counter("backstop_gate_verdicts_total", ["gate", "rule", "result"], "Rule results of the quality and action gates, by gate, rule and result."),
  /** Whole-gate verdicts, by gate and result (`pass`, `fail`). */
  gateResults: counter("backstop_gate_results_total", ["gate", "result"], "Whole-gate verdicts, by gate and result."),
  /** Model HTTP calls by target, purpose (`diagnose`, `judge`) and status (`ok`, `invalid_reply`, an HTTP status, `timeout`, `error`). */
  modelCalls: counter("backstop_model_calls_total", ["target", "purpose", "status"], "Model calls, by target, purpose and status."),
  /** Model call latency (s), by target and purpose. */
  modelCallDuration: histogram("backstop_model_call_duration_seconds", ["target", "purpose"], "Latency of one model call, in seconds.", CALL_BUCKETS),
  /** Fallbacks from one target to the next, by from, to (`none` when the chain ran out) and reason. */
  fallbacks: counter("backstop_model_fallbacks_total", ["from", "to", "reason"], "Fallbacks from one model target to the next, by from, to and reason."),
  /** Tokens by target and type (`input`, `output`; the GenAI `gen_ai.token.type` values). */
  tokens: counter("backstop_model_tokens_total", ["target", "type"], "Model tokens, by target and type (input, output)."),
  /** Model spend in USD by target. */
  costUsd: counter("backstop_model_cost_usd_total", ["target"], "Model spend in US dollars, by target."),
  /** Values masked by the input guardrail, by type (secretlint rule or PII kind). */
  redactions: counter("backstop_redactions_total", ["type"], "Values masked by the input guardrail, by type."),
  /** Human decisions on escalations: approved, rejected, expired. */
  approvals: counter("backstop_approvals_total", ["decision", "cluster"], "Decisions on escalations, by decision and cluster."),
  /** Anomalies charged to a run's anomaly budget, by kind. */
  anomalies: counter("backstop_breaker_anomalies_total", ["kind"], "Anomalies charged to a run's anomaly budget, by kind."),
  /** Circuit-breaker trips, by reason (`anomaly_budget`, `loop_cap`). */
  breakerTrips: counter("backstop_breaker_trips_total", ["reason"], "Circuit-breaker trips, by reason."),
  /** Write-path outcomes by action type and result (`executed`, `failed`, `dry_run_failed`). */
  actions: counter("backstop_actions_total", ["type", "result", "cluster"], "Write-path outcomes, by action type, result and cluster."),
  /** Jobs of the runs queue by state (waiting, active, delayed, failed, …), read from Redis at scrape time (see `addQueue`). */
  queueJobs: gauge("backstop_queue_jobs", ["queue", "state"], "Jobs in the queue, by state (read from Redis when scraped)."),
  /** Jobs this process finished, by queue, job name and outcome (`completed`, `failed`, `stalled`). */
  queueJobOutcomes: counter("backstop_queue_jobs_total", ["queue", "name", "outcome"], "Jobs this process finished, by queue, job name and outcome."),
  /** Processing time of a job attempt (s), by queue, job name and outcome. */
  queueJobDuration: histogram("backstop_queue_job_duration_seconds", ["queue", "name", "outcome"], "Processing time of one job attempt, in seconds.", RUN_BUCKETS),
};

/** The prom-client metric a row of {@link METRICS} builds: a `Counter`, `Gauge` or `Histogram` over its labels. */
type Built<D> =
  D extends MetricDef<"counter", infer L>
    ? Counter<L>
    : D extends MetricDef<"gauge", infer L>
      ? Gauge<L>
      : D extends MetricDef<"histogram", infer L>
        ? Histogram<L>
        : never;

/** Every metric of {@link METRICS}, built, under the same key. */
type BuiltMetrics = { [K in keyof typeof METRICS]: Built<(typeof METRICS)[K]> };

/**
 * Backstop's Prometheus metrics (prom-client), one field per row of {@link METRICS} (e.g. `runsStarted`:
 * `Counter<"trigger" | "cluster">`), on one registry.
 */
export interface BackstopMetrics extends BuiltMetrics {
  registry: Registry;
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

/** The `collect` of `backstop_queue_jobs`: sets each answering queue's counts by state at scrape time. */
function collectQueueDepth(queues: readonly QueueDepthSource[]) {
  return async function collect(this: Gauge<"queue" | "state">): Promise<void> {
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
  };
}

/** Builds one row of {@link METRICS} on `registers`; `collect` is a gauge's scrape-time callback. */
function build(def: MetricDef, registers: Registry[], collect?: (this: Gauge<string>) => Promise<void>) {
  const config = { name: def.name, help: def.help, labelNames: def.labels, registers };
  if (def.type === "counter") return new Counter(config);
  if (def.type === "gauge") return new Gauge(collect ? { ...config, collect } : config);
  return new Histogram({ ...config, buckets: [...(def.buckets ?? [])] });
}

/**
 * Creates every metric of {@link METRICS} on a fresh registry (or `opts.registry`), in the table's
 * order. `defaultMetrics` (default true) adds prom-client's process and Node.js runtime metrics
 * (`process_cpu_seconds_total`, `nodejs_heap_size_used_bytes`, …). Queues whose depth
 * `backstop_queue_jobs` reads are added by `observeQueueDepth` in `src/observability/instrument.ts`.
 */
export function createMetrics(opts: { registry?: Registry; defaultMetrics?: boolean } = {}): BackstopMetrics {
  const registry = opts.registry ?? new Registry();
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const queues: QueueDepthSource[] = [];
  const collectors: Partial<Record<keyof typeof METRICS, (this: Gauge<string>) => Promise<void>>> = {
    queueJobs: collectQueueDepth(queues),
  };
  const built = Object.fromEntries(
    Object.entries(METRICS).map(([key, def]) => [
      key,
      build(def, registers, collectors[key as keyof typeof METRICS]),
    ]),
  ) as BuiltMetrics;
  return {
    registry,
    ...built,
    addQueue(source) {
      queues.push(source);
    },
    async scrape() {
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}
