/**
 * Benchmark `failover`: what a failing model costs before the fallback answers, against the sandbox
 * model provider (real HTTP, the real router). Two targets: the primary (tier 1) and the fallback
 * (tier 2); each repetition is a fresh router and budget store, so the primary is not yet cooled down.
 * - `added_ms.<case>`: median over `--reps` of (the `complete()` wall time − the fallback call's own
 *   latency), i.e. the time spent before the fallback call started, when the primary answers 429 (with
 *   `Retry-After: 1`), 503, hangs past its `--timeout` (ms), or returns malformed JSON.
 * - `cooled_ms`: the same for later calls once the primary is cooled down (it hung once): what a
 *   cooled-down primary costs each later run (median over `--reps` calls sharing one store).
 * - `latency_routed_share`: two same-tier targets scripted at 2000 ms and 200 ms (the slow one first in
 *   the configuration), `--calls` calls through one store: the share answered by the fast one.
 *
 * Usage: `npx tsx bench/failover.ts [--reps 20] [--timeout 1000] [--calls 10] [--quick] [--json FILE]`.
 * JSON `result`: `{added_ms: {http_429, http_503, timeout, malformed}, cooled_ms, latency_routed_share}`.
 */
import { type SandboxModelProvider, startSandboxModelProvider } from "../sandbox/model/provider.js";
import { loadScenario, type Scenario, ScenarioSchema } from "../scenarios/schema.js";
import {
  type BudgetStore,
  MemoryBudgetStore,
  ModelRouter,
  type ModelTarget,
  type RouterEvent,
} from "../src/gateway/index.js";
import { setLogLevel } from "../src/log.js";
import { resolveInPackage } from "../src/paths.js";
import { main, parseFlags, pct, round, table, writeResult } from "./lib/common.js";

setLogLevel("silent");

/** clean-signal with its model section replaced: `primary`, `fallback`, `slow`, `fast` and a judge. */
function benchScenario(timeoutMs: number): Scenario {
  const base = loadScenario(resolveInPackage("scenarios/clean-signal.yaml"));
  const t = (name: string, tier: number, latency_ms = 0, timeout_ms = 20_000) => ({
    name,
    model: name,
    tier,
    input_usd_per_mtok: 1,
    output_usd_per_mtok: 2,
    latency_ms,
    timeout_ms,
  });
  const fail = (step: Record<string, unknown>) => ({ diagnose: [step] });
  return ScenarioSchema.parse({
    ...base,
    models: {
      chain: [
        t("ok", 1),
        t("p-429", 1),
        t("p-503", 1),
        t("p-hang", 1, 0, timeoutMs),
        t("p-malformed", 1),
        t("fallback", 2),
        t("slow", 1, 2000),
        t("fast", 1, 200),
      ],
      judge: t("judge", 1),
      script: {
        "p-429": fail({ status: 429, retry_after_s: 1 }),
        "p-503": fail({ status: 503 }),
        "p-hang": { diagnose: Array.from({ length: 1000 }, () => ({ delay_ms: timeoutMs * 4 })) },
        "p-malformed": fail({ reply: "truth", format: "garbage" }),
      },
    },
  });
}

function target(p: SandboxModelProvider, name: string, tier: number, timeoutMs = 20_000): ModelTarget {
  return {
    name,
    baseURL: p.url,
    model: name,
    apiKey: "sk-bench",
    tier,
    inputUsdPerMTok: 1,
    outputUsdPerMTok: 2,
    timeoutMs,
  };
}

let runSeq = 0;
/** One diagnose call; returns its wall time, the answering target and the answering call's latency. */
async function call(r: ModelRouter): Promise<{ wall: number; target: string; answerMs: number }> {
  const events: RouterEvent[] = [];
  const t0 = performance.now();
  const res = await r.complete({
    purpose: "diagnose",
    runId: `bench-failover-${process.pid}-${runSeq++}`,
    messages: [{ role: "user", content: "diagnose shop/catalog" }],
    validate: (text) => {
      try {
        JSON.parse(text.replace(/^```json\n?|```$/g, ""));
        return { ok: true };
      } catch (e) {
        return { ok: false, error: (e as Error).message };
      }
    },
    onEvent: (e) => {
      events.push(e);
    },
  });
  const wall = performance.now() - t0;
  const last = events.filter((e) => e.type === "model.call").at(-1);
  const answerMs = last?.type === "model.call" ? last.data.latency_ms : 0;
  return { wall, target: res.target.name, answerMs };
}

