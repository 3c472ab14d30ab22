import { afterEach, describe, expect, it } from "vitest";
import { type SandboxModelProvider, startSandboxModelProvider } from "../../sandbox/model/provider.js";
import type { Scenario } from "../../scenarios/schema.js";
import { DiagnosisSchema } from "../../src/contracts/diagnosis.js";
import { isBackstopError } from "../../src/errors.js";
import {
  type CompletionRequest,
  costUsd,
  MemoryBudgetStore,
  ModelRouter,
  type ModelTarget,
  type RouterEvent,
  type RouterOptions,
  retryDelayMs,
} from "../../src/gateway/index.js";
import { setLogLevel } from "../../src/log.js";
import { loadWorld } from "../fixtures/worlds.js";

setLogLevel("silent");
let provider: SandboxModelProvider | undefined;
afterEach(async () => {
  await provider?.close();
  provider = undefined;
});

async function start(models: Record<string, unknown> = {}, virtualModels?: Record<string, string[]>) {
  const scenario: Scenario = loadWorld("models", { models });
  provider = await startSandboxModelProvider({ scenario, virtualModels });
  return provider;
}

function target(
  p: SandboxModelProvider,
  name: string,
  tier: number,
  extra: Partial<ModelTarget> = {},
): ModelTarget {
  return {
    name,
    baseURL: p.url,
    model: name,
    apiKey: `sk-${name}`,
    tier,
    inputUsdPerMTok: 1,
    outputUsdPerMTok: 2,
    timeoutMs: 2000,
    ...extra,
  };
}

function router(p: SandboxModelProvider, opts: Partial<RouterOptions> = {}): ModelRouter {
  return new ModelRouter({
    mode: "chain",
    targets: [target(p, "model-a", 1), target(p, "model-b", 1), target(p, "model-strong", 2)],
    judge: target(p, "judge-mini", 1),
    dailyBudgetUsd: 10,
    backoffBaseMs: 1,
    maxRetryAfterMs: 50,
    ...opts,
  });
}

const validDiagnosis = (text: string) => {
  try {
    const r = DiagnosisSchema.safeParse(JSON.parse(text));
    return r.success ? ({ ok: true } as const) : ({ ok: false, error: r.error.message } as const);
  } catch (e) {
    return { ok: false, error: (e as Error).message } as const;
  }
};

function request(
  runId: string,
  events: RouterEvent[],
  extra: Partial<CompletionRequest> = {},
): CompletionRequest {
  return {
    purpose: "diagnose",
    runId,
    messages: [{ role: "user", content: "diagnose shop/checkout" }],
    validate: validDiagnosis,
    onEvent: (e) => {
      events.push(e);
    },
    ...extra,
  };
}

const fallbacks = (events: RouterEvent[]) =>
  events.flatMap((e) => (e.type === "model.fallback" ? [e.data] : []));
const calls = (events: RouterEvent[]) => events.flatMap((e) => (e.type === "model.call" ? [e.data] : []));

