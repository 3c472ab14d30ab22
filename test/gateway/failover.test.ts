import { afterAll, afterEach, describe, expect, it } from "vitest";
import { type SandboxModelProvider, startSandboxModelProvider } from "../../sandbox/model/provider.js";
import { isBackstopError } from "../../src/errors.js";
import {
  MemoryBudgetStore,
  ModelRouter,
  type ModelTarget,
  type RouterEvent,
  type RouterOptions,
} from "../../src/gateway/index.js";
import { RedisBudgetStore } from "../../src/gateway/redis-store.js";
import { setLogLevel } from "../../src/log.js";
import { loadWorld } from "../fixtures/worlds.js";
import { dropPrefix, REDIS, uniquePrefix } from "../queue/redis-helpers.js";

setLogLevel("silent");
let provider: SandboxModelProvider | undefined;
afterEach(async () => {
  await provider?.close();
  provider = undefined;
});

const prefix = uniquePrefix("failover");
const redisStores: RedisBudgetStore[] = [];
afterAll(async () => {
  for (const s of redisStores) await s.close();
  await dropPrefix(prefix);
});

const tgt = (name: string, tier: number, latency_ms = 0) => ({
  name,
  model: name,
  tier,
  input_usd_per_mtok: 1,
  output_usd_per_mtok: 2,
  latency_ms,
});

async function start(models: Record<string, unknown>, virtualModels?: Record<string, string[]>) {
  provider = await startSandboxModelProvider({ scenario: loadWorld("models", { models }), virtualModels });
  return provider;
}

function target(p: SandboxModelProvider, name: string, tier: number, extra: Partial<ModelTarget> = {}) {
  return {
    name,
    baseURL: p.url,
    model: name,
    apiKey: `sk-${name}`,
    tier,
    inputUsdPerMTok: 1,
    outputUsdPerMTok: 2,
    timeoutMs: 5000,
    ...extra,
  } satisfies ModelTarget;
}

function router(p: SandboxModelProvider, targets: ModelTarget[], opts: Partial<RouterOptions> = {}) {
  return new ModelRouter({
    mode: "chain",
    targets,
    judge: target(p, "judge-mini", 1),
    dailyBudgetUsd: 10,
    // Long waits: a test that waited on them would time out, so passing proves nobody waited.
    backoffBaseMs: 20_000,
    maxRetryAfterMs: 60_000,
    ...opts,
  });
}

const run = (r: ModelRouter, runId: string, events: RouterEvent[] = []) =>
  r.complete({
    purpose: "diagnose",
    runId,
    messages: [{ role: "user", content: "diagnose shop/checkout" }],
    onEvent: (e) => {
      events.push(e);
    },
  });
const calls = (events: RouterEvent[]) => events.flatMap((e) => (e.type === "model.call" ? [e.data] : []));
const fallbacks = (events: RouterEvent[]) =>
  events.flatMap((e) => (e.type === "model.fallback" ? [e.data] : []));

