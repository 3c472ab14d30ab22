import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { RunStore } from "../../src/queue/store.js";
import { dropPrefix, REDIS, uniquePrefix } from "./redis-helpers.js";

// The active-run index (one run per workload) and markOnce, against the real Redis.
const prefix = uniquePrefix("active");
const store = new RunStore({ connection: REDIS, prefix });
const redis = new Redis(REDIS);
const jobs = `${prefix}-bull:runs:`;

afterAll(async () => {
  await store.close();
  await redis.quit();
  await dropPrefix(prefix);
});

const claim = (workloadKey: string, incidentKey: string, checkOwnJob = true) =>
  store.claimRun({ workloadKey, incidentKey, jobKeyPrefix: jobs, checkOwnJob });

/** Makes the entry look older than the grace (as if claimed 60 s ago). */
async function age(workloadKey: string): Promise<void> {
  const key = `${prefix}:active:${workloadKey}`;
  const ttl = await redis.pttl(key);
  await redis.pexpire(key, ttl - 60_000);
}

async function incidentStatus(key: string, status: string): Promise<void> {
  await redis.set(`${prefix}:incident:${key}`, JSON.stringify({ key, status }));
}

describe("RunStore active-run index", () => {
  it("claims, joins once per incident, and releases only for the holder", async () => {
    expect(await claim("shop/checkout", "inc-a")).toEqual({ status: "claimed" });
    expect(await claim("shop/checkout", "inc-b")).toEqual({ status: "joined", holder: "inc-a", first: true });
    expect(await claim("shop/checkout", "inc-b")).toEqual({
      status: "joined",
      holder: "inc-a",
      first: false,
    });
    expect(await claim("shop/cart", "inc-c")).toEqual({ status: "claimed" });
    expect(await store.releaseRun("shop/checkout", "inc-b")).toBe(false);
    expect(await store.activeRun("shop/checkout")).toBe("inc-a");
    expect(await store.releaseRun("shop/checkout", "inc-a")).toBe(true);
    expect(await store.activeRun("shop/checkout")).toBeNull();
    expect(await claim("shop/checkout", "inc-d")).toEqual({ status: "claimed" });
  });

  it("an incident whose job exists is a duplicate (a re-send), not a new claim", async () => {
    await redis.hset(`${jobs}inc-e`, "name", "triage");
    expect(await claim("shop/search", "inc-e")).toEqual({ status: "duplicate" });
    expect(await store.activeRun("shop/search")).toBeNull();
    // The worker's claim for its own running job does not check its own job.
    expect(await claim("shop/search", "inc-e", false)).toEqual({ status: "claimed" });
  });

  it("a holder is live during the grace even before its job exists, stale after it without a job", async () => {
    expect(await claim("shop/pay", "inc-f")).toEqual({ status: "claimed" });
    expect((await claim("shop/pay", "inc-g")).status).toBe("joined");
    await age("shop/pay");
    expect(await claim("shop/pay", "inc-h")).toEqual({ status: "claimed" });
    expect(await store.activeRun("shop/pay")).toBe("inc-h");
  });

  it("a holder whose incident is over (not released) is stale; one awaiting approval is live", async () => {
    await redis.hset(`${jobs}inc-i`, "name", "triage");
    expect(await claim("shop/ads", "inc-i", false)).toEqual({ status: "claimed" });
    await age("shop/ads");
    await incidentStatus("inc-i", "awaiting_approval");
    expect((await claim("shop/ads", "inc-j")).status).toBe("joined");
    await incidentStatus("inc-i", "resolved");
    expect(await claim("shop/ads", "inc-k")).toEqual({ status: "claimed" });
  });

  it("a holder whose incident is over is stale even inside the grace: an alert after a run ends starts a run", async () => {
    await redis.hset(`${jobs}inc-l`, "name", "triage");
    expect(await claim("shop/cart2", "inc-l", false)).toEqual({ status: "claimed" });
    await incidentStatus("inc-l", "acting");
    expect((await claim("shop/cart2", "inc-m")).status).toBe("joined");
    // The run wrote its final status and has not released the entry yet (its claim is seconds old).
    await incidentStatus("inc-l", "resolved");
    expect(await claim("shop/cart2", "inc-n")).toEqual({ status: "claimed" });
    expect(await store.activeRun("shop/cart2")).toBe("inc-n");
  });

  it("markOnce is true once per id", async () => {
    expect(await store.markOnce("slack-request", "trigger_id=t1", 60)).toBe(true);
    expect(await store.markOnce("slack-request", "trigger_id=t1", 60)).toBe(false);
    expect(await store.markOnce("slack-request", "trigger_id=t2", 60)).toBe(true);
  });
});
