import { KubeConfig } from "@kubernetes/client-node";
import type { Command } from "commander";
import { startInfraMcpHttp } from "../../mcp-infra/index.js";
import { loadConfig } from "../config.js";

/**
 * `backstop mcp-infra [--host H] [--port P]`: serves the read-only infra MCP server over streamable
 * HTTP with the cluster credential client-node finds (KUBECONFIG, ~/.kube/config or the in-cluster
 * service account) and `BACKSTOP_PROMETHEUS_URL` when set. Runs until SIGINT/SIGTERM.
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
      const kubeConfig = new KubeConfig();
      kubeConfig.loadFromDefault();
      const server = await startInfraMcpHttp({
        kubeConfig,
        host: opts.host,
        port: Number(opts.port),
        ...(config.prometheusUrl ? { prometheusUrl: config.prometheusUrl } : {}),
      });
      console.log(
        `mcp-infra listening on ${server.url} (cluster ${kubeConfig.getCurrentCluster()?.server ?? "?"})`,
      );
      await new Promise<void>((done) => {
        process.once("SIGINT", done);
        process.once("SIGTERM", done);
      });
      await server.close();
    });
}
