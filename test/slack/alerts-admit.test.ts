import { describe, expect, it } from "vitest";
import type { AlertmanagerWebhook } from "../../src/contracts/alertmanager.js";
import type { RunJobData } from "../../src/queue/jobs.js";
import { incidentKeyForAlert } from "../../src/queue/jobs.js";
import type { RunClaim } from "../../src/queue/store.js";
import { queueAlerts, screenAlerts } from "../../src/slack/alerts.js";

/** A notification of `pods` pod alerts, all naming Deployment `shop/<deployment>` (one incident). */
function podsOf(
  deployment: string,
  pods: number,
  extra: AlertmanagerWebhook["alerts"] = [],
): AlertmanagerWebhook {
  return {
    version: "4",
    groupKey: `{}:{deployment="${deployment}"}`,
    truncatedAlerts: 0,
    status: "firing",
    receiver: "backstop",
    groupLabels: {},
    commonLabels: {},
    commonAnnotations: {},
    externalURL: "",
    alerts: [
      ...Array.from({ length: pods }, (_, p) => ({
        status: "firing" as const,
        labels: {
          alertname: "KubePodCrashLooping",
          namespace: "shop",
          deployment,
          pod: `${deployment}-${p}`,
        },
        annotations: {},
        startsAt: `2026-11-21T11:5${p}:00Z`,
        endsAt: "0001-01-01T00:00:00Z",
        generatorURL: "",
        fingerprint: `f${p}`,
      })),
      ...extra,
    ],
  };
}

/** A store and producer that answer every claim with `answer` and record what was asked. */
function deps(answer: (incidentKey: string) => RunClaim | Error) {
  const claims: string[] = [];
  const added: RunJobData[] = [];
  return {
    claims,
    added,
    opts: {
      settings: { alertChannel: "C0ALERTS", alertWebhookToken: "t" },
      store: {
        claimRun: async (c: { incidentKey: string }) => {
          claims.push(c.incidentKey);
          const a = answer(c.incidentKey);
          if (a instanceof Error) throw a;
          return a;
        },
        releaseRun: async () => true,
      },
      producer: {
        jobKeyPrefix: "bull:runs:",
        addRun: async (d: RunJobData) => {
          added.push(d);
          return { jobId: d.incidentKey };
        },
      },
    },
  };
}

const queue = (w: AlertmanagerWebhook, d: ReturnType<typeof deps>) =>
  queueAlerts(w, screenAlerts(w).kept, d.opts);

describe("queueAlerts: one admission per incident of a notification", () => {
  it("a new incident's alerts: one claim, one job (with the first alert), the others answered as re-sends", async () => {
    const w = podsOf("checkout", 3);
    const d = deps(() => ({ status: "claimed" }));
    const { result } = await queue(w, d);
    const key = incidentKeyForAlert(w, w.alerts[0]!, "default");
    expect(d.claims).toEqual([key]);
    expect(d.added).toHaveLength(1);
    expect(d.added[0]!.alert?.alerts.map((a) => a.fingerprint)).toEqual(["f0"]);
    expect(d.added[0]!.onset).toBe("2026-11-21T11:50:00Z");
    expect(result.queued.map((q) => [q.fingerprint, q.incidentKey, q.deduplicated])).toEqual([
      ["f0", key, false],
      ["f1", key, true],
      ["f2", key, true],
    ]);
  });

  it("a re-send: one claim, no job built, every alert deduplicated", async () => {
    const d = deps(() => ({ status: "duplicate" }));
    const { result } = await queue(podsOf("checkout", 3), d);
    expect(d.claims).toHaveLength(1);
    expect(d.added).toHaveLength(0);
    expect(result.queued.map((q) => q.deduplicated)).toEqual([true, true, true]);
  });

  it("a join: every alert joined, one note (only the first claim can be the first join)", async () => {
    const d = deps(() => ({ status: "joined", holder: "am-default-holder", first: true }));
    const { result, joins } = await queue(podsOf("checkout", 2), d);
    expect(d.claims).toHaveLength(1);
    expect(result.joined.map((j) => [j.fingerprint, j.joined, j.runId])).toEqual([
      ["f0", "am-default-holder", "run-am-default-holder"],
      ["f1", "am-default-holder", "run-am-default-holder"],
    ]);
    expect(joins).toEqual([
      {
        holder: "am-default-holder",
        holderRunId: "run-am-default-holder",
        alertname: "KubePodCrashLooping",
        what: "shop/checkout in default",
      },
    ]);
  });

  it("two workloads in one notification: two claims; a failed one fails the notification", async () => {
    const other = podsOf("payments", 1).alerts;
    const w = podsOf("checkout", 2, other);
    const ok = deps(() => ({ status: "claimed" }));
    const { result } = await queue(w, ok);
    expect(ok.claims).toHaveLength(2); // one claim per incident, not per alert
    expect(result.queued.map((q) => q.deduplicated)).toEqual([false, true, false]);
    const payments = incidentKeyForAlert(w, other[0]!, "default");
    const failing = deps((k) => (k === payments ? new Error("redis down") : { status: "claimed" }));
    await expect(queue(w, failing)).rejects.toThrow("redis down");
  });
});
