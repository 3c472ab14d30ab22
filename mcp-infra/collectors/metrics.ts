import { errorRatioQuery, p99LatencyQuery, restartsQuery } from "../../src/contracts/promql.js";
import type { MetricsSignal } from "../../src/contracts/signals.js";
import { childLogger } from "../../src/log.js";
import type { InfraContext } from "./context.js";

const log = childLogger("mcp-infra");

/**
 * The workload's Prometheus metrics over `window`: 5xx ratio (0..1), p99 latency (ms, one decimal) and
 * container restarts; each null when its query fails or has no data. `source: "none"` without Prometheus
 * or when every query failed (logged). Never throws.
 */
export async function collectMetrics(
  ctx: InfraContext,
  namespace: string,
  name: string,
  window: string,
): Promise<MetricsSignal> {
  const prom = ctx.prometheus;
  if (!prom) return { source: "none", error_ratio: null, p99_latency_ms: null, restarts: null };
  const [errorRatio, p99, restarts] = await Promise.allSettled([
    prom.instant(errorRatioQuery(namespace, name, window)),
    prom.instant(p99LatencyQuery(namespace, name, window)),
    prom.instant(restartsQuery(namespace, name, window)),
  ]);
  const val = (r: PromiseSettledResult<number | null>) => (r.status === "fulfilled" ? r.value : null);
  const anyOk = [errorRatio, p99, restarts].some((r) => r.status === "fulfilled");
  if (!anyOk) {
    log.warn({ err: (errorRatio as PromiseRejectedResult).reason }, "prometheus unavailable");
    return { source: "none", error_ratio: null, p99_latency_ms: null, restarts: null };
  }
  const p99s = val(p99);
  return {
    source: "prometheus",
    error_ratio: val(errorRatio),
    p99_latency_ms: p99s === null ? null : Math.round(p99s * 1000 * 10) / 10,
    restarts: val(restarts),
  };
}