describe("fail over, don't wait", () => {
  it("moves to the fallback at once on a 429 and cools the primary down for its Retry-After", async () => {
    const p = await start({
      chain: [tgt("model-a", 1), tgt("model-b", 2)],
      script: { "model-a": { diagnose: [{ status: 429, retry_after_s: 120 }] } },
    });
    const now = Date.parse("2030-01-01T00:00:00Z");
    const store = new MemoryBudgetStore();
    // The breaker would cool down for only 1 s; Retry-After asks for 120 s, which wins.
    const r = router(p, [target(p, "model-a", 1), target(p, "model-b", 2)], {
      now: () => now,
      store,
      cooldownMs: 1000,
    });
    const events: RouterEvent[] = [];
    const res = await run(r, "ra-1", events);
    expect(res.target.name).toBe("model-b");
    expect(p.requests().map((x) => [x.model, x.response_status])).toEqual([
      ["model-a", 429],
      ["model-b", 200],
    ]);
    expect(await store.cooldownUntil("model-a")).toBe(now + 120_000);
    expect(fallbacks(events)[0]).toMatchObject({
      from: "model-a",
      reason: "http_429",
      cooldown_until: new Date(now + 120_000).toISOString(),
    });
  });

  it("cools down for Retry-After even when the breaker has not opened (threshold > 1)", async () => {
    const p = await start({
      chain: [tgt("model-a", 1), tgt("model-b", 1)],
      script: { "model-a": { diagnose: [{ status: 503, retry_after_s: 30 }] } },
    });
    const now = Date.parse("2030-01-01T00:00:00Z");
    const store = new MemoryBudgetStore();
    const r = router(p, [target(p, "model-a", 1), target(p, "model-b", 1)], {
      now: () => now,
      store,
      breakerThreshold: 5,
    });
    expect((await run(r, "ra-2")).target.name).toBe("model-b");
    expect(await store.cooldownUntil("model-a")).toBe(now + 30_000);
    // the next run skips model-a without a request
    const before = p.requests().length;
    const ev: RouterEvent[] = [];
    expect((await run(r, "ra-3", ev)).target.name).toBe("model-b");
    expect(fallbacks(ev)[0]).toMatchObject({ from: "model-a", reason: "cooldown" });
    expect(
      p
        .requests()
        .slice(before)
        .map((x) => x.model),
    ).toEqual(["model-b"]);
  });

  it("retries the same target when every later target is cooled down (it is the last available)", async () => {
    const p = await start({
      chain: [tgt("model-a", 1), tgt("model-b", 1)],
      script: { "model-a": { diagnose: [{ status: 503 }] } },
    });
    const store = new MemoryBudgetStore();
    await store.setCooldown("model-b", Date.now() + 60_000);
    const r = router(p, [target(p, "model-a", 1), target(p, "model-b", 1)], { store, backoffBaseMs: 1 });
    const events: RouterEvent[] = [];
    const res = await run(r, "last-1", events);
    expect(res.target.name).toBe("model-a");
    expect(calls(events).map((c) => [c.target, c.attempt, c.status])).toEqual([
      ["model-a", 1, 503],
      ["model-a", 2, 200],
    ]);
    expect(calls(events)[1]?.route?.why).toMatch(/^retry 1 on the last available target/);
  });

  it("a hung primary costs its timeout once, then nothing while it cools down", async () => {
    const p = await start({
      chain: [tgt("model-a", 1), tgt("model-b", 1)],
      script: { "model-a": { diagnose: [{ delay_ms: 4000 }, { delay_ms: 4000 }, { delay_ms: 4000 }] } },
    });
    const r = router(p, [target(p, "model-a", 1, { timeoutMs: 150 }), target(p, "model-b", 1)], {
      store: new MemoryBudgetStore(),
    });
    const ev1: RouterEvent[] = [];
    expect((await run(r, "hang-1", ev1)).target.name).toBe("model-b");
    expect(calls(ev1).map((c) => [c.target, c.status])).toEqual([
      ["model-a", null],
      ["model-b", 200],
    ]);
    expect(fallbacks(ev1)[0]).toMatchObject({ from: "model-a", reason: "timeout" });
    const before = p.requests().length;
    const ev2: RouterEvent[] = [];
    expect((await run(r, "hang-2", ev2)).target.name).toBe("model-b");
    expect(
      p
        .requests()
        .slice(before)
        .map((x) => x.model),
    ).toEqual(["model-b"]);
  });

  it("virtual mode: a 429 from the virtual model moves to the next target at once", async () => {
    const p = await start(
      {
        chain: [tgt("model-a", 1), tgt("model-b", 1), tgt("model-strong", 2)],
        script: {
          "model-a": { diagnose: [{ status: 429, retry_after_s: 60 }] },
          "model-b": { diagnose: [{ status: 429, retry_after_s: 60 }] },
        },
      },
      { "backstop-virtual": ["model-a", "model-b"] },
    );
    const store = new MemoryBudgetStore();
    const r = router(
      p,
      [target(p, "virtual", 1, { model: "backstop-virtual" }), target(p, "model-strong", 2)],
      {
        mode: "virtual",
        store,
      },
    );
    const events: RouterEvent[] = [];
    const res = await run(r, "virt-429", events);
    expect(res.target.name).toBe("model-strong");
    expect(p.requests().map((x) => [x.model, x.response_status])).toEqual([
      ["backstop-virtual", 429],
      ["model-strong", 200],
    ]);
    expect((await store.cooldownUntil("virtual")) ?? 0).toBeGreaterThanOrEqual(Date.now() + 50_000);
  });
});

