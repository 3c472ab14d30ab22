import type { Command } from "commander";
import { startInfraMcpHttp } from "../../mcp-infra/index.js";
import { loadKubeConfig } from "../actions/clusters.js";
import { loadConfig } from "../config.js";

/**
 * `backstop mcp-infra [--host H] [--port P]`: serves the read-only infra MCP server over streamable
 * HTTP for every configured cluster (`BACKSTOP_CLUSTERS`: each cluster's `kubeconfig` + `context` and
 * `prometheus_url`; or, for one cluster, the credential client-node finds — KUBECONFIG, ~/.kube/config
 * or the in-cluster service account — named `BACKSTOP_CLUSTER_NAME`, with `BACKSTOP_PROMETHEUS_URL`).
 * Each cluster gets its own read-only clients. Runs until SIGINT/SIGTERM.
 * @throws BackstopError `config.invalid` when a cluster's kubeconfig or context cannot be loaded.
 */
export function registerMcpInfra(program: Command): void {
  program
    .command("mcp-infra")
    .description(
      "serve the read-only infra MCP server (namespaces, deployment_status, get_signals, resolve_owner)",
    )
    .option("--host <host>", "listen address", "127.0.0.1")
    .option("--port <port>", "listen port", "8790")
    .action(async (opts: { host: string; port: string }) => {
      const config = loadConfig();
      const clusters = config.clusters.map((c) => ({
        name: c.name,
        kubeConfig: loadKubeConfig(c.kubeconfig, c.context, `cluster ${c.name} (read-only)`),
        ...(c.prometheusUrl ? { prometheusUrl: c.prometheusUrl } : {}),
      }));
      const server = await startInfraMcpHttp({ clusters, host: opts.host, port: Number(opts.port) });
      const shown = clusters
        .map((c) => `${c.name} → ${c.kubeConfig.getCurrentCluster()?.server ?? "?"}`)
        .join(", ");
      console.log(`mcp-infra listening on ${server.url} (clusters: ${shown})`);
      await new Promise<void>((done) => {
        process.once("SIGINT", done);
        process.once("SIGTERM", done);
      });
      await server.close();
    });
}
