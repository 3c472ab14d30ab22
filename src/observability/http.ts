import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { errorMessage } from "../errors.js";
import { type ReadinessCheck, readiness } from "./health.js";
import type { BackstopMetrics } from "./metrics.js";

/** A route the bot's HTTP receiver (or the worker's small server) serves. */
export interface ObservabilityRoute {
  path: "/metrics" | "/healthz" | "/readyz";
  method: "GET";
  handler: (req: IncomingMessage, res: ServerResponse) => void;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" });
  res.end(JSON.stringify(body));
}

/**
 * The three routes: `GET /metrics` (Prometheus text format, 0.0.4), `GET /healthz` (200 while the
 * process serves HTTP: a liveness probe), `GET /readyz` (200 `{status:"ready"}` when every check passes,
 * else 503 `{status:"not_ready", failed:[names], checks:{name:{ok,ms,error}}}`: a readiness probe).
 * `metrics` null leaves `/metrics` out.
 */
export function observabilityRoutes(opts: {
  metrics: BackstopMetrics | null;
  checks: readonly ReadinessCheck[];
}): ObservabilityRoute[] {
  const routes: ObservabilityRoute[] = [
    { path: "/healthz", method: "GET", handler: (_req, res) => json(res, 200, { status: "ok" }) },
    {
      path: "/readyz",
      method: "GET",
      handler: (_req, res) => {
        readiness(opts.checks).then(
          (r) =>
            json(res, r.ready ? 200 : 503, {
              status: r.ready ? "ready" : "not_ready",
              failed: r.failed,
              checks: r.checks,
            }),
          (err) => json(res, 503, { status: "not_ready", failed: ["readyz"], error: errorMessage(err) }),
        );
      },
    },
  ];
  const metrics = opts.metrics;
  if (metrics) {
    routes.push({
      path: "/metrics",
      method: "GET",
      handler: (_req, res) => {
        metrics.scrape().then(
          ({ contentType, body }) => {
            res.writeHead(200, { "content-type": contentType });
            res.end(body);
          },
          (err) => {
            res.writeHead(500, { "content-type": "text/plain" });
            res.end(`metrics failed: ${errorMessage(err)}\n`);
          },
        );
      },
    });
  }
  return routes;
}

/** A small HTTP server for `routes` (the worker's `/metrics`, `/healthz`, `/readyz`); 404 for anything else. */
export async function startObservabilityServer(opts: {
  routes: readonly ObservabilityRoute[];
  port: number;
  host?: string;
}): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://localhost").pathname;
    const route = opts.routes.find((r) => r.path === path);
    if (!route) return json(res, 404, { error: "not found" });
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.setHeader("allow", "GET");
      return json(res, 405, { error: "method not allowed" });
    }
    route.handler(req, res);
  });
  const host = opts.host ?? "0.0.0.0";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const urlHost = host.includes(":") ? `[${host}]` : host === "0.0.0.0" ? "127.0.0.1" : host;
  return {
    url: `http://${urlHost}:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
