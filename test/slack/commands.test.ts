import { WebClient } from "@slack/web-api";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { sendSlashCommand, signSlackRequest } from "../../sandbox/slack/index.js";
import { verifyReceiptText } from "../../src/receipt/index.js";
import { parseCommandText } from "../../src/slack/commands/index.js";
import {
  ALERT_CHANNEL,
  BOT_TOKEN,
  type Bot,
  incident,
  SIGNING_SECRET,
  STRANGER,
  signedReceiptText,
  startBot,
} from "./app-fixture.js";

const CHANNEL = "C0ONCALL";

describe("parseCommandText", () => {
  it("splits subcommands and their arguments", () => {
    expect(parseCommandText("")).toEqual({ sub: "help" });
    expect(parseCommandText("  HELP ")).toEqual({ sub: "help" });
    expect(parseCommandText("triage shop/checkout pods are  crashlooping")).toEqual({
      sub: "triage",
      ref: "shop/checkout",
      note: "pods are crashlooping",
    });
    expect(parseCommandText("status")).toEqual({ sub: "status", runId: null });
    expect(parseCommandText("status run-am-1234")).toEqual({ sub: "status", runId: "run-am-1234" });
    expect(parseCommandText("receipt run-x")).toEqual({ sub: "receipt", runId: "run-x" });
    expect(parseCommandText("rollback shop/checkout")).toEqual({ sub: "unknown", word: "rollback" });
  });

  it("refuses missing and malformed arguments with the expected form", () => {
    expect(parseCommandText("triage")).toMatchObject({
      sub: "invalid",
      usage: expect.stringContaining("triage"),
    });
    expect(parseCommandText("receipt")).toMatchObject({ sub: "invalid", error: "receipt needs a run id" });
    expect(parseCommandText("status ../../etc")).toMatchObject({
      sub: "invalid",
      error: expect.stringContaining("not a run id"),
    });
    const long = parseCommandText(`triage a/b ${"x".repeat(2000)}`);
    // Kept whole: the pipeline redacts the note first, then cuts it (nothing is cut before redaction).
    expect(long.sub === "triage" && long.note?.length).toBe(2000);
  });
});

