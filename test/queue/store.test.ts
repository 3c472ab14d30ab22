import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { isBackstopError } from "../../src/errors.js";
import type { PendingApproval } from "../../src/pipeline/ports.js";
import { type IncidentRecord, type PendingApprovalRecord, RunStore } from "../../src/queue/store.js";
import { dropPrefix, REDIS, uniquePrefix } from "./redis-helpers.js";

const prefix = uniquePrefix("store");
const one = new RunStore({ connection: REDIS, prefix });
const two = new RunStore({ connection: REDIS, prefix });

afterAll(async () => {
  await one.close();
  await two.close();
  await dropPrefix(prefix);
});

function incident(key: string, startedAt: string): IncidentRecord {
  return {
    key,
    runId: `run-${key}`,
    namespace: "shop",
    workload: "checkout",
    alertname: "KubeDeploymentReplicasMismatch",
    severity: "critical",
    trigger: "alert",
    requestedBy: null,
    channel: "C0INCIDENTS",
    status: "running",
    stage: null,
    summary: null,
    startedAt,
    resolvedAt: null,
  };
}

function pendingRecord(runId: string): PendingApprovalRecord {
  const pending: PendingApproval = {
    runId,
    target: { namespace: "shop", workload: "checkout" },
    reason: "breaker tripped",
    proposedAction: {
      type: "rollback",
      namespace: "shop",
      kind: "Deployment",
      name: "checkout",
      to_sha: "abc1234",
    },
    hypothesis: "the new image crashes on start",
    events: [],
    totals: { modelCalls: 1, fallbacks: 0, tokens: { input: 10, output: 5 }, costUsd: 0.001 },
    startedAt: "2030-01-01T00:00:00.000Z",
  } as PendingApproval;
  return {
    runId,
    incidentKey: `am-${runId}`,
    pending,
    status: "pending",
    expiresAt: new Date(Date.now() + 30 * 60_000).toISOString(),
    channel: "C0INCIDENTS",
    threadTs: "1700000000.000100",
  };
}

describe("RunStore incidents", () => {
  it("saves an incident and finds it by key and by run id; unknown ones are null", async () => {
    await one.saveIncident(incident("am-1", "2030-01-01T00:00:00.000Z"));
    expect((await two.getIncident("am-1"))?.workload).toBe("checkout");
    expect((await two.getIncidentByRun("run-am-1"))?.key).toBe("am-1");
    expect(await two.getIncident("am-none")).toBeNull();
    expect(await two.getIncidentByRun("run-none")).toBeNull();
  });

  it("merges patches atomically from two stores and never changes key or runId", async () => {
    await one.saveIncident(incident("am-2", "2030-01-02T00:00:00.000Z"));
    await Promise.all([
      one.updateIncident("am-2", { stage: "diagnosis.parsed" }),
      two.updateIncident("am-2", { summary: "rolled back", resolvedAt: "2030-01-02T00:10:00.000Z" }),
      two.updateIncident("am-2", { key: "other", runId: "run-other", status: "resolved" }),
    ]);
    const got = await one.getIncident("am-2");
    expect(got).toMatchObject({
      key: "am-2",
      runId: "run-am-2",
      stage: "diagnosis.parsed",
      summary: "rolled back",
      status: "resolved",
      resolvedAt: "2030-01-02T00:10:00.000Z",
      alertname: "KubeDeploymentReplicasMismatch",
    });
  });

  it("refuses to patch a missing incident and refuses bad input", async () => {
    await expect(one.updateIncident("am-missing", { status: "x" })).rejects.toSatisfy((e) =>
      isBackstopError(e, "store.not_found"),
    );
    await expect(one.updateIncident("am-2", { status: 42 as unknown as string })).rejects.toSatisfy((e) =>
      isBackstopError(e, "input.invalid_incident"),
    );
    await expect(
      one.saveIncident({ ...incident("am-bad", "2030-01-01T00:00:00Z"), trigger: "cron" as "alert" }),
    ).rejects.toSatisfy((e) => isBackstopError(e, "input.invalid_incident"));
  });

  it("answers each of many calls made in one event-loop turn; a failing one fails alone", async () => {
    // A fresh store: its scripts' first use on the connection (EVAL) is inside the batch too.
    const store = new RunStore({ connection: REDIS, prefix });
    const raw = new Redis({ ...REDIS, lazyConnect: true });
    try {
      const keys = Array.from({ length: 30 }, (_, i) => `turn-${i}`);
      await Promise.all(
        keys.map((k, i) => two.saveIncident(incident(k, new Date(Date.UTC(2030, 0, 1, 0, i)).toISOString()))),
      );
      // Incident 7's key now holds a hash: GET and the merge script meet WRONGTYPE.
      await raw.del(`${prefix}:incident:turn-7`);
      await raw.hset(`${prefix}:incident:turn-7`, "not", "a string");
      const reads = keys.map((k) =>
        store.getIncident(k).then(
          (v) => v?.key,
          (e: unknown) => e,
        ),
      );
      const patches = keys.map((k, i) =>
        store.updateIncident(k, { summary: `patched ${i}` }).then(
          () => "ok",
          (e: unknown) => e,
        ),
      );
      const [read, patched] = [await Promise.all(reads), await Promise.all(patches)];
      for (const [i, k] of keys.entries()) {
        if (i === 7) {
          expect(isBackstopError(read[i]) && read[i].code).toBe("store.unavailable");
          expect(isBackstopError(patched[i]) && patched[i].code).toBe("store.unavailable");
        } else {
          expect(read[i]).toBe(k);
          expect(patched[i]).toBe("ok");
          expect((await one.getIncident(k))?.summary).toBe(`patched ${i}`);
        }
      }
    } finally {
      raw.disconnect();
      await store.close();
    }
  });

  it("lists recent incidents newest first, up to the limit", async () => {
    await one.saveIncident(incident("am-3", "2030-01-03T00:00:00.000Z"));
    const recent = await two.recentIncidents(2);
    expect(recent.map((i) => i.key)).toEqual(["am-3", "am-2"]);
    expect(await two.recentIncidents(0)).toEqual([]);
  });
});

