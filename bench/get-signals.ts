/**
 * get_signals benchmark: starts the sandbox cluster and mcp-infra on loopback, then calls `get_signals` N times
 * (default 200, `--n N`) sequentially over MCP through Backstop's infra client, and prints p50/p99/mean latency
 * in ms, for the workload the scenario's alert names (default scenarios/hallucinated-diagnosis.yaml).
 * Run: `npx tsx bench/get-signals.ts [--n 200] [--window 15m] [--scenario FILE]`. A script, not a test.
 */
import { parseArgs } from "node:util";
import { startInfraMcpHttp } from "../mcp-infra/server.js";
import { startSandboxCluster } from "../sandbox/cluster/index.js";
import { loadScenario } from "../scenarios/schema.js";
import { setLogLevel } from "../src/log.js";
import { connectInfra } from "../src/mcp/infra.js";
import { resolveInPackage } from "../src/paths.js";
import { targetFromWebhook } from "../src/pipeline/target.js";

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] as number;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      n: { type: "string", default: "200" },
      window: { type: "string", default: "15m" },
      scenario: { type: "string", default: resolveInPackage("scenarios", "hallucinated-diagnosis.yaml") },
    },
  });
  const n = Number.parseInt(values.n, 10);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--n must be a positive integer, got ${values.n}`);
  setLogLevel("error");

  const scenario = loadScenario(values.scenario);
  const { target } = targetFromWebhook(scenario.alert);

  const cluster = await startSandboxCluster({ scenario });
  const infra = await startInfraMcpHttp({
    kubeConfig: cluster.kubeConfig("readonly"),
    prometheusUrl: cluster.url,
  });
  const client = await connectInfra(infra.url);
  try {
    // Warm-up (JIT, connection pools), not measured.
    await client.getSignals(target.namespace, target.workload, values.window);
    const ms: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      await client.getSignals(target.namespace, target.workload, values.window);
      ms.push(performance.now() - t0);
    }
    ms.sort((a, b) => a - b);
    const mean = ms.reduce((s, x) => s + x, 0) / ms.length;
    console.log(
      `get_signals ${target.namespace}/${target.workload} (scenario ${scenario.name}) x${n}: ` +
        `p50 ${percentile(ms, 50).toFixed(1)} ms, p99 ${percentile(ms, 99).toFixed(1)} ms, mean ${mean.toFixed(1)} ms`,
    );
  } finally {
    await client.close();
    await infra.close();
    await cluster.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
