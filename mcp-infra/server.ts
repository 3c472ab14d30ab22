import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { KubeConfig } from "@kubernetes/client-node";
import { createMcpExpressApp } from "@modelcontextprotocol/sdk/server/express.js";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { DEFAULT_CLUSTER_NAME } from "../src/contracts/cluster.js";
import { redactorVersion } from "../src/guardrails/redact.js";
import { childLogger } from "../src/log.js";
import { mountStatelessMcp, STATELESS_SCHEMA_VALIDATOR } from "../src/mcp/stateless-http.js";
import { type InfraClusterOptions, type InfraClusters, makeInfraClusters } from "./clusters.js";
import { DEFAULT_K8S_TIMEOUT_MS } from "./k8s.js";
import { registerDeploymentStatusTool } from "./tools/deployment_status.js";
import { registerGetSignalsTool } from "./tools/get_signals.js";
import { registerNamespacesTool } from "./tools/namespaces.js";
import { registerResolveOwnerTool } from "./tools/resolve_owner.js";

const log = childLogger("mcp-infra");

/** Name and version the server reports in the MCP `initialize` result. */
export const INFRA_SERVER_INFO = { name: "backstop-mcp-infra", version: "0.1.0" } as const;

/**
 * Options of the read-only infra MCP server. Either one cluster:
 * - `kubeConfig`: the (read-only) credential: `KubeConfig.loadFromDefault()` (KUBECONFIG / in-cluster) in
 *   production, or the sandbox cluster's `kubeConfig("readonly")`;
 * - `prometheusUrl`: base URL of the Prometheus HTTP API (`/api/v1/query` is appended); without it metrics are
 *   `source: "none"` and earlier revisions' health is `unknown`;
 * - `clusterName`: the name the cluster is served under (default `default`);
 * or several: `clusters`, one `{ name, kubeConfig, prometheusUrl? }` per cluster, each with its own read-only
 * clients (every tool then takes a `cluster` argument, required when there are two or more).
 * - `requestTimeoutMs`: per-call timeout of each Kubernetes and Prometheus request, ms (default 5000).
 */
export type InfraServerOptions = (
  | { kubeConfig: KubeConfig; prometheusUrl?: string; clusterName?: string; clusters?: undefined }
  | { clusters: InfraClusterOptions[]; kubeConfig?: undefined }
) & { requestTimeoutMs?: number };

function makeContext(opts: InfraServerOptions): InfraClusters {
  const timeout = opts.requestTimeoutMs ?? DEFAULT_K8S_TIMEOUT_MS;
  const list: InfraClusterOptions[] = opts.clusters ?? [
    {
      name: opts.clusterName ?? DEFAULT_CLUSTER_NAME,
      kubeConfig: opts.kubeConfig,
      ...(opts.prometheusUrl ? { prometheusUrl: opts.prometheusUrl } : {}),
    },
  ];
  return makeInfraClusters(list, timeout);
}

function buildServer(ctx: InfraClusters): McpServer {
  const server = new McpServer(INFRA_SERVER_INFO, {
    capabilities: { tools: {} },
    jsonSchemaValidator: STATELESS_SCHEMA_VALIDATOR,
    instructions:
      `Read-only Kubernetes signals for incident triage, for the clusters ${ctx.names.join(", ")} ` +
      "(every tool takes `cluster`). No tool here changes a cluster.",
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
 * @throws the file system's error when the redactor's files cannot be read (see `redactorVersion`).
 */
export async function startInfraMcpHttp(
  opts: InfraServerOptions & { host?: string; port?: number },
): Promise<{ url: string; clusters: readonly string[]; close(): Promise<void> }> {
  const host = opts.host ?? "127.0.0.1";
  const ctx = makeContext(opts);
  // The redactor's version goes on every get_signals result: computed now (it reads the redactor's
  // files), so a broken install fails at start-up and the first call does not pay for it.
  redactorVersion();
  const app = createMcpExpressApp({ host });
  // Liveness for probes and for the bot's and worker's readiness checks (src/observability/health.ts).
  app.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });
  mountStatelessMcp(app, () => buildServer(ctx), {
    onError: (err) => log.error({ err }, "MCP request failed"),
  });

  const http: Server = await new Promise((resolve, reject) => {
    const s = app.listen(opts.port ?? 0, host, (err?: Error) => (err ? reject(err) : resolve(s)));
  });
  const { port } = http.address() as AddressInfo;
  const urlHost = host.includes(":") ? `[${host}]` : host === "0.0.0.0" ? "127.0.0.1" : host;
  const url = `http://${urlHost}:${port}/mcp`;
  log.info({ url, clusters: ctx.names }, "mcp-infra listening");
  return {
    url,
    clusters: ctx.names,
    close: () =>
      new Promise<void>((resolve, reject) => {
        http.closeAllConnections();
        http.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