describe("ModelRouter against the sandbox provider", () => {
  it("falls back on 429, 503, 401 and records each failure", async () => {
    const p = await start({
      script: {
        "model-a": { diagnose: [{ status: 401 }] },
        "model-b": { diagnose: [{ status: 429 }, { status: 429 }, { status: 429 }] },
      },
    });
    const events: RouterEvent[] = [];
    const res = await router(p).complete(request("r-fb", events));
    expect(res.target.name).toBe("model-strong");
    expect(res.servedModel).toBe("model-strong");
    // 401 is not retried; the 429 is not retried either: model-strong is available, so it fails over at once
    expect(res.attempts).toBe(1 + 1 + 1);
    expect(fallbacks(events).map((f) => [f.from, f.to, f.reason, f.status])).toEqual([
      ["model-a", "model-b", "http_401", 401],
      ["model-b", "model-strong", "http_429", 429],
    ]);
    const c = calls(events);
    expect(c.map((x) => [x.target, x.attempt, x.ok, x.status])).toEqual([
      ["model-a", 1, false, 401],
      ["model-b", 1, false, 429],
      ["model-strong", 1, true, 200],
    ]);
    expect(c[2]?.route?.why).toMatch(/^after model-b \(http_429\) failed; tier 2/);
    expect(p.requests().map((r) => r.model)).toEqual(["model-a", "model-b", "model-strong"]);
  });

  it("retries a 503 on the last available target and succeeds there", async () => {
    const p = await start({ script: { "model-a": { diagnose: [{ status: 503 }] } } });
    const events: RouterEvent[] = [];
    const res = await router(p, { targets: [target(p, "model-a", 1)] }).complete(request("r-503", events));
    expect(res.target.name).toBe("model-a");
    expect(res.attempts).toBe(2);
    expect(fallbacks(events)).toHaveLength(0);
    expect(calls(events).map((c) => c.status)).toEqual([503, 200]);
  });

  it("honours Retry-After on 429 (the retry reaches the provider)", async () => {
    const p = await start({ script: { "model-a": { diagnose: [{ status: 429, retry_after_s: 0.02 }] } } });
    const events: RouterEvent[] = [];
    const res = await router(p, { maxRetryAfterMs: 10_000, targets: [target(p, "model-a", 1)] }).complete(
      request("r-ra", events),
    );
    expect(res.target.name).toBe("model-a");
    expect(p.requests().map((r) => [r.model, r.response_status])).toEqual([
      ["model-a", 429],
      ["model-a", 200],
    ]);
  });

  it("falls back on a timeout", async () => {
    const p = await start({ script: { "model-a": { diagnose: [{ delay_ms: 3000 }] } } });
    const events: RouterEvent[] = [];
    const r = router(p, {
      maxRetries: 0,
      targets: [target(p, "model-a", 1, { timeoutMs: 100 }), target(p, "model-b", 1)],
    });
    const res = await r.complete(request("r-to", events));
    expect(res.target.name).toBe("model-b");
    expect(fallbacks(events)[0]).toMatchObject({
      from: "model-a",
      to: "model-b",
      reason: "timeout",
      status: null,
    });
    expect(calls(events)[0]).toMatchObject({ target: "model-a", ok: false, status: null });
  });

  it("falls back on a reply the caller's validate rejects, with no retry on that target", async () => {
    const p = await start({
      script: { "model-a": { diagnose: [{ reply: "truth", format: "garbage" }] } },
    });
    const events: RouterEvent[] = [];
    const res = await router(p).complete(request("r-inv", events));
    expect(res.target.name).toBe("model-b");
    expect(JSON.parse(res.text)).toMatchObject({ suspected_deploy_sha: "9f8e7d6" });
    expect(fallbacks(events)[0]).toMatchObject({ from: "model-a", reason: "invalid_reply", status: 200 });
    const first = calls(events)[0];
    expect(first).toMatchObject({ ok: false, status: 200 });
    expect(first?.error).toMatch(/^invalid reply/);
    expect(first?.tokens.output).toBeGreaterThan(0); // the tokens were still spent
  });

  it("throws gateway.exhausted with per-target reasons when every target fails", async () => {
    const fail = { diagnose: [{ status: 404 }] };
    const p = await start({ script: { "model-a": fail, "model-b": fail, "model-strong": fail } });
    const events: RouterEvent[] = [];
    const err = await router(p)
      .complete(request("r-ex", events))
      .catch((e: unknown) => e);
    expect(isBackstopError(err, "gateway.exhausted")).toBe(true);
    const failures = (err as { details: { failures: { target: string; reason: string }[] } }).details
      .failures;
    expect(failures.map((f) => `${f.target}:${f.reason}`)).toEqual([
      "model-a:http_404",
      "model-b:http_404",
      "model-strong:http_404",
    ]);
    expect(fallbacks(events).at(-1)?.to).toBeNull();
  });

  it("cools a failing target down, skips it on the next call, and uses it again after the cooldown", async () => {
    const p = await start({
      script: { "model-a": { diagnose: [{ status: 500 }] } },
    });
    let now = Date.parse("2025-06-01T10:00:00Z");
    const store = new MemoryBudgetStore();
    const r = router(p, { now: () => now, store, cooldownMs: 60_000 });
    const ev1: RouterEvent[] = [];
    expect((await r.complete(request("run-1", ev1))).target.name).toBe("model-b");
    expect(fallbacks(ev1)[0]?.cooldown_until).toBe("2025-06-01T10:01:00.000Z");
    expect(await store.cooldownUntil("model-a")).toBe(now + 60_000);

    // the next run (another router sharing the store) skips model-a without calling it
    const before = p.requests().length;
    const ev2: RouterEvent[] = [];
    const r2 = router(p, { now: () => now, store, cooldownMs: 60_000 });
    expect((await r2.complete(request("run-2", ev2))).target.name).toBe("model-b");
    expect(fallbacks(ev2)[0]).toMatchObject({ from: "model-a", reason: "cooldown" });
    expect(
      p
        .requests()
        .slice(before)
        .map((x) => x.model),
    ).toEqual(["model-b"]);

    now += 61_000;
    const ev3: RouterEvent[] = [];
    // same run id: model-a's script for run-1 is used up, so it answers (the default, truth)
    expect((await r.complete(request("run-1", ev3))).target.name).toBe("model-a");
    expect(fallbacks(ev3)).toHaveLength(0);
    expect(await store.cooldownUntil("model-a")).toBeNull();
  });

  it("tries only targets with tier >= minTier", async () => {
    const p = await start();
    const events: RouterEvent[] = [];
    const r = router(p);
    expect(r.maxTier()).toBe(2);
    const res = await r.complete(request("r-tier", events, { minTier: 2 }));
    expect(res.target.name).toBe("model-strong");
    expect(calls(events).map((c) => c.tier)).toEqual([2]);
    const err = await r.complete(request("r-tier", [], { minTier: 3 })).catch((e: unknown) => e);
    expect(isBackstopError(err, "gateway.no_targets")).toBe(true);
  });

  it("throws gateway.budget_exhausted and makes no call when the day's budget is spent", async () => {
    const p = await start();
    const now = Date.parse("2025-06-01T23:00:00Z");
    const store = new MemoryBudgetStore();
    await store.addSpend("2025-06-01", 0.5);
    const r = router(p, { dailyBudgetUsd: 0.5, store, now: () => now });
    const err = await r.complete(request("r-budget", [])).catch((e: unknown) => e);
    expect(isBackstopError(err, "gateway.budget_exhausted")).toBe(true);
    expect(p.requests()).toHaveLength(0);
    // the next UTC day has a fresh budget
    const tomorrow = router(p, { dailyBudgetUsd: 0.5, store, now: () => now + 2 * 3_600_000 });
    expect((await tomorrow.complete(request("r-budget", []))).target.name).toBe("model-a");
  });

  it("skips a target over its rpm limit as a rate_limited fallback", async () => {
    const p = await start();
    const now = Date.parse("2025-06-01T10:00:00Z");
    const r = router(p, {
      now: () => now,
      latencyRouting: false,
      targets: [target(p, "model-a", 1, { rpm: 1 }), target(p, "model-b", 1)],
    });
    expect((await r.complete(request("rpm-1", []))).target.name).toBe("model-a");
    const events: RouterEvent[] = [];
    expect((await r.complete(request("rpm-2", events))).target.name).toBe("model-b");
    expect(fallbacks(events)[0]).toMatchObject({
      from: "model-a",
      to: "model-b",
      reason: "rate_limited",
      status: null,
    });
    expect(p.requests().map((x) => x.model)).toEqual(["model-a", "model-b"]);
  });

  it("reads the served model from x-tfy-resolved-model in virtual mode", async () => {
    const p = await start(
      { script: { "model-a": { diagnose: [{ status: 503 }] } } },
      { "backstop-virtual": ["model-a", "model-b"] },
    );
    const events: RouterEvent[] = [];
    const r = new ModelRouter({
      mode: "virtual",
      targets: [
        target(p, "virtual", 1, { model: "backstop-virtual" }),
        target(p, "model-b", 1, { inputUsdPerMTok: 3, outputUsdPerMTok: 5 }),
      ],
      judge: target(p, "judge-mini", 1),
      dailyBudgetUsd: 10,
    });
    const res = await r.complete(request("r-virt", events));
    expect(res.target.name).toBe("virtual");
    expect(res.servedModel).toBe("model-b");
    expect(calls(events)).toHaveLength(1);
    expect(calls(events)[0]).toMatchObject({ model: "backstop-virtual", served_model: "model-b", ok: true });
    // priced as the model that served
    expect(res.costUsd).toBeCloseTo((res.usage.input * 3 + res.usage.output * 5) / 1e6, 12);
    expect(p.requests().map((x) => x.model)).toEqual(["backstop-virtual"]);
  });

  it("sends X-TFY-LOGGING-CONFIG and X-TFY-METADATA, and computes cost from usage and prices", async () => {
    const p = await start({
      script: {
        "model-a": { diagnose: [{ reply: "truth", usage: { prompt_tokens: 1000, completion_tokens: 500 } }] },
      },
    });
    const events: RouterEvent[] = [];
    const prompt = { name: "diagnosis", version: "3", sha256: "ab".repeat(32) };
    const res = await router(p, { loggingConfig: '{"enabled":false}' }).complete(
      request("r-hdr", events, { metadata: { scenario: "model-test" }, prompt }),
    );
    const seen = p.requests()[0];
    expect(seen?.headers["x-tfy-logging-config"]).toBe('{"enabled":false}');
    expect(JSON.parse(seen?.headers["x-tfy-metadata"] ?? "")).toEqual({
      scenario: "model-test",
      run_id: "r-hdr",
      purpose: "diagnose",
    });
    expect(seen?.headers.authorization).not.toContain("sk-model-a");
    expect(res.usage).toEqual({ input: 1000, output: 500 });
    expect(res.costUsd).toBeCloseTo(0.002, 12); // 1000 × $1/M + 500 × $2/M
    expect(calls(events)[0]).toMatchObject({
      cost_usd: res.costUsd,
      tokens: { input: 1000, output: 500 },
      prompt,
    });
    expect(
      costUsd({ input: 2_000_000, output: 0 }, { inputUsdPerMTok: 0.15, outputUsdPerMTok: 0.6 }),
    ).toBeCloseTo(0.3, 12);
  });

  it("uses only the judge target for purpose judge, with no chain", async () => {
    const p = await start({ script: { "judge-mini": { judge: [{ status: 403 }] } } });
    const events: RouterEvent[] = [];
    const r = router(p);
    const err = await r
      .complete(request("r-judge", events, { purpose: "judge", validate: undefined }))
      .catch((e: unknown) => e);
    expect(isBackstopError(err, "gateway.exhausted")).toBe(true);
    expect(p.requests().map((x) => [x.model, x.purpose])).toEqual([["judge-mini", "judge"]]);
    expect(fallbacks(events)).toEqual([
      expect.objectContaining({ from: "judge-mini", to: null, reason: "http_403" }),
    ]);
    // the judge is now cooled down: the next judge call makes no request
    await expect(
      r.complete(request("r-judge", [], { purpose: "judge", validate: undefined })),
    ).rejects.toMatchObject({ code: "gateway.exhausted" });
    expect(p.requests()).toHaveLength(1);
    // a fresh store (no cooldown): the judge's next scripted step is the default verdict
    const ok = await router(p).complete(request("r-judge", [], { purpose: "judge", validate: undefined }));
    expect(ok.target.name).toBe("judge-mini");
    expect(JSON.parse(ok.text)).toHaveProperty("grounded");
  });

  it("rejects bad options and requests, and a target with no API key is skipped", async () => {
    const p = await start();
    expect(() => router(p, { targets: [] })).toThrow(/invalid router options/);
    const r = router(p, {
      targets: [target(p, "model-a", 1, { apiKey: undefined }), target(p, "model-b", 1)],
    });
    await expect(r.complete(request("", []))).rejects.toMatchObject({ code: "gateway.invalid_request" });
    const events: RouterEvent[] = [];
    expect((await r.complete(request("r-key", events))).target.name).toBe("model-b");
    expect(fallbacks(events)[0]).toMatchObject({ from: "model-a", reason: "no_api_key" });
  });

  it("does not fall back on a 400: the request itself is wrong", async () => {
    const p = await start({ script: { "model-a": { diagnose: [{ status: 400 }] } } });
    const err = await router(p)
      .complete(request("r-400", []))
      .catch((e: unknown) => e);
    expect(isBackstopError(err, "gateway.rejected")).toBe(true);
    expect(p.requests()).toHaveLength(1);
  });
});

