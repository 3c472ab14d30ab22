import { afterAll, describe, expect, it } from "vitest";
import { BackstopError } from "../../src/errors.js";
import { StageReporter } from "../../src/queue/stage-reporter.js";
import { type IncidentRecord, RunStore } from "../../src/queue/store.js";
import { escalatedRun, resolvedRun } from "../blocks/fixtures.js";
import { incident as incidentRecord } from "../slack/app-fixture.js";
import { dropPrefix, REDIS, uniquePrefix } from "./redis-helpers.js";

// The worker's stage reporter against the real Redis run store: coalesced writes, awaited status.
const prefix = uniquePrefix("stage");
const store = new RunStore({ connection: REDIS, prefix });

afterAll(async () => {
  await store.close();
  await dropPrefix(prefix);
});

/** A running incident `key` (run `run-<key>`), saved in the store. */
async function incident(key: string): Promise<IncidentRecord> {
  const rec = incidentRecord(key, `run-${key}`, {
    status: "running",
    stage: null,
    startedAt: new Date().toISOString(),
  });
  await store.saveIncident(rec);
  return rec;
}

/** The real store, counting the patches written. */
function counting(): { writes: Partial<IncidentRecord>[]; store: Pick<RunStore, "updateIncident"> } {
  const writes: Partial<IncidentRecord>[] = [];
  return {
    writes,
    store: {
      updateIncident: async (key, patch) => {
        writes.push(patch);
        await store.updateIncident(key, patch);
      },
    },
  };
}

describe("StageReporter", () => {
  it("merges a burst of events into few writes and ends on the run's outcome", async () => {
    const rec = await incident("burst");
    const c = counting();
    const stages: string[] = [];
    const r = new StageReporter(c.store, rec.key, async (s) => {
      stages.push(s);
    });
    const events = resolvedRun(rec.runId);
    const waits = events.map((e) => r.emit(e));
    // Only the status change (run.finished) hands back a promise to wait for.
    expect(waits.filter((w) => w !== undefined)).toHaveLength(1);
    await Promise.all(waits);
    expect(c.writes.length).toBeLessThan(events.length);
    const stored = await store.getIncident(rec.key);
    expect(stored).toMatchObject({ status: "resolved", stage: null });
    expect(stored?.summary).toBeTruthy();
    expect(stages.length).toBeGreaterThan(0);
    expect(stages.length).toBeLessThan(events.length);
  });

  it("an escalation with a proposed action is written before emit resolves", async () => {
    const rec = await incident("escalated");
    const r = new StageReporter(store, rec.key, null);
    const events = escalatedRun(rec.runId);
    const opened = events.findIndex((e) => e.type === "escalation.opened");
    for (const e of events.slice(0, opened)) r.emit(e);
    await r.emit(events[opened]!);
    expect((await store.getIncident(rec.key))?.status).toBe("awaiting_approval");
  });

  it("a write Redis could not take is retried with the next one; an invalid one is dropped", async () => {
    const rec = await incident("retry");
    let fail: BackstopError | null = new BackstopError("store.unavailable", "redis down");
    const writes: Partial<IncidentRecord>[] = [];
    const flaky: Pick<RunStore, "updateIncident"> = {
      updateIncident: async (key, patch) => {
        writes.push(patch);
        if (fail) {
          const err = fail;
          fail = null;
          throw err;
        }
        await store.updateIncident(key, patch);
      },
    };
    const r = new StageReporter(flaky, rec.key, null);
    const [started, signals] = resolvedRun(rec.runId);
    await r.flush();
    r.emit(started!);
    await r.flush();
    expect((await store.getIncident(rec.key))?.stage).toBeNull();
    r.emit(signals!);
    await r.flush();
    expect(writes.at(-1)).toEqual({ stage: signals!.type });
    expect((await store.getIncident(rec.key))?.stage).toBe(signals!.type);

    // A patch the store refuses for good is not carried into later writes.
    fail = new BackstopError("input.invalid_incident", "invalid incident patch");
    r.emit(started!);
    await r.flush();
    const before = writes.length;
    await r.flush();
    expect(writes.length).toBe(before);
  });

  it("writes a stage alone at most once per interval: the latest, when the interval ends", async () => {
    const rec = await incident("interval");
    const c = counting();
    const r = new StageReporter(c.store, rec.key, null, 150);
    const [started, signals, redaction] = resolvedRun(rec.runId);
    r.emit(started!);
    await new Promise((res) => setTimeout(res, 20));
    expect((await store.getIncident(rec.key))?.stage).toBe(started!.type); // the first at once
    r.emit(signals!);
    r.emit(redaction!);
    await new Promise((res) => setTimeout(res, 20));
    expect((await store.getIncident(rec.key))?.stage).toBe(started!.type); // held back
    await new Promise((res) => setTimeout(res, 250));
    expect((await store.getIncident(rec.key))?.stage).toBe(redaction!.type); // no other event needed
    expect(c.writes).toHaveLength(2);
  });
});
