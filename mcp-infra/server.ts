import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { KubeConfig } from "@kubernetes/client-node";
import { createMcpExpressApp } from "@modelcontextprotocol/sdk/server/express.js";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { errorMessage } from "../src/errors.js";
import { childLogger } from "../src/log.js";
import { mountStatelessMcp } from "../src/mcp/stateless-http.js";
import { DEFAULT_K8S_TIMEOUT_MS, makeK8sApis } from "./k8s.js";
import { createPrometheusClient } from "./prometheus.js";
import type { InfraContext } from "./signals.js";
import { registerDeploymentStatusTool } from "./tools/deployment_status.js";
import { registerGetSignalsTool } from "./tools/get_signals.js";
import { registerNamespacesTool } from "./tools/namespaces.js";
import { registerResolveOwnerTool } from "./tools/resolve_owner.js";

const log = childLogger("mcp-infra");

/** Name and version the server reports in the MCP `initialize` result. */
export const INFRA_SERVER_INFO = { name: "backstop-mcp-infra", version: "0.1.0" } as const;

/**
 * Options of the read-only infra MCP server.
 * - `kubeConfig`: the (read-only) credential: `KubeConfig.loadFromDefault()` (KUBECONFIG / in-cluster) in
 *   production, or the sandbox cluster's `kubeConfig("readonly")`.
 * - `prometheusUrl`: base URL of the Prometheus HTTP API (`/api/v1/query` is appended); without it metrics are
 *   `source: "none"` and earlier revisions' health is `unknown`.
 * - `requestTimeoutMs`: per-call timeout of each Kubernetes and Prometheus request, ms (default 5000).
 */
export interface InfraServerOptions {
  kubeConfig: KubeConfig;
  prometheusUrl?: string;
  requestTimeoutMs?: number;
}

function makeContext(opts: InfraServerOptions): InfraContext {
  const timeout = opts.requestTimeoutMs ?? DEFAULT_K8S_TIMEOUT_MS;
  return {
    apis: makeK8sApis(opts.kubeConfig, timeout),
    prometheus: opts.prometheusUrl ? createPrometheusClient(opts.prometheusUrl, timeout) : null,
  };
}

function buildServer(ctx: InfraContext): McpServer {
  const server = new McpServer(INFRA_SERVER_INFO, {
    capabilities: { tools: {} },
    instructions: "Read-only Kubernetes signals for incident triage. No tool here changes the cluster.",
  });
  registerNamespacesTool(server, ctx);
  registerDeploymentStatusTool(server, ctx);
  registerGetSignalsTool(server, ctx);
  registerResolveOwnerTool(server, ctx);
  return server;
}

/**
 * Creates the MCP server with its four read-only tools (`namespaces`, `deployment_status`, `get_signals`, `resolve_owner`),
 * not yet connected to a transport. Each call builds fresh API clients from `opts.kubeConfig`.
 */
export function createInfraMcpServer(opts: InfraServerOptions): McpServer {
  return buildServer(makeContext(opts));
}

/**
 * Serves the infra MCP server over streamable HTTP (MCP spec 2025-06-18, "Streamable HTTP") at `POST /mcp`,
 * in stateless mode: every request gets a fresh `McpServer` + transport sharing one set of API clients, so any
 * number of sequential or concurrent clients can connect over the server's life, and nothing leaks per session.
 * `GET`/`DELETE /mcp` answer 405 (no server-initiated stream, no sessions). Binds `host` (default 127.0.0.1,
 * with the SDK's DNS-rebinding protection) on `port` (default 0: a free port).
 * @returns the endpoint URL (`http://127.0.0.1:PORT/mcp`) and `close()`.
 */
export async function startInfraMcpHttp(
  opts: InfraServerOptions & { host?: string; port?: number },
): Promise<{ url: string; close(): Promise<void> }> {
  const host = opts.host ?? "127.0.0.1";
  const ctx = makeContext(opts);
  const app = createMcpExpressApp({ host });
  // Liveness for probes and for the bot's and worker's readiness checks (src/observability/health.ts).
  app.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });
  mountStatelessMcp(app, () => buildServer(ctx), {
    onError: (err) => log.error({ err: errorMessage(err) }, "MCP request failed"),
  });

  const http: Server = await new Promise((resolve, reject) => {
    const s = app.listen(opts.port ?? 0, host, (err?: Error) => (err ? reject(err) : resolve(s)));
  });
  const { port } = http.address() as AddressInfo;
  const urlHost = host.includes(":") ? `[${host}]` : host === "0.0.0.0" ? "127.0.0.1" : host;
  const url = `http://${urlHost}:${port}/mcp`;
  log.info({ url }, "mcp-infra listening");
  return {
    url,
    close: () =>
      new Promise<void>((resolve, reject) => {
        http.closeAllConnections();
        http.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
