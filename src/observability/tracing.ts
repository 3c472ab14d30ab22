import { context, type Tracer, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  BatchSpanProcessor,
  NodeTracerProvider,
  SimpleSpanProcessor,
  type SpanExporter,
} from "@opentelemetry/sdk-trace-node";

/** The instrumentation scope every Backstop span is created under. */
export const TRACER_NAME = "backstop";

let contextManagerSet = false;

/**
 * Makes `context.with` / `startActiveSpan` carry the active span across `await` (an
 * `AsyncLocalStorageContextManager` as the global context manager). Idempotent; a manager
 * registered earlier by someone else is kept.
 */
export function ensureContextManager(): void {
  if (contextManagerSet) return;
  contextManagerSet = true;
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
}

/** A tracer and how to flush and stop it (a no-op for the no-op tracer). */
export interface Tracing {
  tracer: Tracer;
  /** True when spans go somewhere (an OTLP endpoint or a given exporter). */
  enabled: boolean;
  /** Flushes pending spans and stops the provider. */
  shutdown(): Promise<void>;
}

/**
 * Sets up tracing. With `tracesUrl` (an OTLP/HTTP traces endpoint, e.g. `http://collector:4318/v1/traces`;
 * `@opentelemetry/exporter-trace-otlp-http`, JSON encoding) spans are batched and exported there, and
 * the provider is registered globally (so libraries' spans join). With `exporter` (tests: an `InMemorySpanExporter`) spans are exported synchronously and
 * nothing global is registered. With neither, the tracer is the OpenTelemetry API's no-op one.
 * `serviceName` becomes the resource's `service.name` (default `backstop`).
 */
export function setupTracing(opts: {
  tracesUrl?: string | null;
  headers?: Record<string, string>;
  serviceName?: string | undefined;
  exporter?: SpanExporter;
}): Tracing {
  ensureContextManager();
  if (!opts.tracesUrl && !opts.exporter) {
    return { tracer: trace.getTracer(TRACER_NAME), enabled: false, shutdown: async () => {} };
  }
  const resource = resourceFromAttributes({ "service.name": opts.serviceName ?? "backstop" });
  const processor = opts.exporter
    ? new SimpleSpanProcessor(opts.exporter)
    : new BatchSpanProcessor(
        new OTLPTraceExporter({ url: opts.tracesUrl as string, headers: opts.headers ?? {} }),
      );
  const provider = new NodeTracerProvider({ resource, spanProcessors: [processor] });
  // The context manager is ours (ensureContextManager), registered once; the rest is the provider's.
  if (!opts.exporter) provider.register({ contextManager: null });
  return {
    tracer: provider.getTracer(TRACER_NAME),
    enabled: true,
    shutdown: () => provider.shutdown(),
  };
}
