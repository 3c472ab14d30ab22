import type { Worker } from "bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ACTION_APPROVE, ACTION_RECEIPT, ACTION_REJECT } from "../../blocks/index.js";
import { sendSlashCommand } from "../../sandbox/slack/index.js";
import type { SandboxStack } from "../../sandbox/stack.js";
import type { Scenario } from "../../scenarios/schema.js";
import type { RunEvent, RunReporter } from "../../src/contracts/events.js";
import { connectInfra } from "../../src/mcp/index.js";
import type { IncidentRecord } from "../../src/queue/store.js";
import { verifyReceiptText } from "../../src/receipt/index.js";
import { type BotWorld, namedScenario, startBotWorld } from "../fixtures/bot-world.js";
import { until } from "../fixtures/live.js";
import { ALERT_CHANNEL, APPROVER, type Bot, clickButton, SIGNING_SECRET, STRANGER } from "./app-fixture.js";

// The whole bot against real Redis: the Bolt app (signed requests, sandbox Slack Web API), the BullMQ
// worker with the real processors, and the sandbox cluster/model/MCP world.
let world: BotWorld;
let stack: SandboxStack;
let bot: Bot;
let workers: Worker[];

/** A worker of two, locks of 30 s (or `lockDurationMs`), stalled jobs checked every 500 ms. */
function startWorker(
  opts: { reporters?: (runId: string) => RunReporter[]; lockDurationMs?: number } = {},
): Worker {
  return world.startWorker({
    concurrency: 2,
    lockDurationMs: opts.lockDurationMs ?? 30_000,
    stalledIntervalMs: 500,
    ...(opts.reporters ? { reporters: opts.reporters } : {}),
  });
}

/** The statuses a run ends in (blocks/incident.ts `IncidentStatus`): what a test waits for before it asserts which. */
const FINISHED = ["resolved", "escalated", "rejected", "failed"];

/** The incident `key` once its run has finished, whichever way (a wait, not an assertion). */
const finished = (key: string) => async (): Promise<IncidentRecord | null> => {
  const i = await bot.store.getIncident(key);
  return i && FINISHED.includes(i.status) ? i : null;
};

const incidentWithStatus =
  (statuses: string[], workload?: string) => async (): Promise<IncidentRecord | null> => {
    const all = await bot.store.recentIncidents(20);
    return all.find((i) => statuses.includes(i.status) && (!workload || i.workload === workload)) ?? null;
  };

async function fireAlert(s: Scenario, fingerprint: string): Promise<void> {
  // A new incident each time: another group (as a new Alertmanager group would be), another fingerprint.
  const webhook = structuredClone(s.alert);
  webhook.groupKey = `${webhook.groupKey}/${fingerprint}`;
  for (const a of webhook.alerts) a.fingerprint = fingerprint;
  const res = await world.postAlert(webhook);
  expect(res.status).toBe(202);
}

const reset = (name: string): Promise<Scenario> => world.reset(name);

const threadOf = (incident: IncidentRecord) => {
  const root = bot.slack.messages(ALERT_CHANNEL).find((m) => m.thread_ts === null);
  if (!root) throw new Error(`no root message for ${incident.key}`);
  return { root, replies: bot.slack.thread(ALERT_CHANNEL, root.ts).slice(1) };
};

/** Starts a worker unless one runs, so each test can run on its own (`-t`). */
function ensureWorker(): void {
  if (workers.length === 0) startWorker();
}

/**
 * cascading-failure fired as a new alert (`fingerprint`), up to orders awaiting approval: the scenario,
 * the incident and its escalation message (the one whose blocks hold `button`).
 */
async function ordersAwaitingApproval(fingerprint: string, button = ACTION_APPROVE) {
  ensureWorker();
  const s = await reset("cascading-failure");
  await fireAlert(s, fingerprint);
  const incident = await until("awaiting approval", incidentWithStatus(["awaiting_approval"], "orders"));
  const escalation = await until("the escalation message", async () =>
    bot.slack.messages(ALERT_CHANNEL).find((m) => JSON.stringify(m.blocks).includes(button)),
  );
  return { s, incident, escalation };
}

let triaged: Promise<IncidentRecord> | null = null;
/**
 * `/backstop triage shop/checkout` on hallucinated-diagnosis, run once and shared by the tests that
 * look at its thread and receipt, whichever of them runs first.
 */