describe("latency routing", () => {
  it("sends calls within a tier to the target with the lower recent latency, and says why", async () => {
    const p = await start({ chain: [tgt("slow", 1, 400), tgt("fast", 1, 20), tgt("model-strong", 2)] });
    const store = new MemoryBudgetStore();
    const targets = [target(p, "slow", 1), target(p, "fast", 1), target(p, "model-strong", 2)];
    const r = router(p, targets, { store });
    const chosen: string[] = [];
    const routes: (string | undefined)[] = [];
    for (let i = 0; i < 6; i++) {
      const events: RouterEvent[] = [];
      chosen.push((await run(r, `lat-${i}`, events)).target.name);
      routes.push(calls(events)[0]?.route?.why);
    }
    // 1st: neither measured, config order; 2nd: fast is unmeasured so it gets measured; then fast wins.
    expect(chosen).toEqual(["slow", "fast", "fast", "fast", "fast", "fast"]);
    expect(routes[1]).toMatch(/no recent latency sample/);
    expect(routes[5]).toMatch(/^tier 1: recent latency \d+ ms \(EWMA\), rank 1 of 2 \(slow \d+ ms\)/);
    const [slow, fast] = await store.latencies(["slow", "fast"]);
    expect(slow).toBeGreaterThan(fast ?? Number.POSITIVE_INFINITY);
    // never across tiers: the stronger tier stays last whatever its latency
    expect(chosen).not.toContain("model-strong");
  });

  it("shares the averages through Redis: a second worker routes by the first one's samples", async () => {
    const p = await start({ chain: [tgt("slow", 1, 300), tgt("fast", 1, 10)] });
    const w1 = new RedisBudgetStore({ connection: REDIS, prefix: `${prefix}:shared` });
    const w2 = new RedisBudgetStore({ connection: REDIS, prefix: `${prefix}:shared` });
    redisStores.push(w1, w2);
    const targets = [target(p, "slow", 1), target(p, "fast", 1)];
    const r1 = router(p, targets, { store: w1 });
    expect((await run(r1, "w1-a")).target.name).toBe("slow");
    expect((await run(r1, "w1-b")).target.name).toBe("fast");
    const r2 = router(p, targets, { store: w2 });
    const events: RouterEvent[] = [];
    expect((await run(r2, "w2-a", events)).target.name).toBe("fast");
    expect(calls(events)[0]?.route?.ewma_ms).toBeGreaterThanOrEqual(0);
  });

  it("keeps the answer when the store cannot record a latency sample (latency only orders targets)", async () => {
    const p = await start({ chain: [tgt("model-a", 1)] });
    class FlakyStore extends MemoryBudgetStore {
      override async recordLatency(): Promise<number> {
        throw new Error("store down");
      }
    }
    const res = await run(router(p, [target(p, "model-a", 1)], { store: new FlakyStore() }), "flaky-1");
    expect(res.target.name).toBe("model-a");
  });

  it("keeps the configured order with latencyRouting: false, and rejects a bad alpha", async () => {
    const p = await start({ chain: [tgt("slow", 1, 100), tgt("fast", 1, 0)] });
    const r = router(p, [target(p, "slow", 1), target(p, "fast", 1)], { latencyRouting: false });
    expect((await run(r, "cfg-1")).target.name).toBe("slow");
    expect((await run(r, "cfg-2")).target.name).toBe("slow");
    expect(() => router(p, [target(p, "slow", 1)], { latencyAlpha: 0 })).toThrow(/latencyAlpha/);
    expect(() => router(p, [target(p, "slow", 1)], { latencyAlpha: 1.5 })).toThrow(/latencyAlpha/);
  });
});

describe("latency averages in the budget stores", () => {
  it("folds samples as an EWMA, the same in memory and in Redis, and refuses bad samples", async () => {
    const mem = new MemoryBudgetStore();
    const red = new RedisBudgetStore({ connection: REDIS, prefix: `${prefix}:ewma` });
    redisStores.push(red);
    for (const s of [mem, red]) {
      expect(await s.latencies(["t", "u"])).toEqual([null, null]);
      expect(await s.recordLatency("t", 1000, 0.5)).toBe(1000);
      expect(await s.recordLatency("t", 200, 0.5)).toBeCloseTo(600, 9);
      expect(await s.recordLatency("t", 0, 0.25)).toBeCloseTo(450, 9);
      const [t, u] = await s.latencies(["t", "u"]);
      expect(t).toBeCloseTo(450, 9);
      expect(u).toBeNull();
      for (const [ms, a] of [
        [-1, 0.5],
        [Number.NaN, 0.5],
        [Number.POSITIVE_INFINITY, 0.5],
        [10, 0],
        [10, 2],
      ] as const) {
        await expect(s.recordLatency("t", ms, a)).rejects.toSatisfy((e) =>
          isBackstopError(e, "input.invalid_latency"),
        );
      }
    }
    expect(await red.latencies([])).toEqual([]);
  });
});
