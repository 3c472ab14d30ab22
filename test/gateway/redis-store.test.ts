import { afterAll, describe, expect, it } from "vitest";
import { isBackstopError } from "../../src/errors.js";
import { RedisBudgetStore } from "../../src/gateway/redis-store.js";
import { MemoryBudgetStore } from "../../src/gateway/store.js";
import { dropPrefix, REDIS, uniquePrefix } from "../queue/redis-helpers.js";

const prefix = uniquePrefix("budget");
const a = new RedisBudgetStore({ connection: REDIS, prefix });
const b = new RedisBudgetStore({ connection: REDIS, prefix });

afterAll(async () => {
  await a.close();
  await b.close();
  await dropPrefix(prefix);
});

describe("RedisBudgetStore", () => {
  it("adds spend up across two instances (two workers), per UTC day", async () => {
    expect(await a.spent("2030-01-01")).toBe(0);
    expect(await a.addSpend("2030-01-01", 0.25)).toBeCloseTo(0.25, 9);
    expect(await b.addSpend("2030-01-01", 0.5)).toBeCloseTo(0.75, 9);
    await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).addSpend("2030-01-01", 0.01)));
    expect(await a.spent("2030-01-01")).toBeCloseTo(0.85, 9);
    expect(await b.spent("2030-01-01")).toBeCloseTo(0.85, 9);
  });

  it("starts a new day at zero (day rollover by the injected day key) and keeps the old day", async () => {
    await a.addSpend("2030-02-01", 3);
    expect(await b.spent("2030-02-02")).toBe(0);
    expect(await b.addSpend("2030-02-02", 1)).toBe(1);
    expect(await a.spent("2030-02-01")).toBe(3);
  });

  it("counts negative spend as zero like the memory store, and refuses NaN", async () => {
    const mem = new MemoryBudgetStore();
    await mem.addSpend("d", 2);
    await a.addSpend("2030-03-01", 2);
    expect(await a.addSpend("2030-03-01", -5)).toBe(await mem.addSpend("d", -5));
    await expect(a.addSpend("2030-03-01", Number.NaN)).rejects.toSatisfy((e) =>
      isBackstopError(e, "input.invalid_spend"),
    );
    expect(await a.spent("2030-03-01")).toBe(2);
  });

  it("gives at most `limit` requests per target per minute window, shared by both instances", async () => {
    const win = 1_900_000_020_000 - (1_900_000_020_000 % 60_000);
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => (i % 2 ? a : b).tryAcquire("gpt", win, 5)),
    );
    expect(results.filter(Boolean)).toHaveLength(5);
    expect(await a.tryAcquire("gpt", win, 5)).toBe(false);
    // Another target and the next window have their own counters.
    expect(await a.tryAcquire("claude", win, 5)).toBe(true);
    expect(await b.tryAcquire("gpt", win + 60_000, 5)).toBe(true);
    // A limit of 0 never grants, as in the memory store.
    expect(await a.tryAcquire("zero", win, 0)).toBe(false);
  });

  it("sets, reads and clears cooldowns across instances, even ones already over by the wall clock", async () => {
    expect(await a.cooldownUntil("gpt")).toBeNull();
    const until = Date.now() + 30_000;
    await a.setCooldown("gpt", until);
    expect(await b.cooldownUntil("gpt")).toBe(until);
    await b.clearCooldown("gpt");
    expect(await a.cooldownUntil("gpt")).toBeNull();
    // An injected clock may set a cooldown in the wall clock's past; the memory store keeps it too.
    await a.setCooldown("old", 1_000);
    expect(await b.cooldownUntil("old")).toBe(1_000);
  });

  it("fails with budget.unavailable when Redis is unreachable", async () => {
    const down = new RedisBudgetStore({ connection: { host: "127.0.0.1", port: 1 }, prefix });
    await expect(down.spent("2030-01-01")).rejects.toSatisfy((e) => isBackstopError(e, "budget.unavailable"));
    await down.close();
  });
});