describe("/backstop over signed HTTP", () => {
  let bot: Bot;
  beforeAll(async () => {
    bot = await startBot({ nonces: ["n1", "n2", "n3", "n4"] });
  });
  afterAll(async () => {
    await bot.close();
  });

  const send = (
    text: string,
    opts: { timestampSec?: number; forgeSignature?: boolean } = {},
    user = STRANGER,
  ) =>
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

  it("triage acks with an ephemeral line and queues one run with the command's data", async () => {
    const res = await send("triage shop/checkout checkout 500s since the deploy");
    expect(res.status).toBe(200);
    const body = JSON.parse(res.body) as { response_type: string; text: string };
    expect(body.response_type).toBe("ephemeral");
    expect(body.text).toContain(
      "Queued triage of shop/checkout in cluster default (run run-cmd-default-shop-checkout-n1)",
    );
    await vi.waitFor(async () => expect(await bot.jobs()).toHaveLength(1));
    const [job] = await bot.jobs();
    expect(job?.id).toBe("cmd-default-shop-checkout-n1");
    expect(job?.name).toBe("triage");
    expect(job?.data).toMatchObject({
      runId: "run-cmd-default-shop-checkout-n1",
      cluster: "default",
      trigger: "command",
      incidentKey: "cmd-default-shop-checkout-n1",
      target: { namespace: "shop", workload: "checkout" },
      alert: null,
      note: "checkout 500s since the deploy",
      requestedBy: STRANGER,
      slack: { channel: CHANNEL, responseUrl: expect.stringContaining("/response/") },
    });
    expect(JSON.stringify(job?.data)).not.toContain("xoxb-");
  });

  it("a malformed workload ref gets the expected form and queues nothing", async () => {
    const before = (await bot.jobs()).length;
    for (const text of ["triage shop", "triage Shop/Checkout", "triage shop/checkout/extra", "triage"]) {
      const res = await send(text);
      expect(res.status).toBe(200);
      const body = JSON.parse(res.body) as { response_type: string; text: string };
      expect(body.response_type).toBe("ephemeral");
      expect(body.text).toContain("&lt;namespace&gt;/&lt;workload&gt;"); // escaped as Slack requires
    }
    // A valid command afterwards is a barrier: once it is queued, any earlier enqueue would be too.
    await send("triage shop/cart");
    await vi.waitFor(async () =>
      expect((await bot.jobs()).some((j) => j.id.startsWith("cmd-default-shop-cart-"))).toBe(true),
    );
    expect((await bot.jobs()).length).toBe(before + 1);
  });

  it("help and an unknown subcommand answer ephemerally with the usage", async () => {
    const help = JSON.parse((await send("help")).body) as { text: string; blocks: { type: string }[] };
    expect(help.text).toContain("/backstop triage");
    expect(help.blocks.length).toBeGreaterThan(0);
    const empty = JSON.parse((await send("")).body) as { text: string };
    expect(empty.text).toBe(help.text);
    const unknown = JSON.parse((await send("delete shop/checkout")).body) as {
      response_type: string;
      text: string;
    };
    expect(unknown.response_type).toBe("ephemeral");
    expect(unknown.text).toContain('Unknown subcommand "delete"');
    expect(unknown.text).toContain("/backstop triage");
  });

  it("a forged signature or a stale timestamp gets 401 and queues nothing", async () => {
    const before = (await bot.jobs()).length;
    const forged = await send("triage shop/forged", { forgeSignature: true });
    expect(forged.status).toBe(401);
    const stale = await send("triage shop/stale", { timestampSec: Math.floor(Date.now() / 1000) - 6 * 60 });
    expect(stale.status).toBe(401);
    const unsigned = await fetch(bot.eventsUrl, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "command=%2Fbackstop&text=triage+shop%2Funsigned",
    });
    expect(unsigned.status).toBe(401);
    await send("triage shop/barrier");
    await vi.waitFor(async () =>
      expect((await bot.jobs()).some((j) => j.id.startsWith("cmd-default-shop-barrier-"))).toBe(true),
    );
    const ids = (await bot.jobs()).map((j) => j.id);
    expect(ids.some((id) => /forged|stale|unsigned/.test(id))).toBe(false);
    expect(ids.length).toBe(before + 1);
  });

  it("status lists recent incidents, or one, through response_url", async () => {
    await bot.store.saveIncident(incident("am-status1", "run-am-status1", { workload: "payments" }));
    const res = await send("status");
    expect(res.status).toBe(200);
    await vi.waitFor(() => expect(bot.slack.responses().length).toBeGreaterThan(0));
    const listed = bot.slack.responses().at(-1)?.body as {
      response_type: string;
      text: string;
      blocks: unknown[];
    };
    expect(listed.response_type).toBe("ephemeral");
    expect(JSON.stringify(listed)).toContain("payments");

    const count = bot.slack.responses().length;
    await send("status run-am-status1");
    await vi.waitFor(() => expect(bot.slack.responses().length).toBe(count + 1));
    expect(JSON.stringify(bot.slack.responses().at(-1)?.body)).toContain("shop/payments");

    await send("status run-nope");
    await vi.waitFor(() => expect(bot.slack.responses().length).toBe(count + 2));
    expect(JSON.stringify(bot.slack.responses().at(-1)?.body)).toContain("No run run-nope is known");
  });

  it("receipt of an unknown run answers with an error and uploads nothing", async () => {
    const count = bot.slack.responses().length;
    await send("receipt run-missing");
    await vi.waitFor(() => expect(bot.slack.responses().length).toBe(count + 1));
    expect(JSON.stringify(bot.slack.responses().at(-1)?.body)).toContain(
      "No receipt is stored for run run-missing",
    );
    expect(bot.slack.files()).toHaveLength(0);
  });

  it("receipt <run> uploads the stored receipt, byte for byte, into the incident's thread", async () => {
    const runId = "run-am-withreceipt";
    const text = signedReceiptText(runId);
    const client = new WebClient(BOT_TOKEN, { slackApiUrl: bot.slack.apiUrl, retryConfig: { retries: 0 } });
    const root = await client.chat.postMessage({ channel: ALERT_CHANNEL, text: "incident root" });
    await bot.store.saveIncident(incident("am-withreceipt", runId));
    await bot.store.claimThread("am-withreceipt", { channel: ALERT_CHANNEL, ts: root.ts! });
    await bot.store.saveReceipt(runId, text);
    const count = bot.slack.responses().length;
    await send(`receipt ${runId}`);
    await vi.waitFor(() => expect(bot.slack.files()).toHaveLength(1));
    const file = bot.slack.files()[0]!;
    expect(file.channel).toBe(ALERT_CHANNEL);
    expect(file.thread_ts).toBe(root.ts);
    expect(file.bytes.toString("utf8")).toBe(text);
    expect(verifyReceiptText(file.bytes.toString("utf8")).ok).toBe(true);
    await vi.waitFor(() => expect(bot.slack.responses().length).toBe(count + 1));
    expect(JSON.stringify(bot.slack.responses().at(-1)?.body)).toContain("Uploaded the signed receipt");
  });

  it("app_mention gets the help in its thread", async () => {
    const body = JSON.stringify({
      token: "t",
      team_id: "T0SANDBOX",
      api_app_id: "A0BACKSTOP",
      type: "event_callback",
      event_id: "Ev0001",
      event_time: Math.floor(Date.now() / 1000),
      event: {
        type: "app_mention",
        user: STRANGER,
        text: "<@U0BACKSTOP> help?",
        ts: "1763726400.000100",
        channel: CHANNEL,
        event_ts: "1763726400.000100",
      },
      authorizations: [{ team_id: "T0SANDBOX", user_id: "U0BACKSTOP", is_bot: true }],
    });
    const res = await fetch(bot.eventsUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json", ...signSlackRequest(SIGNING_SECRET, body) },
      body,
    });
    expect(res.status).toBe(200);
    await vi.waitFor(() =>
      expect(
        bot.slack
          .calls()
          .some((c) => c.method === "chat.postMessage" && c.args.thread_ts === "1763726400.000100"),
      ).toBe(true),
    );
  });
});
