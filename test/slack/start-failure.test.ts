import type { Worker } from "bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sendSlashCommand } from "../../sandbox/slack/index.js";
import { BackstopError } from "../../src/errors.js";
import type { RunWorld } from "../../src/queue/world.js";
import { startBotWorker } from "../fixtures/bot-world.js";
import { ALERT_CHANNEL, APPROVER, type Bot, SIGNING_SECRET, startBot } from "./app-fixture.js";

// When a run cannot even start (the infra MCP server is down), BullMQ retries it, and after the last
// attempt the channel hears about it: the incident is marked failed, nothing is lost in silence.
let bot: Bot;
let worker: Worker;
let opens = 0;
const downWorld: RunWorld = {
  recoveryTimeoutMs: 1_000,
  signalsWindow: "15m",
  async open() {
    opens += 1;
    throw new BackstopError("mcp.unavailable", "cannot reach the infra MCP server at http://127.0.0.1:9/mcp");
  },
};

beforeAll(async () => {
  bot = await startBot({ clock: () => new Date() });
  worker = startBotWorker(bot, downWorld, {
    concurrency: 1,
    approvers: [APPROVER],
    approvalTimeoutMs: 60_000,
  });
});
afterAll(async () => {
  await worker?.close(true);
  await bot?.close();
});

describe("a run that cannot start", () => {
  it("is retried, then marked failed with a message in the channel", async () => {
    const res = await sendSlashCommand(bot.eventsUrl, SIGNING_SECRET, {
      text: "triage shop/checkout",
      user_id: APPROVER,
      channel_id: ALERT_CHANNEL,
      response_url: bot.slack.newResponseUrl(),
    });
    expect(res.status).toBe(200);
    const deadline = Date.now() + 20_000;
    let failed = null;
    while (!failed && Date.now() < deadline) {
      failed = (await bot.store.recentIncidents(5)).find((i) => i.status === "failed") ?? null;
      if (!failed) await new Promise((r) => setTimeout(r, 100));
    }
    expect(failed?.summary).toContain("cannot reach the infra MCP server");
    expect(opens).toBe(3);
    const said = bot.slack.messages(ALERT_CHANNEL).map((m) => m.text);
    expect(said.some((t) => t.includes("could not start triage of default/shop/checkout"))).toBe(true);
  }, 30_000);
});
