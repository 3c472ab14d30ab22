import { WebClient } from "@slack/web-api";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ACTION_APPROVE, escalationMessage } from "../../blocks/index.js";
import { sendBlockAction, sendSlashCommand } from "../../sandbox/slack/index.js";
import type { PendingApproval } from "../../src/pipeline/ports.js";
import { requestTimestampProblem, slackRequestId } from "../../src/slack/app.js";
import {
  ALERT_CHANNEL,
  APPROVER,
  APPROVER2,
  BOT_TOKEN,
  type Bot,
  incident,
  PROPOSED,
  SIGNING_SECRET,
  STRANGER,
  startBot,
} from "./app-fixture.js";

const CHANNEL = "C0ONCALL";
const now = () => Math.floor(Date.now() / 1000);

describe("Slack request replays", () => {
  let bot: Bot;
  beforeEach(async () => {
    bot = await startBot();
  });
  afterEach(async () => {
    await bot.close();
  });

  const triage = (text: string, opts: Parameters<typeof sendSlashCommand>[3] = {}, user = STRANGER) =>
    sendSlashCommand(
      bot.eventsUrl,
      SIGNING_SECRET,
      {
        text,
        user_id: user,
        channel_id: CHANNEL,
        response_url: bot.slack.newResponseUrl({ channel: CHANNEL, user }),
      },
      opts,
    );

  it("refuses a valid signature with a timestamp more than five minutes in the future or the past", async () => {
    for (const ts of [now() + 10 * 60, now() + 5 * 60 + 30, now() - 10 * 60]) {
      const res = await triage("triage shop/checkout", { timestampSec: ts });
      expect(res.status, String(ts - now())).toBe(401);
    }
    // Within the window either way: accepted.
    expect((await triage("triage shop/cart", { timestampSec: now() + 60 })).status).toBe(200);
    // The command acks first and enqueues after: wait for its job.
    await vi.waitFor(async () => {
      const jobs = await bot.jobs();
      expect(jobs.map((j) => (j.data as { target: { workload: string } }).target.workload)).toEqual(["cart"]);
    });
  });

  it("the same signed /backstop triage sent twice (same trigger_id) starts one run", async () => {
    const triggerId = "1700000000.123456789.abcdef0123456789abcdef0123456789";
    const ts = now();
    const first = await triage("triage shop/checkout", { triggerId, timestampSec: ts });
    const again = await triage("triage shop/checkout", { triggerId, timestampSec: ts });
    const retried = await triage("triage shop/checkout", { triggerId, retryNum: 1 });
    expect([first.status, again.status, retried.status]).toEqual([200, 200, 200]);
    expect(first.body).toContain("Queued triage");
    expect(again.body).not.toContain("Queued triage");
    // A barrier: a different command's job, queued after the replays were answered.
    await triage("triage shop/barrier");
    const workloads = async () =>
      (await bot.jobs()).map((j) => (j.data as { target: { workload: string } }).target.workload).sort();
    await vi.waitFor(async () => expect(await workloads()).toContain("barrier"));
    expect(await workloads()).toEqual(["barrier", "checkout"]);
  });

  it("a second /backstop triage of a workload with an active run joins it instead of starting another", async () => {
    expect((await triage("triage shop/checkout first")).status).toBe(200);
    await vi.waitFor(async () => expect(await bot.jobs()).toHaveLength(1));
    expect((await triage("triage shop/checkout second")).status).toBe(200);
    await vi.waitFor(() =>
      expect(JSON.stringify(bot.slack.responses().map((r) => r.body))).toContain("joined it, no second run"),
    );
    expect(await bot.jobs()).toHaveLength(1);
    // The join is noted where the active run is (its thread, or the channel before it has one).
    await vi.waitFor(() =>
      expect(bot.slack.messages(CHANNEL).some((m) => m.text.includes("no second run"))).toBe(true),
    );
  });

  it("a replayed Approve click (same trigger_id) makes one decision", async () => {
    const runId = "run-am-replay0001";
    const key = "am-replay0001";
    const client = new WebClient(BOT_TOKEN, { slackApiUrl: bot.slack.apiUrl, retryConfig: { retries: 0 } });
    const root = await client.chat.postMessage({ channel: ALERT_CHANNEL, text: "incident root" });
    const esc = escalationMessage({
      runId,
      reason: "approval needed",
      proposedAction: PROPOSED,
      hypothesis: null,
      failedRules: [],
      approvers: [APPROVER],
      expiresAt: "2026-11-21T12:30:00.000Z",
    });
    const escalation = await client.chat.postMessage({ channel: ALERT_CHANNEL, thread_ts: root.ts!, ...esc });
    await bot.store.saveIncident(incident(key, runId));
    await bot.store.savePending({
      runId,
      incidentKey: key,
      pending: {
        runId,
        target: { namespace: "shop", workload: "checkout" },
        reason: "approval needed",
        proposedAction: PROPOSED,
        events: [],
      } as unknown as PendingApproval,
      status: "pending",
      expiresAt: "2026-11-21T12:30:00.000Z",
      channel: ALERT_CHANNEL,
      threadTs: root.ts!,
      escalationTs: escalation.ts!,
    });
    const click = (user: string, triggerId: string, retryNum?: number) =>
      sendBlockAction(
        bot.eventsUrl,
        SIGNING_SECRET,
        {
          user_id: user,
          channel_id: ALERT_CHANNEL,
          message_ts: escalation.ts!,
          thread_ts: root.ts!,
          action_id: ACTION_APPROVE,
          value: runId,
          response_url: bot.slack.newResponseUrl({ channel: ALERT_CHANNEL, user }),
          message: esc,
        },
        { triggerId, ...(retryNum ? { retryNum } : {}) },
      );
    expect((await click(APPROVER, "1700000001.1.replayedclick")).status).toBe(200);
    await vi.waitFor(() => expect(bot.decisionCalls).toHaveLength(1));
    // The replays (one marked as a retry) are dropped before any listener sees them.
    expect((await click(APPROVER, "1700000001.1.replayedclick")).status).toBe(200);
    expect((await click(APPROVER, "1700000001.1.replayedclick", 1)).status).toBe(200);
    // A barrier: a different approver's own click takes the listener's path and is told it was decided.
    expect((await click(APPROVER2, "1700000002.2.otherclick")).status).toBe(200);
    await vi.waitFor(() =>
      expect(
        bot.slack
          .ephemerals(APPROVER2)
          .map((m) => m.text)
          .join("\n"),
      ).toContain("already decided"),
    );
    expect(bot.slack.ephemerals(APPROVER)).toHaveLength(0);
    expect(bot.decisionCalls).toHaveLength(1);
    expect((await bot.store.getPending(runId))?.status).toBe("approved");
    expect((await bot.jobs()).filter((j) => j.name === "decision")).toHaveLength(1);
  });
});

describe("replay helpers", () => {
  it("requestTimestampProblem refuses only the far future; the past is Bolt's", () => {
    const at = 1_800_000_000_000;
    expect(requestTimestampProblem(String(at / 1000 + 301), at)).toContain("in the future");
    expect(requestTimestampProblem(String(at / 1000 + 300), at)).toBeNull();
    expect(requestTimestampProblem(String(at / 1000 - 10_000), at)).toBeNull();
    expect(requestTimestampProblem(undefined, at)).toBeNull();
    expect(requestTimestampProblem("abc", at)).toBeNull();
  });
  it("slackRequestId names trigger_id or event_id", () => {
    expect(slackRequestId({ trigger_id: "t1" })).toBe("trigger_id=t1");
    expect(slackRequestId({ event_id: "Ev1" })).toBe("event_id=Ev1");
    expect(slackRequestId({})).toBeNull();
  });
});
