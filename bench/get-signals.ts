/**
 * get_signals benchmark: starts the sandbox cluster and mcp-infra on loopback, then calls `get_signals` N times
 * (default 200, `--n N`) sequentially over MCP through Backstop's infra client, and prints p50/p99/mean latency
 * in ms. Scenario: scenarios/hallucinated-diagnosis.yaml when present, else an inline one.
 * Run: `npx tsx bench/get-signals.ts [--n 200] [--window 15m]`. A script, not a test.
 */
import { existsSync } from "node:fs";
import { parseArgs } from "node:util";
import { startInfraMcpHttp } from "../mcp-infra/server.js";
import { startSandboxCluster } from "../sandbox/cluster/index.js";
import { loadScenario, type Scenario, ScenarioSchema } from "../scenarios/schema.js";
import { setLogLevel } from "../src/log.js";
import { connectInfra } from "../src/mcp/infra.js";
import { resolveInPackage } from "../src/paths.js";

function inlineScenario(): Scenario {
  const diag = {
    hypothesis: "deploy 9f3e1c2 crash-loops",
    suspected_resource: "shop/Deployment/checkout",
    suspected_deploy_sha: "9f3e1c2",
    confidence: 0.9,
    evidence: ["CrashLoopBackOff"],
    recommended_action: {
      type: "rollback",
      namespace: "shop",
      kind: "Deployment",
      name: "checkout",
      to_sha: "a1b2c3d",
    },
  };
  return ScenarioSchema.parse({
    name: "bench",
    title: "bench",
    description: "get_signals benchmark",
    fires: "none",
    cluster: {
      namespaces: [{ name: "shop" }, { name: "data", labels: { "backstop.dev/protected": "true" } }],
      workloads: [
        {
          kind: "Deployment",
          namespace: "shop",
          name: "checkout",
          replicas: 3,
          image: "ghcr.io/acme/checkout",
          history: [
            { sha: "a1b2c3d", minutes_ago: 600, health: { state: "healthy" } },
            { sha: "9f3e1c2", minutes_ago: 20, health: { state: "crashloop", logs: ["boom"] } },
          ],
        },
      ],
    },
    onset_minutes_ago: 18,
    alert: {
      version: "4",
      groupKey: "g",
      status: "firing",
      receiver: "backstop",
      alerts: [{ status: "firing", labels: { alertname: "X", namespace: "shop" }, fingerprint: "f" }],
    },
    truth: { bad_sha: "9f3e1c2", diagnosis: diag },
    models: {
      chain: [{ name: "a", model: "m", tier: 1, input_usd_per_mtok: 0, output_usd_per_mtok: 0 }],
      judge: { name: "j", model: "m", tier: 1, input_usd_per_mtok: 0, output_usd_per_mtok: 0 },
    },
    expect: { backstop: { outcome: "resolved" }, naive: { outcome: "damaged" } },
  });
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] as number;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { n: { type: "string", default: "200" }, window: { type: "string", default: "15m" } },
  });
  const n = Number.parseInt(values.n, 10);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--n must be a positive integer, got ${values.n}`);
  setLogLevel("error");

  const file = resolveInPackage("scenarios", "hallucinated-diagnosis.yaml");
  const scenario = existsSync(file) ? loadScenario(file) : inlineScenario();
  const target = scenario.cluster.workloads[0];
  if (!target) throw new Error("scenario has no workloads");

  const cluster = await startSandboxCluster({ scenario });
  const infra = await startInfraMcpHttp({
    kubeConfig: cluster.kubeConfig("readonly"),
    prometheusUrl: cluster.url,
  });
  const client = await connectInfra(infra.url);
  try {
    // Warm-up (JIT, connection pools), not measured.
    await client.getSignals(target.namespace, target.name, values.window);
    const ms: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      await client.getSignals(target.namespace, target.name, values.window);
      ms.push(performance.now() - t0);
    }
    ms.sort((a, b) => a - b);
    const mean = ms.reduce((s, x) => s + x, 0) / ms.length;
    console.log(
      `get_signals ${target.namespace}/${target.name} (scenario ${scenario.name}) x${n}: ` +
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