describe("RunStore threads and receipts", () => {
  it("lets exactly one claim a thread (SET NX)", async () => {
    const claims = await Promise.all([
      one.claimThread("am-t", { channel: "C1", ts: "1.1" }),
      two.claimThread("am-t", { channel: "C1", ts: "2.2" }),
    ]);
    expect(claims.filter(Boolean)).toHaveLength(1);
    const winner = claims[0] ? "1.1" : "2.2";
    expect(await one.getThread("am-t")).toEqual({ channel: "C1", ts: winner });
    expect(await one.getThread("am-none")).toBeNull();
  });

  it("returns a receipt byte for byte", async () => {
    const json = '{"run_id":"run-x","events":[{"seq":0,"data":{"note":"ü → ok"}}],"signature":"AAA="}\n';
    await one.saveReceipt("run-x", json);
    expect(await two.getReceipt("run-x")).toBe(json);
    expect(await two.getReceipt("run-none")).toBeNull();
  });
});

describe("RunStore approvals", () => {
  it("keeps a pending approval and its escalation message ts", async () => {
    expect(await one.savePending(pendingRecord("run-p1"))).toBe(true);
    expect(await one.setEscalationTs("run-p1", "1700000000.000200")).toBe(true);
    expect(await one.setEscalationTs("run-none", "1.1")).toBe(false);
    const got = await two.getPending("run-p1");
    expect(got).toMatchObject({
      runId: "run-p1",
      status: "pending",
      escalationTs: "1700000000.000200",
      decidedBy: null,
    });
    expect(got?.pending.proposedAction.type).toBe("rollback");
    expect(await two.getPending("run-none")).toBeNull();
  });

  it("decides exactly once under 20 concurrent calls from two stores", async () => {
    await one.savePending(pendingRecord("run-race"));
    const at = "2030-01-01T00:05:00.000Z";
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (i % 2 ? one : two).decide("run-race", i % 3 ? "approved" : "rejected", `U${i}`, at),
      ),
    );
    const winners = results.filter((r) => r.won);
    expect(winners).toHaveLength(1);
    const w = winners[0]!;
    for (const r of results) expect({ status: r.status, by: r.by }).toEqual({ status: w.status, by: w.by });
    const rec = await one.getPending("run-race");
    expect(rec).toMatchObject({ status: w.status, decidedBy: w.by, decidedAt: at });
  });

  it("a later decision loses and reports the first; saving again cannot reopen it", async () => {
    await one.savePending(pendingRecord("run-late"));
    expect(await one.decide("run-late", "approved", "UAPPROVER", "2030-01-01T00:01:00Z")).toEqual({
      won: true,
      status: "approved",
      by: "UAPPROVER",
    });
    expect(await two.decide("run-late", "expired", null, "2030-01-01T00:30:00Z")).toEqual({
      won: false,
      status: "approved",
      by: "UAPPROVER",
    });
    expect(await two.savePending(pendingRecord("run-late"))).toBe(false);
    expect((await one.getPending("run-late"))?.status).toBe("approved");
  });

  it("an expiry with no approver is recorded with by = null; a missing run is 'missing'", async () => {
    await one.savePending(pendingRecord("run-exp"));
    expect(await one.decide("run-exp", "expired", null, "2030-01-01T00:30:00Z")).toEqual({
      won: true,
      status: "expired",
      by: null,
    });
    expect(await one.decide("run-none", "approved", "U1", "2030-01-01T00:30:00Z")).toEqual({
      won: false,
      status: "missing",
      by: null,
    });
  });

  it("refuses a malformed pending approval", async () => {
    const bad = {
      ...pendingRecord("run-bad"),
      pending: { runId: "run-bad" },
    } as unknown as PendingApprovalRecord;
    await expect(one.savePending(bad)).rejects.toSatisfy((e) => isBackstopError(e, "input.invalid_pending"));
  });

  it("fails with store.unavailable when Redis is unreachable", async () => {
    const down = new RunStore({ connection: { host: "127.0.0.1", port: 1 }, prefix });
    await expect(down.getIncident("am-1")).rejects.toSatisfy((e) => isBackstopError(e, "store.unavailable"));
    await down.close();
  });
});
