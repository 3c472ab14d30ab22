import { request } from "undici";
import { z } from "zod";
import { BackstopError, errorMessage } from "../src/errors.js";

/**
 * The instant-query response of the Prometheus HTTP API (`GET /api/v1/query`), see
 * https://prometheus.io/docs/prometheus/latest/querying/api/#instant-queries . Only `vector` and `scalar`
 * results are read; a sample value is a string (`"0.35"`, `"NaN"`, `"+Inf"`).
 */
const PromResponseSchema = z.object({
  status: z.enum(["success", "error"]),
  error: z.string().optional(),
  data: z
    .object({
      resultType: z.string(),
      result: z.unknown(),
    })
    .optional(),
});

const SampleSchema = z.tuple([z.number(), z.string()]);
const VectorSchema = z.array(
  z.object({ metric: z.record(z.string(), z.string()).optional(), value: SampleSchema }),
);

/** A minimal Prometheus instant-query client. */
export interface PrometheusClient {
  /**
   * Evaluates `query` at `time` (default now) and returns the first sample's value, or null when the result
   * is empty or not a finite number (`NaN` from a 0/0 ratio).
   * @throws BackstopError `prometheus.unavailable` (network, timeout, non-2xx) or `prometheus.error` (`status: "error"`).
   */
  instant(query: string, time?: Date): Promise<number | null>;
}

/**
 * Creates a Prometheus client for `baseUrl` (e.g. `http://prometheus:9090`; `/api/v1/query` is appended).
 * Each query is aborted after `timeoutMs` (ms). Requests go through undici's `request` on its global
 * keep-alive pool: the same connections as `fetch`, without the WHATWG fetch machinery (streams,
 * Request/Response objects), which cost ~4x the CPU per query.
 */
export function createPrometheusClient(baseUrl: string, timeoutMs: number): PrometheusClient {
  const endpoint = new URL("api/v1/query", baseUrl.endsWith("/") ? baseUrl : `${baseUrl}/`);
  return {
    async instant(query, time) {
      const url = new URL(endpoint);
      url.searchParams.set("query", query);
      if (time) url.searchParams.set("time", (time.getTime() / 1000).toFixed(3));
      let status: number;
      let text: string;
      try {
        const res = await request(url, {
          signal: AbortSignal.timeout(timeoutMs),
          headers: { accept: "application/json" },
        });
        status = res.statusCode;
        text = await res.body.text().catch(() => "");
      } catch (err) {
        throw new BackstopError("prometheus.unavailable", `Prometheus unreachable: ${errorMessage(err)}`, {
          cause: err,
        });
      }
      const ok = status >= 200 && status < 300;
      let body: z.infer<typeof PromResponseSchema>;
      try {
        body = PromResponseSchema.parse(JSON.parse(text));
      } catch (err) {
        throw new BackstopError(
          ok ? "prometheus.error" : "prometheus.unavailable",
          `Prometheus answered HTTP ${status} with an unreadable body`,
          { cause: err },
        );
      }
      if (body.status === "error" || !ok) {
        throw new BackstopError(
          "prometheus.error",
          `Prometheus query failed (HTTP ${status}): ${body.error ?? "error"}`,
        );
      }
      const data = body.data;
      if (!data) return null;
      let raw: string | undefined;
      if (data.resultType === "scalar") {
        raw = SampleSchema.safeParse(data.result).data?.[1];
      } else if (data.resultType === "vector") {
        raw = VectorSchema.safeParse(data.result).data?.[0]?.value[1];
      }
      if (raw === undefined) return null;
      const value = Number(raw);
      return Number.isFinite(value) ? value : null;
    },
  };
}