function triagedCheckout(): Promise<IncidentRecord> {
  triaged ??= (async () => {
    ensureWorker();
    await reset("hallucinated-diagnosis");
    const res = await sendSlashCommand(bot.eventsUrl, SIGNING_SECRET, {
      text: "triage shop/checkout paged by checkout errors",
      user_id: APPROVER,
      channel_id: ALERT_CHANNEL,
      response_url: bot.slack.newResponseUrl({ channel: ALERT_CHANNEL, user: APPROVER }),
    });
    expect(res.status).toBe(200);
    return until("the triage to finish", incidentWithStatus(FINISHED));
  })();
  return triaged;
}

beforeAll(async () => {
  world = await startBotWorld({ scenario: namedScenario("hallucinated-diagnosis") });
  ({ stack, bot, workers } = world);
});

afterAll(async () => {
  await world?.close();
});

describe("Backstop in Slack, end to end", () => {
  it("a signed /backstop triage makes a thread with every stage and resolves hallucinated-diagnosis", async () => {
    const incident = await triagedCheckout();
    expect(incident.status).toBe("resolved");
    // The receipt is the thread's last reply, posted right after the run finishes.
    await until("the receipt reply", async () =>
      threadOf(incident).replies.some((r) => /receipt/i.test(r.text)),
    );
    const { root, replies } = threadOf(incident);
    expect(root.edited).toBe(true);
    const text = replies.map((r) => r.text).join("\n");
    for (const stage of [
      /signals/i,
      /redact/i,
      /diagnos/i,
      /quality gate/i,
      /action gate/i,
      /rollback/i,
      /recover/i,
      /ticket|BKS-/i,
      /receipt/i,
    ]) {
      expect(text).toMatch(stage);
    }
    // The wrong diagnosis was caught first, then the re-routed one passed.
    expect(text).toMatch(/re-rout/i);
    expect(stack.cluster.mutations().map((m) => m.name)).toEqual(["checkout"]);
  });

  it("the receipt button uploads the signed receipt into the thread, and it verifies", async () => {
    const incident = await triagedCheckout();
    const { root } = threadOf(incident);
    const res = await clickButton(bot, {
      user: STRANGER,
      message: root,
      action: ACTION_RECEIPT,
      value: incident.runId,
    });
    expect(res.status).toBe(200);
    const file = await until("the uploaded receipt", async () =>
      bot.slack.files().find((f) => f.name.includes(incident.runId)),
    );
    expect(file.thread_ts).toBe(root.ts);
    expect(verifyReceiptText(file.bytes.toString("utf8"))).toMatchObject({ ok: true });
  });

  it("cascading-failure escalates; a stranger's click changes nothing; an approver's double click acts once", async () => {
    const { incident, escalation } = await ordersAwaitingApproval("c0ffee0000000001");
    const click = (user: string, action = ACTION_APPROVE) =>
      clickButton(bot, { user, message: escalation, action, value: incident.runId, withBlocks: true });
    const before = bot.decisionCalls.length;
    expect((await click(STRANGER)).status).toBe(200);
    await until("the refusal", async () => bot.slack.ephemerals(STRANGER).length > 0);
    expect(bot.decisionCalls.length).toBe(before);
    expect((await bot.store.getPending(incident.runId))?.status).toBe("pending");

    const [a, b] = await Promise.all([click(APPROVER), click(APPROVER)]);
    expect([a.status, b.status]).toEqual([200, 200]);
    const done = await until("finished after approval", finished(incident.key));
    expect(done.status).toBe("resolved");
    expect(bot.decisionCalls.length).toBe(before + 1);
    expect(stack.cluster.mutations().filter((m) => m.name === "orders")).toHaveLength(1);
    expect(stack.cluster.mutations().some((m) => m.namespace === "data")).toBe(false);
  });

  it("Reject executes nothing", async () => {
    const { incident, escalation } = await ordersAwaitingApproval("c0ffee0000000002", ACTION_REJECT);
    await clickButton(bot, {
      user: APPROVER,
      message: escalation,
      action: ACTION_REJECT,
      value: incident.runId,
    });
    const done = await until("finished after the rejection", finished(incident.key));
    expect(done.status).toBe("escalated");
    expect(stack.cluster.mutations()).toHaveLength(0);
  });

  it("an escalation nobody decides expires: rejected, nothing changed, its buttons gone", async () => {
    const { incident, escalation } = await ordersAwaitingApproval("c0ffee0000000003");
    // The 30-minute timeout, brought forward.
    await bot.producer.cancelExpiry(incident.runId);
    await bot.producer.scheduleExpiry(incident.runId, 10);
    const done = await until("finished after the expiry", finished(incident.key));
    expect(done.status).toBe("escalated");
    expect((await bot.store.getPending(incident.runId))?.status).toBe("expired");
    await until("the buttons replaced", async () => {
      const m = bot.slack.messages(ALERT_CHANNEL).find((x) => x.ts === escalation.ts);
      return m && !JSON.stringify(m.blocks).includes(ACTION_APPROVE);
    });
    expect(stack.cluster.mutations()).toHaveLength(0);
  });

  it("while orders awaits approval a second alert joins its thread; Alertmanager's resolution withdraws the approval", async () => {
    const { s, incident, escalation } = await ordersAwaitingApproval("c0ffee0000000004");
    const jobsBefore = (await bot.jobs()).filter((j) => j.name === "triage").length;

    // Another alert (another group) for the same Deployment: it joins, no second run.
    const other = structuredClone(s.alert);
    other.groupKey = `${other.groupKey}/rollout-stuck`;
    other.alerts = other.alerts.filter((a) => a.labels.deployment === "orders");
    for (const a of other.alerts) {
      a.fingerprint = "c0ffee00000000a4";
      a.labels = { ...a.labels, alertname: "KubeDeploymentRolloutStuck" };
    }
    const joined = await world.postAlert(other);
    expect(joined.status).toBe(200);
    expect(((await joined.json()) as { joined: { joined: string }[] }).joined[0]?.joined).toBe(incident.key);
    await until("the join note", async () =>
      bot.slack
        .thread(ALERT_CHANNEL, escalation.thread_ts ?? escalation.ts)
        .some((m) => m.text.includes("KubeDeploymentRolloutStuck") && m.text.includes("no second run")),
    );
    expect((await bot.jobs()).filter((j) => j.name === "triage").length).toBe(jobsBefore);

    // Alertmanager resolves the first alert: the approval is withdrawn and the run ends without acting.
    const resolved = structuredClone(s.alert);
    resolved.groupKey = `${resolved.groupKey}/c0ffee0000000004`;
    resolved.status = "resolved";
    resolved.alerts = resolved.alerts.filter((a) => a.labels.deployment === "orders");
    for (const a of resolved.alerts) {
      a.fingerprint = "c0ffee0000000004";
      a.status = "resolved";
      a.endsAt = new Date().toISOString();
    }
    const res = await world.postAlert(resolved);
    expect(res.status).toBe(200);
    const done = await until("finished after the withdrawal", finished(incident.key));
    expect(done.status).toBe("escalated");
    expect((await bot.store.getPending(incident.runId))?.status).toBe("withdrawn");
    await until("the buttons withdrawn", async () => {
      const m = bot.slack.messages(ALERT_CHANNEL).find((x) => x.ts === escalation.ts);
      return m && !JSON.stringify(m.blocks).includes(ACTION_APPROVE) && m.text.startsWith("Withdrawn");
    });
    // The escalated run stored its receipt so far; wait for the finished one.
    const receipt = await until("the finished receipt", async () => {
      const r = await bot.store.getReceipt(incident.runId);
      return r?.includes("approval.decided") ? r : null;
    });
    expect(verifyReceiptText(receipt)).toMatchObject({ ok: true });
    const events = (JSON.parse(receipt) as { events: RunEvent[] }).events;
    expect(events.find((e) => e.type === "approval.decided")?.data).toMatchObject({ decision: "withdrawn" });
    expect(events.at(-1)?.type).toBe("run.finished");
    expect(events.some((e) => e.type === "action.executed")).toBe(false);
    expect(stack.cluster.mutations()).toHaveLength(0);
    // The workload is free again, and a later click finds the approval decided.
    expect(await bot.store.activeRun("default/shop/orders")).toBeNull();
    await clickButton(bot, {
      user: APPROVER,
      message: escalation,
      action: ACTION_APPROVE,
      value: incident.runId,
    });
    await until("told it was decided", async () =>
      bot.slack.ephemerals(APPROVER).some((m) => m.text.includes("already decided (withdrawn)")),
    );
    expect(stack.cluster.mutations()).toHaveLength(0);
  });

  it("alerts naming two pods of orders (no deployment label) resolve to one run for the Deployment", async () => {
    ensureWorker();
    const s = await reset("cascading-failure");
    const infra = await connectInfra(stack.infraUrl);
    const pods = (await infra.getSignals("shop", "orders")).pods.map((p) => p.name);
    await infra.close();
    expect(pods.length).toBeGreaterThanOrEqual(2);
    const webhook = structuredClone(s.alert);
    webhook.groupKey = `${webhook.groupKey}/pods`;
    const orders = webhook.alerts.find((a) => a.labels.deployment === "orders")!;
    const { deployment: _d, ...labels } = orders.labels;
    webhook.alerts = pods.slice(0, 2).map((pod, i) => ({
      ...orders,
      labels: { ...labels, pod },
      fingerprint: `b0d0000000000${i}`,
    }));
    const res = await world.postAlert(webhook);
    expect(res.status).toBe(202);
    expect(((await res.json()) as { queued: unknown[] }).queued).toHaveLength(2);
    const incident = await until("awaiting approval", incidentWithStatus(["awaiting_approval"], "orders"));
    const joined = await until("the other incident joined", async () => {
      const all = await bot.store.recentIncidents(20);
      return all.find((i) => i.key !== incident.key && i.summary?.includes("Joined the active run")) ?? null;
    });
    expect(joined.summary).toContain(incident.runId);
    expect(joined.workload).toBe("orders");
    expect(await bot.store.activeRun("default/shop/orders")).toBe(incident.key);
    // The thread is posted beside the run (the run does not wait for Slack): wait for the buttons.
    await until("the escalation message", async () =>
      bot.slack.messages(ALERT_CHANNEL).find((m) => JSON.stringify(m.blocks).includes(ACTION_APPROVE)),
    );
    const approvals = bot.slack
      .messages(ALERT_CHANNEL)
      .filter((m) => JSON.stringify(m.blocks).includes(ACTION_APPROVE));
    expect(approvals).toHaveLength(1);
    // End the run: the workload is free again.
    await clickButton(bot, {
      user: APPROVER,
      message: approvals[0]!,
      action: ACTION_REJECT,
      value: incident.runId,
    });
    await until("finished", finished(incident.key));
    await until("released", async () => (await bot.store.activeRun("default/shop/orders")) === null);
    expect(stack.cluster.mutations()).toHaveLength(0);
  });

  it("a worker killed in the middle of a run: the job is retried and the action runs at most once", async () => {
    for (const w of workers.splice(0)) await w.close();
    let release: () => void = () => undefined;
    const held = new Promise<void>((r) => {
      release = r;
    });
    let killedAt: RunEvent | null = null;
    // The first worker "dies" right after acting: its run hangs there and its lock is never renewed.
    const doomed = startWorker({
      lockDurationMs: 1_000,
      reporters: () => [
        {
          async emit(e: RunEvent) {
            if (e.type === "action.executed" && !killedAt) {
              killedAt = e;
              await held;
            }
          },
        },
      ],
    });
    const s = await reset("hallucinated-diagnosis");
    await fireAlert(s, "deadbeef00000001");
    await until("the first attempt to act", async () => killedAt);
    await doomed.close(true);
    let retried = 0;
    startWorker({
      reporters: () => [
        {
          emit: (e: RunEvent) => {
            if (e.type === "run.started") retried += 1;
          },
        },
      ],
    });
    // The retried attempt starts over on a cluster its first attempt already changed: it must not act
    // again. (It re-diagnoses the rolled-back workload, so it may end resolved or hand over to a human.)
    // Waits for any settled state (a failed run included), then asserts it is not a failure.
    const done = await until(
      "the retried job to settle",
      incidentWithStatus([...FINISHED, "awaiting_approval"]),
    );
    release();
    expect(retried).toBe(1);
    expect(["resolved", "awaiting_approval", "escalated"]).toContain(done.status);
    expect(stack.cluster.mutations().filter((m) => m.name === "checkout")).toHaveLength(1);
    expect(stack.cluster.mutations()).toHaveLength(1);
  });
});
