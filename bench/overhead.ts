/**
 * Benchmark `overhead`: what Backstop's guards cost on top of the model and the cluster.
 * 1. Own time: every scenario in `scenarios/` run by Backstop `--runs` times with the sandbox model and
 *    cluster at zero latency (no scripted model latency, rollouts instant): `timing.own_ms` of each run
 *    (wall − model − Kubernetes API − recovery wait; see `RunTiming`), p50 and p99 per scenario and over
 *    all runs.
 * 2. Guarded vs naive: `clean-signal` with every chain model scripted at `--model-ms` per call (the
 *    judge at 0 and its time subtracted: "judge excluded"), `--pairs` runs of each agent; the ratio of
 *    the medians of Backstop's wall time (minus judge) and the naive agent's wall time.
 *
 * Usage: `npx tsx bench/overhead.ts [--runs 50] [--pairs 5] [--model-ms 2000] [--quick] [--json FILE]`.
 * JSON `result`: `{own_ms_p50, own_ms_p99, guarded_vs_naive}` plus per-scenario detail.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runScenarioAgent } from "../sandbox/harness.js";
import { startSandboxStack } from "../sandbox/stack.js";
import { listScenarioFiles, loadScenario, type Scenario, ScenarioSchema } from "../scenarios/schema.js";
import { setLogLevel } from "../src/log.js";
import { resolveInPackage } from "../src/paths.js";
import { loadSigningKey } from "../src/receipt/index.js";
import { main, parseFlags, pct, round, table, writeResult } from "./lib/common.js";

setLogLevel("silent");

/** The scenario with instant rollouts (the cluster at zero latency). */
function instant(s: Scenario): Scenario {
  return ScenarioSchema.parse({ ...s, cluster: { ...s.cluster, rollout_seconds: 0 } });
}

/** The scenario with every chain model answering after `ms` and the judge at 0. */
function withModelLatency(s: Scenario, ms: number): Scenario {
  return ScenarioSchema.parse({
    ...s,
    models: {
      ...s.models,
      chain: s.models.chain.map((t) => ({ ...t, latency_ms: ms })),
      judge: { ...s.models.judge, latency_ms: 0 },
    },
  });
}

main(async () => {
  const flags = parseFlags(
    "npx tsx bench/overhead.ts [--runs N] [--pairs N] [--model-ms MS] [--quick] [--json FILE]",
    { full: { runs: 50, pairs: 5, "model-ms": 2000 }, quick: { runs: 5, pairs: 1, "model-ms": 2000 } },
  );
  const { runs, pairs } = flags.sizes;
  const modelMs = flags.sizes["model-ms"];
  const scenarios = listScenarioFiles(resolveInPackage("scenarios")).map((f) => instant(loadScenario(f)));
  const dir = mkdtempSync(join(tmpdir(), "backstop-bench-overhead-"));
  const opts = {
    signingKey: loadSigningKey({ path: join(dir, "key.pem"), create: true }),
    receiptsDir: join(dir, "receipts"),
    recoveryTimeoutMs: 30_000,
  };
  const stack = await startSandboxStack({ scenario: scenarios[0]! });
  try {
    // 1. Own time at zero latency.
    const all: number[] = [];
    const rows: (string | number)[][] = [];
    const perScenario: Record<string, { own_ms_p50: number; own_ms_p99: number; wall_ms_p50: number }> = {};
    for (const scenario of scenarios) {
      const own: number[] = [];
      const wall: number[] = [];
      // One warm-up run (module loading, JIT, first connections) is not counted.
      await runScenarioAgent(stack, scenario, "backstop", opts);
      for (let i = 0; i < runs; i++) {
        const { report } = await runScenarioAgent(stack, scenario, "backstop", opts);
        own.push(report.timing.own_ms);
        wall.push(report.timing.wall_ms);
      }
      all.push(...own);
      perScenario[scenario.name] = {
        own_ms_p50: round(pct(own, 50)),
        own_ms_p99: round(pct(own, 99)),
        wall_ms_p50: round(pct(wall, 50)),
      };
      rows.push([scenario.name, runs, round(pct(own, 50)), round(pct(own, 99)), round(pct(wall, 50))]);
    }
    rows.push(["all", all.length, round(pct(all, 50)), round(pct(all, 99)), "-"]);
    console.log(`overhead 1: Backstop's own time per run, sandbox at zero latency (ms)\n`);
    console.log(table(["scenario", "runs", "own p50", "own p99", "wall p50"], rows));

    // 2. Guarded vs naive with scripted model latency, judge excluded.
    const clean = withModelLatency(
      instant(loadScenario(resolveInPackage("scenarios/clean-signal.yaml"))),
      modelMs,
    );
    const guarded: number[] = [];
    const naive: number[] = [];
    for (let i = 0; i < pairs; i++) {
      const n = await runScenarioAgent(stack, clean, "naive", opts);
      naive.push(n.report.timing.wall_ms);
      const g = await runScenarioAgent(stack, clean, "backstop", opts);
      guarded.push(g.report.timing.wall_ms - g.report.timing.judge_ms);
    }
    const ratio = round(pct(guarded, 50) / pct(naive, 50), 3);
    console.log(
      `\noverhead 2: clean-signal, ${modelMs} ms per model call, judge excluded, ${pairs} pair(s)\n`,
    );
    console.log(
      table(
        ["agent", "wall p50 ms"],
        [
          ["naive", round(pct(naive, 50))],
          ["backstop (minus judge)", round(pct(guarded, 50))],
          ["ratio", ratio],
        ],
      ),
    );
    const result = {
      own_ms_p50: round(pct(all, 50)),
      own_ms_p99: round(pct(all, 99)),
      guarded_vs_naive: ratio,
      scenarios: perScenario,
      naive_wall_ms_p50: round(pct(naive, 50)),
      guarded_wall_ms_p50: round(pct(guarded, 50)),
    };
    writeResult(flags.json, "overhead", { runs, pairs, model_ms: modelMs }, result);
  } finally {
    await stack.close();
  }
});