main(async () => {
  const flags = parseFlags(
    "npx tsx bench/failover.ts [--reps N] [--timeout MS] [--calls N] [--quick] [--json FILE]",
    { full: { reps: 20, timeout: 1000, calls: 10 }, quick: { reps: 5, timeout: 300, calls: 10 } },
  );
  const { reps, timeout, calls } = flags.sizes;
  const provider = await startSandboxModelProvider({ scenario: benchScenario(timeout) });
  try {
    const router = (primary: string, store: BudgetStore, primaryTimeout = 20_000) =>
      new ModelRouter({
        mode: "chain",
        targets: [target(provider, primary, 1, primaryTimeout), target(provider, "fallback", 2)],
        judge: target(provider, "judge", 1),
        dailyBudgetUsd: 1000,
        store,
      });

    // Baseline: a healthy primary, to subtract nothing but show the floor of a call.
    const base: number[] = [];
    for (let i = 0; i < reps; i++) {
      const c = await call(router("ok", new MemoryBudgetStore()));
      base.push(c.wall - c.answerMs);
    }
    const added: Record<string, number> = {};
    const rows: (string | number)[][] = [
      ["healthy primary (floor)", round(pct(base, 50)), round(pct(base, 99))],
    ];
    for (const [key, primary, t] of [
      ["http_429", "p-429", 20_000],
      ["http_503", "p-503", 20_000],
      ["timeout", "p-hang", timeout],
      ["malformed", "p-malformed", 20_000],
    ] as const) {
      const xs: number[] = [];
      for (let i = 0; i < reps; i++) {
        const c = await call(router(primary, new MemoryBudgetStore(), t));
        if (c.target !== "fallback")
          throw new Error(`${key}: expected the fallback to answer, got ${c.target}`);
        xs.push(c.wall - c.answerMs);
      }
      added[key] = round(pct(xs, 50));
      rows.push([`primary ${key}`, round(pct(xs, 50)), round(pct(xs, 99))]);
    }

    // A hung primary cools down once; later calls pay only the store lookup.
    const shared = new MemoryBudgetStore();
    await call(router("p-hang", shared, timeout));
    const cooled: number[] = [];
    for (let i = 0; i < reps; i++) {
      const c = await call(router("p-hang", shared, timeout));
      if (c.target !== "fallback") throw new Error(`cooled: expected the fallback, got ${c.target}`);
      cooled.push(c.wall - c.answerMs);
    }
    rows.push(["primary cooled down (later runs)", round(pct(cooled, 50)), round(pct(cooled, 99))]);

    // Latency routing: slow (2 s) first in the configuration, fast (200 ms) second, one shared store.
    const lat = new MemoryBudgetStore();
    const lr = new ModelRouter({
      mode: "chain",
      targets: [target(provider, "slow", 1), target(provider, "fast", 1)],
      judge: target(provider, "judge", 1),
      dailyBudgetUsd: 1000,
      store: lat,
    });
    let fast = 0;
    for (let i = 0; i < calls; i++) if ((await call(lr)).target === "fast") fast += 1;
    const share = round(fast / calls, 3);

    const result = { added_ms: added, cooled_ms: round(pct(cooled, 50)), latency_routed_share: share };
    console.log(
      `failover: time before the fallback call starts (ms), ${reps} reps, primary timeout ${timeout} ms\n`,
    );
    console.log(table(["case", "p50 ms", "p99 ms"], rows));
    console.log(`\nlatency routing: ${fast}/${calls} calls went to the 200 ms target (share ${share})`);
    writeResult(flags.json, "failover", { reps, timeout_ms: timeout, calls }, result);
  } finally {
    await provider.close();
  }
});
