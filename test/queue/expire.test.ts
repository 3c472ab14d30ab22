import { WebClient } from "@slack/web-api";
import { afterAll, describe, expect, it } from "vitest";
import type { PendingApproval } from "../../src/pipeline/ports.js";
import { createProcessors } from "../../src/queue/processors.js";
import { RunsProducer } from "../../src/queue/runs.js";
import { type PendingApprovalRecord, RunStore } from "../../src/queue/store.js";
import type { RunWorld } from "../../src/queue/world.js";
import { dropPrefix, REDIS, uniquePrefix } from "./redis-helpers.js";

// The approval timeout job, against the real Redis: it decides an undecided escalation as expired,
// and re-queues a click's decision whose job never made it into the queue.
const prefix = uniquePrefix("expire");
const store = new RunStore({ connection: REDIS, prefix });
const producer = new RunsProducer({ connection: REDIS, prefix });
const unusedWorld: RunWorld = {
  recoveryTimeoutMs: 1_000,
  signalsWindow: "15m",
  open: () => Promise.reject(new Error("the expire job opens no world")),
};
const processors = createProcessors({
  world: unusedWorld,
  slack: new WebClient("xoxb-unused"),
  store,
  producer,
  approvers: ["U0APPROVER"],
  approvalTimeoutMs: 60_000,
});

afterAll(async () => {
  await producer.bullQueue.obliterate({ force: true }).catch(() => undefined);
  await producer.close();
  await store.close();
  await dropPrefix(prefix);
});

function pending(runId: string): PendingApprovalRecord {
  return {
    runId,
    incidentKey: `am-${runId}`,
    pending: {
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
      hypothesis: null,
      events: [],
      totals: { modelCalls: 0, fallbacks: 0, tokens: { input: 0, output: 0 }, costUsd: 0 },
      startedAt: "2030-01-01T00:00:00.000Z",
    } as PendingApproval,
    status: "pending",
    expiresAt: new Date(Date.now() + 60_000).toISOString(),
    channel: "C0INCIDENTS",
    threadTs: "1700000000.000100",
  };
}

const decisionJob = (runId: string) => producer.bullQueue.getJob(`decision-${runId}`);

describe("the approval timeout", () => {
  it("decides an undecided escalation as expired and queues that decision", async () => {
    await store.savePending(pending("run-exp-1"));
    expect(await processors.expire({ runId: "run-exp-1" })).toEqual({ expired: true });
    expect((await store.getPending("run-exp-1"))?.status).toBe("expired");
    expect((await decisionJob("run-exp-1"))?.data).toMatchObject({ decision: "expired", by: null });
  });

  it("re-queues a click's decision whose job was lost, and changes nothing else", async () => {
    await store.savePending(pending("run-exp-2"));
    const at = "2030-01-01T00:05:00.000Z";
    expect((await store.decide("run-exp-2", "approved", "U0APPROVER", at)).won).toBe(true);
    expect(await decisionJob("run-exp-2")).toBeUndefined(); // the click's enqueue failed
    expect(await processors.expire({ runId: "run-exp-2" })).toEqual({ expired: false });
    expect((await store.getPending("run-exp-2"))?.status).toBe("approved");
    expect((await decisionJob("run-exp-2"))?.data).toMatchObject({ decision: "approved", by: "U0APPROVER" });
  });
});