describe("ModelRouter cancellation", () => {
  it("stops with gateway.aborted when the caller aborts, without falling back", async () => {
    const p = await start({ script: { "model-a": { diagnose: [{ delay_ms: 3000 }] } } });
    const ac = new AbortController();
    const events: RouterEvent[] = [];
    const pending = router(p).complete(request("r-abort", events, { signal: ac.signal }));
    const waitForRequest = async () => {
      while (p.requests().length === 0) await new Promise((r) => setTimeout(r, 5));
    };
    await waitForRequest();
    ac.abort();
    await expect(pending).rejects.toMatchObject({ code: "gateway.aborted" });
    expect(fallbacks(events)).toHaveLength(0);
    expect(p.requests().map((x) => x.model)).toEqual(["model-a"]);
  });
});

describe("retryDelayMs", () => {
  it("prefers Retry-After, caps it, and backs off exponentially otherwise", async () => {
    const { RateLimitError } = await import("openai");
    const h = (v: Record<string, string>) => new Headers(v);
    const e = (headers: Headers) => new RateLimitError(429, undefined, "rate limited", headers);
    expect(retryDelayMs(e(h({ "retry-after": "2" })), 1, 100, 10_000, 0)).toBe(2000);
    expect(retryDelayMs(e(h({ "retry-after": "60" })), 1, 100, 10_000, 0)).toBe(10_000);
    expect(retryDelayMs(e(h({ "retry-after-ms": "150" })), 1, 100, 10_000, 0)).toBe(150);
    expect(retryDelayMs(e(h({ "retry-after": "Thu, 01 Jan 1970 00:00:03 GMT" })), 1, 100, 10_000, 1000)).toBe(
      2000,
    );
    expect(retryDelayMs(e(h({})), 3, 100, 10_000, 0)).toBe(400);
    expect(retryDelayMs(new Error("x"), 1, 100, 10_000, 0)).toBe(100);
  });
});
