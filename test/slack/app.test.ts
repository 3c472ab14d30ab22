import { WebClient } from "@slack/web-api";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { escalationMessage } from "../../blocks/index.js";
import { sendBlockAction } from "../../sandbox/slack/index.js";
import { isBackstopError } from "../../src/errors.js";
import type { PendingApproval } from "../../src/pipeline/ports.js";
import { createBackstopApp } from "../../src/slack/app.js";
import {
  ALERT_CHANNEL,
  APPROVER,
  APPROVER2,
  BOT_TOKEN,
  type Bot,
  GROUP_MEMBER,
  incident,
  PROPOSED,
  SIGNING_SECRET,
  STRANGER,
  signedReceiptText,
  startBot,
} from "./app-fixture.js";

/** Posts an incident root and an escalation with buttons in its thread, and saves the pending approval. */
async function escalate(
  bot: Bot,
  runId: string,
): Promise<{ rootTs: string; escalationTs: string; blocks: unknown[] }> {
  const client = new WebClient(BOT_TOKEN, { slackApiUrl: bot.slack.apiUrl, retryConfig: { retries: 0 } });
  const key = runId.replace(/^run-/, "");
  const root = await client.chat.postMessage({ channel: ALERT_CHANNEL, text: `incident ${key}` });
  const msg = escalationMessage({
    runId,
    reason: "anomaly budget tripped",
    proposedAction: PROPOSED,
    hypothesis: "bad deploy",
    failedRules: ["sha_in_history"],
    approvers: [APPROVER],
    expiresAt: "2026-11-21T12:30:00.000Z",
  });
  const esc = await client.chat.postMessage({ channel: ALERT_CHANNEL, thread_ts: root.ts!, ...msg });
  await bot.store.saveIncident(incident(key, runId));
  const pending: PendingApproval = {
    runId,
    target: { namespace: "shop", workload: "checkout" },
    reason: "anomaly budget tripped",
    proposedAction: PROPOSED,
    hypothesis: "bad deploy",
    events: [],
    totals: { modelCalls: 2, fallbacks: 0, tokens: { input: 10, output: 5 }, costUsd: 0.01 },
    startedAt: "2026-11-21T11:50:00.000Z",
  };
  await bot.store.savePending({
    runId,
    incidentKey: key,
    pending,
    status: "pending",
    expiresAt: "2026-11-21T12:30:00.000Z",
    channel: ALERT_CHANNEL,
    threadTs: root.ts!,
    escalationTs: esc.ts!,
  });
  return { rootTs: root.ts!, escalationTs: esc.ts!, blocks: msg.blocks };
}

