import { createSecretKey } from "node:crypto";
import type { Worker } from "bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sandboxRunWorld } from "../../sandbox/run-world.js";
import { sendSlashCommand } from "../../sandbox/slack/index.js";
import type { RunWorld } from "../../src/queue/world.js";
import { type BotWorld, namedScenario, startBotWorker, startBotWorld } from "../fixtures/bot-world.js";
import { ALERT_CHANNEL, APPROVER, SIGNING_SECRET } from "../slack/app-fixture.js";

// The run posts to Slack in the background and the job waits for its thread at its end: also when
// the run fails. A run whose receipt cannot be signed (a secret key where an Ed25519 private key is required) fails
// after every event was emitted; by the time BullMQ sees the attempt fail, the thread already holds
// the replies (without that wait they would go out only when the reply gather timer fires, 500 ms on).
let world: BotWorld;
let worker: Worker;

beforeAll(async () => {
  world = await startBotWorld({ scenario: namedScenario("clean-signal") });
  const base = sandboxRunWorld(world.stack, { signingKey: world.key, recoveryTimeoutMs: 20_000 });
  // A secret (HMAC) key where an Ed25519 private key is required: signing throws.
  const wrong = createSecretKey(Buffer.alloc(32, 1));
  const unsignable: RunWorld = {
    ...base,
    open: async (run) => {
      const opened = await base.open(run);
      return {
        ...opened,
        deps: { ...opened.deps, signingKey: { ...opened.deps.signingKey, privateKey: wrong } },
      };
    },
  };
  worker = startBotWorker(world.bot, unsignable, { concurrency: 1, approvers: [APPROVER] });
  world.workers.push(worker);
}, 60_000);
afterAll(async () => {
  await world?.close();
});

describe("a run that fails after it started", () => {
  it("has its thread posted before the job's attempt fails, without a receipt line", async () => {
    const atFailure = new Promise<{ err: string; replies: string[] }>((resolve) => {
      worker.once("failed", (_job, err) => {
        const root = world.bot.slack.messages(ALERT_CHANNEL).find((m) => m.thread_ts === null);
        const replies = root ? world.bot.slack.thread(ALERT_CHANNEL, root.ts).slice(1) : [];
        resolve({ err: err.message, replies: replies.map((m) => m.text) });
      });
    });
    const res = await sendSlashCommand(world.bot.eventsUrl, SIGNING_SECRET, {
      text: "triage shop/catalog",
      user_id: APPROVER,
      channel_id: ALERT_CHANNEL,
      response_url: world.bot.slack.newResponseUrl(),
    });
    expect(res.status).toBe(200);
    const { err, replies } = await atFailure;
    expect(err).not.toBe("");
    const said = replies.join("\n");
    // The first burst and the last ones (the run's end came just before the signing failed).
    expect(said).toContain("Signals for shop/catalog");
    expect(said).toContain("Ticket filed");
    // No receipt was stored, so the thread offers none to download.
    expect(said).not.toContain("Receipt for run");
  }, 60_000);
});
