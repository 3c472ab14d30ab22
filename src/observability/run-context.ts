import { AsyncLocalStorage } from "node:async_hooks";
import { trace } from "@opentelemetry/api";

/**
 * The run a piece of work belongs to, carried through async calls with `AsyncLocalStorage`
 * (independent of whether tracing is on), so every log line written inside a run carries its id.
 * `src/log.ts` reads it through {@link logFields} (pino `mixin`).
 */
const runStorage = new AsyncLocalStorage<{ runId: string }>();

/** Runs `fn` with `runId` as the current run (nested calls see the innermost). */
export function withRunId<T>(runId: string, fn: () => T): T {
  return runStorage.run({ runId }, fn);
}

/** The current run's id, or undefined outside a run. */
export function currentRunId(): string | undefined {
  return runStorage.getStore()?.runId;
}

/**
 * Fields every log line gets (pino `mixin`): `run_id` inside a run, and `trace_id`/`span_id` of the
 * active OpenTelemetry span when one is recording (W3C trace-context ids, lower-case hex).
 */
export function logFields(): Record<string, string> {
  const out: Record<string, string> = {};
  const runId = currentRunId();
  if (runId) out.run_id = runId;
  const span = trace.getActiveSpan();
  if (span?.isRecording()) {
    const sc = span.spanContext();
    out.trace_id = sc.traceId;
    out.span_id = sc.spanId;
  }
  return out;
}
