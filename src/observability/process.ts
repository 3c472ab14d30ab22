import type { WebClient } from "@slack/web-api";
import type { Config } from "../config.js";
import type { QueueConnection } from "../queue/runs.js";
import { httpCheck, mcpInfraHealthUrl, type ReadinessCheck, redisCheck, slackCheck } from "./health.js";
import { type ObservabilityRoute, observabilityRoutes } from "./http.js";
import type { Observability } from "./instrument.js";
import { createMetrics } from "./metrics.js";
import { setupTracing } from "./tracing.js";

/**
 * Everything a Backstop process (bot or worker) is observed with, from the configuration: metrics on a
 * fresh registry, tracing (OTLP when configured, a no-op otherwise; `service.name` from
 * `OTEL_SERVICE_NAME`, default `backstop-<role>`), and the readiness checks — Redis answers, Slack
 * accepts the bot token (`auth.test`, cached `BACKSTOP_READY_CACHE_MS`), mcp-infra answers (when
 * `BACKSTOP_INFRA_MCP_URL` is set). `close()` stops the Redis check's client and flushes spans.
 */
export function processObservability(
  config: Config,
  role: "bot" | "worker",
  deps: { connection: QueueConnection; slack: Pick<WebClient, "auth"> },
): Observability & { routes: ObservabilityRoute[]; checks: ReadinessCheck[]; close(): Promise<void> } {
  const tracing = setupTracing({
    tracesUrl: config.observability.tracesUrl,
    headers: config.observability.otlpHeaders,
    serviceName: config.observability.serviceName ?? `backstop-${role}`,
  });
  const metrics = createMetrics();
  const redis = redisCheck(deps.connection);
  const checks: ReadinessCheck[] = [redis, slackCheck(deps.slack, config.observability.readyCacheMs)];
  if (config.mcp.infraUrl) checks.push(httpCheck("mcp_infra", mcpInfraHealthUrl(config.mcp.infraUrl)));
  return {
    metrics,
    tracer: tracing.tracer,
    checks,
    routes: observabilityRoutes({ metrics, checks }),
    async close() {
      await redis.close();
      await tracing.shutdown();
    },
  };
}
