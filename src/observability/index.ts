/**
 * Observability (DESIGN.md, "Parts"): Prometheus metrics, OpenTelemetry traces, health endpoints.
 * Runs are observed from outside the pipeline: a {@link RunObserver} is one more run reporter; the
 * worker's jobs and the queue are observed through BullMQ's events and job counts.
 */
export {
  CHECK_TIMEOUT_MS,
  type CheckResult,
  httpCheck,
  mcpInfraHealthUrl,
  type Readiness,
  type ReadinessCheck,
  readiness,
  redisCheck,
  slackCheck,
} from "./health.js";
export { type ObservabilityRoute, observabilityRoutes, startObservabilityServer } from "./http.js";
export {
  type Observability,
  observeProcessors,
  observeQueueDepth,
  observeWorker,
  observeWorld,
} from "./instrument.js";
export { type BackstopMetrics, createMetrics, type QueueDepthSource } from "./metrics.js";
export { ATTR, ModelCallSpan, RunObserver, startModelCallSpan } from "./observer.js";
export { processObservability } from "./process.js";
export { currentRunId, logFields, withRunId } from "./run-context.js";
export { RUN_STAGES, type RunStage, stageOf } from "./stages.js";
export { ensureContextManager, setupTracing, TRACER_NAME, type Tracing } from "./tracing.js";