describe("approvals", () => {
  let bot: Bot;
  beforeAll(async () => {
    bot = await startBot();
  });
  afterAll(async () => {
    await bot.close();
  });

  const click = (
    user: string,
    e: { rootTs: string; escalationTs: string; blocks: unknown[] },
    runId: string,
    actionId: string,
  ) =>
    sendBlockAction(bot.eventsUrl, SIGNING_SECRET, {
      user_id: user,
      channel_id: ALERT_CHANNEL,
      message_ts: e.escalationTs,
      thread_ts: e.rootTs,
      action_id: actionId,
      value: runId,
      response_url: bot.slack.newResponseUrl({ channel: ALERT_CHANNEL, user }),
      message: { text: "escalation", blocks: e.blocks },
    });

  it("a non-approver's click is refused ephemerally and changes nothing", async () => {
    const runId = "run-am-refused";
    const e = await escalate(bot, runId);
    const res = await click(STRANGER, e, runId, "backstop_approve");
    expect(res.status).toBe(200);
    await vi.waitFor(() => expect(bot.slack.ephemerals(STRANGER).length).toBe(1));
    expect(bot.slack.ephemerals(STRANGER)[0]?.text).toContain("Only approvers");
    expect((await bot.store.getPending(runId))?.status).toBe("pending");
    expect(bot.decisionCalls.filter((d) => d.runId === runId)).toHaveLength(0);
    expect(bot.slack.calls().some((c) => c.method === "chat.update" && c.args.ts === e.escalationTs)).toBe(
      false,
    );
  });

  it("an approver's double click and a second approver make exactly one decision job", async () => {
    const runId = "run-am-double";
    const e = await escalate(bot, runId);
    const results = await Promise.all([
      click(APPROVER, e, runId, "backstop_approve"),
      click(APPROVER, e, runId, "backstop_approve"),
      click(APPROVER2, e, runId, "backstop_reject"),
    ]);
    expect(results.map((r) => r.status)).toEqual([200, 200, 200]);
    // Two losers are told who decided.
    await vi.waitFor(() =>
      expect(
        bot.slack.ephemerals().filter((m) => m.text.includes(runId) && m.text.includes("already decided")),
      ).toHaveLength(2),
    );
    const calls = bot.decisionCalls.filter((d) => d.runId === runId);
    expect(calls).toHaveLength(1);
    const pending = await bot.store.getPending(runId);
    expect(pending?.status).toBe(calls[0]?.decision);
    expect(pending?.decidedBy).toBe(calls[0]?.by);
    expect(calls[0]?.at).toBe("2026-11-21T12:00:00.000Z");
    const jobs = (await bot.jobs()).filter((j) => j.name === "decision");
    expect(jobs.map((j) => j.id)).toEqual([`decision-${runId}`]);
    expect(jobs[0]?.data).toMatchObject({ runId, decision: calls[0]?.decision, by: calls[0]?.by });
    // The escalation's buttons are replaced by the decision.
    await vi.waitFor(() => {
      const updated = bot.slack.thread(ALERT_CHANNEL, e.rootTs).find((m) => m.ts === e.escalationTs);
      expect(updated?.edited).toBe(true);
      expect(JSON.stringify(updated?.blocks)).not.toContain("backstop_approve");
    });
  });

  it("a member of the approver user group may decide", async () => {
    const runId = "run-am-group";
    const e = await escalate(bot, runId);
    await click(GROUP_MEMBER, e, runId, "backstop_reject");
    await vi.waitFor(() => expect(bot.decisionCalls.filter((d) => d.runId === runId)).toHaveLength(1));
    expect(bot.decisionCalls.find((d) => d.runId === runId)).toMatchObject({
      decision: "rejected",
      by: GROUP_MEMBER,
    });
    expect((await bot.store.getPending(runId))?.status).toBe("rejected");
  });

  it("a click on a run with nothing pending, or a bad value, changes nothing", async () => {
    const e = await escalate(bot, "run-am-other");
    await click(APPROVER, e, "run-am-nothing", "backstop_approve");
    await click(APPROVER, e, "not a run id", "backstop_approve");
    await vi.waitFor(() => {
      const texts = bot.slack.ephemerals(APPROVER).map((m) => m.text);
      expect(texts.some((t) => t.includes("No decision is pending for run-am-nothing"))).toBe(true);
      expect(texts.some((t) => t.includes("does not name a run"))).toBe(true);
    });
    expect(bot.decisionCalls.filter((d) => d.runId === "run-am-nothing")).toHaveLength(0);
  });

  it("Download receipt uploads the stored receipt into the thread it was clicked in", async () => {
    const runId = "run-am-download";
    const e = await escalate(bot, runId);
    const text = signedReceiptText(runId);
    await bot.store.saveReceipt(runId, text);
    await click(STRANGER, e, runId, "backstop_receipt");
    await vi.waitFor(() => expect(bot.slack.files().filter((f) => f.name.includes(runId))).toHaveLength(1));
    const file = bot.slack.files().find((f) => f.name.includes(runId))!;
    expect(file.channel).toBe(ALERT_CHANNEL);
    expect(file.thread_ts).toBe(e.rootTs);
    expect(file.bytes.toString("utf8")).toBe(text);
  });

  it("Download receipt for a run without a receipt tells the user", async () => {
    const runId = "run-am-noreceipt";
    const e = await escalate(bot, runId);
    await click(STRANGER, e, runId, "backstop_receipt");
    await vi.waitFor(() =>
      expect(
        bot.slack.ephemerals(STRANGER).some((m) => m.text.includes(`No receipt is stored for run ${runId}`)),
      ).toBe(true),
    );
    expect(bot.slack.files().filter((f) => f.name.includes(runId))).toHaveLength(0);
  });
});

describe("createBackstopApp settings", () => {
  const base = {
    mode: "http" as const,
    botToken: BOT_TOKEN,
    signingSecret: SIGNING_SECRET,
    botUserId: "U0BACKSTOP",
    botId: "B0BACKSTOP",
    port: 0,
    alertChannel: ALERT_CHANNEL,
    alertWebhookToken: "alert-token-0123456789abcdef",
    approvers: { users: [APPROVER] },
    approvalTimeoutMs: 1000,
  };
  const deps = {
    producer: {
      enqueueRun: async () => ({ jobId: "x", deduplicated: false }),
      addRun: async () => ({ jobId: "x" }),
      jobKeyPrefix: "bull:runs:",
      enqueueDecision: async () => {},
    },
    store: {} as never,
  };

  it("socket mode without an app token is a clear BackstopError", () => {
    let err: unknown;
    try {
      createBackstopApp({ ...base, mode: "socket" }, deps);
    } catch (e) {
      err = e;
    }
    expect(isBackstopError(err, "slack.config")).toBe(true);
    expect((err as Error).message).toContain("appToken");
  });

  it("socket mode with an app token builds a Socket Mode app without connecting", async () => {
    const built = createBackstopApp({ ...base, mode: "socket", appToken: "xapp-1-test" }, deps);
    expect(built.app).toBeDefined();
    await built.stop(); // never started: a no-op
  });

  it("a short alert token is refused", () => {
    expect(() => createBackstopApp({ ...base, alertWebhookToken: "short" }, deps)).toThrow(
      /alertWebhookToken/,
    );
  });
});
