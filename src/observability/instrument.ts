import { SpanStatusCode, type Tracer } from "@opentelemetry/api";
import type { Job, Queue, Worker } from "bullmq";
import { errorMessage } from "../errors.js";
import type { RunProcessors } from "../queue/runs.js";
import type { RunWorld } from "../queue/world.js";
import type { BackstopMetrics } from "./metrics.js";
import { ATTR, RunObserver } from "./observer.js";
import { withRunId } from "./run-context.js";

/** What the worker and the bot are observed with: metrics (null: none) and a tracer (no-op or real). */
export interface Observability {
  metrics: BackstopMetrics | null;
  tracer: Tracer;
}

/**
 * A world whose every opened run also reports to a {@link RunObserver} (metrics and spans), closed
 * with the run. Nothing in the pipeline or the processors changes: the observer is one more reporter.
 */
export function observeWorld(world: RunWorld, obs: Observability): RunWorld {
  return {
    recoveryTimeoutMs: world.recoveryTimeoutMs,
    signalsWindow: world.signalsWindow,
    close: async () => world.close?.(),
    async open(run) {
      const opened = await world.open(run);
      const observer = new RunObserver(run.runId, { metrics: obs.metrics, tracer: obs.tracer });
      return {
        ...opened,
        reporters: [...opened.reporters, observer],
        async close() {
          observer.close();
          await opened.close();
        },
      };
    },
  };
}

/** Runs `fn` as job `name` of run `runId`: a `backstop.job <name>` span, active, and the run id on every log line. */
function inJob<T>(tracer: Tracer, name: string, runId: string, fn: () => Promise<T>): Promise<T> {
  return withRunId(runId, () =>
    tracer.startActiveSpan(
      `backstop.job ${name}`,
      { attributes: { [ATTR.runId]: runId, "backstop.job": name } },
      async (span) => {
        try {
          return await fn();
        } catch (err) {
          span.setStatus({ code: SpanStatusCode.ERROR, message: errorMessage(err) });
          throw err;
        } finally {
          span.end();
        }
      },
    ),
  );
}

/** Processors whose every job runs inside its job span with the run id bound for logs (see {@link inJob}). */
export function observeProcessors(p: RunProcessors, obs: Pick<Observability, "tracer">): RunProcessors {
  return {
    triage: (data, job) => inJob(obs.tracer, "triage", data.runId, () => p.triage(data, job)),
    decision: (data) => inJob(obs.tracer, "decision", data.runId, () => p.decision(data)),
    expire: (data) => inJob(obs.tracer, "expire", data.runId, () => p.expire(data)),
  };
}

function jobSeconds(job: Job | undefined): number | null {
  if (!job?.processedOn || !job.finishedOn) return null;
  return Math.max(0, job.finishedOn - job.processedOn) / 1000;
}

/**
 * Counts the jobs `worker` finishes (`backstop_queue_jobs_total`: completed, failed — each failed
 * attempt —, stalled) and times them (`backstop_queue_job_duration_seconds`), from BullMQ's worker
 * events (https://docs.bullmq.io/guide/events): only this process's jobs, so replicas do not double count.
 */
export function observeWorker(worker: Worker, metrics: BackstopMetrics): void {
  const queue = worker.name;
  worker.on("completed", (job) => {
    metrics.queueJobOutcomes.inc({ queue, name: job.name, outcome: "completed" });
    const s = jobSeconds(job);
    if (s !== null) metrics.queueJobDuration.observe({ queue, name: job.name, outcome: "completed" }, s);
  });
  worker.on("failed", (job) => {
    const name = job?.name ?? "unknown";
    metrics.queueJobOutcomes.inc({ queue, name, outcome: "failed" });
    const s = jobSeconds(job);
    if (s !== null) metrics.queueJobDuration.observe({ queue, name, outcome: "failed" }, s);
  });
  worker.on("stalled", () => {
    metrics.queueJobOutcomes.inc({ queue, name: "unknown", outcome: "stalled" });
  });
}

/** Reports `queue`'s job counts by state in `backstop_queue_jobs` at every scrape. */
export function observeQueueDepth(queue: Queue, metrics: BackstopMetrics): void {
  metrics.addQueue({
    queue: queue.name,
    counts: () =>
      queue.getJobCounts(
        "waiting",
        "active",
        "delayed",
        "prioritized",
        "waiting-children",
        "completed",
        "failed",
      ),
  });
}
