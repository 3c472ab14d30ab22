import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { App, type BlockAction, type ButtonAction, LogLevel, verifySlackRequest } from "@slack/bolt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type SandboxSlack,
  sendBlockAction,
  sendEvent,
  sendSlashCommand,
  signSlackRequest,
  startSandboxSlack,
} from "../../sandbox/slack/index.js";

const SECRET = "8f742231b10e8888abcd99yyyzzz85a5";
const TOKEN = "xoxb-sandbox-signing-token";
const CH = "C0INCIDENTS";

function verify(body: string, headers: Record<string, string>, secret = SECRET): void {
  verifySlackRequest({
    signingSecret: secret,
    body,
    headers: {
      "x-slack-signature": headers["X-Slack-Signature"] ?? "",
      "x-slack-request-timestamp": Number(headers["X-Slack-Request-Timestamp"]),
    },
  });
}

describe("signSlackRequest", () => {
  it("produces headers Bolt's own verifier accepts", () => {
    const body = "token=x&command=%2Fbackstop&text=help";
    const headers = signSlackRequest(SECRET, body);
    expect(headers["X-Slack-Signature"]).toMatch(/^v0=[0-9a-f]{64}$/);
    expect(() => verify(body, headers)).not.toThrow();
  });

  it("matches Slack's documented example signature", () => {
    // https://docs.slack.dev/authentication/verifying-requests-from-slack (the worked example).
    const body =
      "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const headers = signSlackRequest(SECRET, body, 1531420618);
    expect(headers["X-Slack-Signature"]).toBe(
      "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
    );
  });

  it("a tampered body, a wrong secret or a stale timestamp fails verification", () => {
    const body = "text=triage+payments%2Fapi";
    const headers = signSlackRequest(SECRET, body);
    expect(() => verify(`${body}x`, headers)).toThrow(/signature mismatch/);
    expect(() => verify(body, headers, "another-secret")).toThrow(/signature mismatch/);
    const old = signSlackRequest(SECRET, body, Math.floor(Date.now() / 1000) - 6 * 60);
    expect(() => verify(body, old)).toThrow(/stale/);
  });

  it("refuses an empty secret", () => {
    expect(() => signSlackRequest("", "x")).toThrow(/signing secret/);
  });
});

/** Captures what the helpers put on the wire. */
describe("the wire format of the senders", () => {
  let server: Server;
  let target = "";
  const seen: { headers: Record<string, string | string[] | undefined>; body: string }[] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        seen.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
        res.writeHead(200).end("");
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    target = `http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/events`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it("a slash command is a signed form with Slack's fields; forgeSignature breaks the signature", async () => {
    const r = await sendSlashCommand(target, SECRET, {
      text: "triage payments/api 5xx after deploy",
      user_id: "U0ALICE",
      channel_id: CH,
      response_url: "http://127.0.0.1:1/response/x",
    });
    expect(r.status).toBe(200);
    const req = seen.at(-1)!;
    expect(req.headers["content-type"]).toBe("application/x-www-form-urlencoded");
    const form = new URLSearchParams(req.body);
    expect(form.get("command")).toBe("/backstop");
    expect(form.get("text")).toBe("triage payments/api 5xx after deploy");
    expect(form.get("user_id")).toBe("U0ALICE");
    expect(form.get("channel_id")).toBe(CH);
    expect(form.get("trigger_id")).toMatch(/^\d+\.\d+\.[0-9a-f]+$/);
    const headers = {
      "X-Slack-Signature": String(req.headers["x-slack-signature"]),
      "X-Slack-Request-Timestamp": String(req.headers["x-slack-request-timestamp"]),
    };
    expect(() => verify(req.body, headers)).not.toThrow();

    await sendSlashCommand(
      target,
      SECRET,
      { text: "help", user_id: "U0ALICE", channel_id: CH, response_url: "x" },
      { forgeSignature: true },
    );
    const forged = seen.at(-1)!;
    expect(() =>
      verify(forged.body, {
        "X-Slack-Signature": String(forged.headers["x-slack-signature"]),
        "X-Slack-Request-Timestamp": String(forged.headers["x-slack-request-timestamp"]),
      }),
    ).toThrow(/signature mismatch/);
  });

  it("a block action carries one payload field with the block_actions JSON", async () => {
    const blocks = [
      {
        type: "actions",
        block_id: "decision",
        elements: [
          {
            type: "button",
            action_id: "approve",
            text: { type: "plain_text", text: "Approve" },
            value: "run-1",
          },
        ],
      },
    ];
    await sendBlockAction(target, SECRET, {
      user_id: "U0ALICE",
      channel_id: CH,
      message_ts: "1763731200.000200",
      thread_ts: "1763731200.000100",
      action_id: "approve",
      value: "run-1",
      response_url: "http://127.0.0.1:1/response/y",
      message: { text: "Escalation", blocks },
    });
    const req = seen.at(-1)!;
    const form = new URLSearchParams(req.body);
    expect([...form.keys()]).toEqual(["payload"]);
    const p = JSON.parse(form.get("payload")!);
    expect(p).toMatchObject({
      type: "block_actions",
      user: { id: "U0ALICE" },
      container: { type: "message", message_ts: "1763731200.000200", channel_id: CH, is_ephemeral: false },
      channel: { id: CH },
      message: { ts: "1763731200.000200", thread_ts: "1763731200.000100", blocks },
      response_url: "http://127.0.0.1:1/response/y",
    });
    expect(p.actions).toEqual([
      {
        action_id: "approve",
        block_id: "decision",
        text: { type: "plain_text", text: "Approve" },
        value: "run-1",
        type: "button",
        action_ts: expect.stringMatching(/^\d{10}\.\d{6}$/),
      },
    ]);
  });
});

describe("a real Bolt app against the sandbox Slack", () => {
  let slack: SandboxSlack;
  let app: App;
  let target = "";
  const clicks: { user: string; value: string }[] = [];
  const mentions: { text: string; retry: number | undefined }[] = [];

  beforeAll(async () => {
    slack = await startSandboxSlack({ botToken: TOKEN, users: [{ id: "U0ALICE", name: "alice" }] });
    app = new App({
      token: TOKEN,
      signingSecret: SECRET,
      logLevel: LogLevel.ERROR,
      clientOptions: { slackApiUrl: slack.apiUrl, retryConfig: { retries: 0 } },
    });
    app.command("/backstop", async ({ ack, command, respond, client }) => {
      await ack();
      if (command.text === "help") {
        await respond({ text: "Usage: /backstop triage <namespace>/<workload>" });
        return;
      }
      await client.chat.postMessage({
        channel: command.channel_id,
        text: `Triage ${command.text}`,
        blocks: [
          {
            type: "actions",
            block_id: "decision",
            elements: [
              {
                type: "button",
                action_id: "approve",
                text: { type: "plain_text", text: "Approve" },
                value: "r1",
              },
            ],
          },
        ],
      });
    });
    app.action<BlockAction<ButtonAction>>("approve", async ({ ack, body, action, client }) => {
      await ack();
      clicks.push({ user: body.user.id, value: action.value ?? "" });
      await client.chat.update({
        channel: body.channel!.id,
        ts: body.message!.ts,
        text: `Approved by <@${body.user.id}>`,
        blocks: [],
      });
    });
    app.event("app_mention", async ({ event, context }) => {
      mentions.push({ text: event.text, retry: context.retryNum });
    });
    const server = (await app.start(0)) as Server;
    target = `http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/events`;
  });
  afterAll(async () => {
    await app.stop();
    await slack.close();
  });

  it("a signed slash command reaches the listener and its respond() lands as an ephemeral", async () => {
    const r = await sendSlashCommand(target, SECRET, {
      text: "help",
      user_id: "U0ALICE",
      channel_id: CH,
      response_url: slack.newResponseUrl({ channel: CH, user: "U0ALICE" }),
    });
    expect(r.status).toBe(200);
    await expect
      .poll(() => slack.ephemerals("U0ALICE").map((m) => m.text))
      .toEqual(["Usage: /backstop triage <namespace>/<workload>"]);
  });

  it("a forged or stale request is refused with 401 and runs nothing", async () => {
    const before = slack.calls().length;
    const cmd = { text: "triage payments/api", user_id: "U0ALICE", channel_id: CH, response_url: "x" };
    expect((await sendSlashCommand(target, SECRET, cmd, { forgeSignature: true })).status).toBe(401);
    const stale = Math.floor(Date.now() / 1000) - 10 * 60;
    expect((await sendSlashCommand(target, SECRET, cmd, { timestampSec: stale })).status).toBe(401);
    expect(
      slack
        .calls()
        .slice(before)
        .filter((c) => c.method !== "auth.test"),
    ).toEqual([]);
  });

  it("a command posts through the sandbox and a click on its button updates it in place", async () => {
    await sendSlashCommand(target, SECRET, {
      text: "payments/api",
      user_id: "U0ALICE",
      channel_id: CH,
      response_url: slack.newResponseUrl({ channel: CH, user: "U0ALICE" }),
    });
    await expect.poll(() => slack.messages(CH).length).toBe(1);
    const posted = slack.messages(CH)[0]!;
    const r = await sendBlockAction(target, SECRET, {
      user_id: "U0ALICE",
      channel_id: CH,
      message_ts: posted.ts,
      action_id: "approve",
      value: "r1",
      response_url: slack.newResponseUrl({ channel: CH, user: "U0ALICE", message_ts: posted.ts }),
      message: { text: posted.text, blocks: posted.blocks },
    });
    expect(r.status).toBe(200);
    expect(clicks).toEqual([{ user: "U0ALICE", value: "r1" }]);
    await expect.poll(() => slack.messages(CH)[0]?.text).toBe("Approved by <@U0ALICE>");
    expect(slack.messages(CH)[0]?.edited).toBe(true);
  });

  it("a signed Events API callback reaches app.event; a forged one is refused", async () => {
    const event = {
      type: "app_mention",
      user: "U0ALICE",
      text: "<@U0BACKSTOP> status",
      ts: "1763731200.000300",
      channel: CH,
    };
    expect((await sendEvent(target, SECRET, event)).status).toBe(200);
    expect((await sendEvent(target, SECRET, event, { retryNum: 1 })).status).toBe(200);
    expect((await sendEvent(target, SECRET, event, { forgeSignature: true })).status).toBe(401);
    await expect.poll(() => mentions.length).toBe(2);
    expect(mentions).toEqual([
      { text: "<@U0BACKSTOP> status", retry: undefined },
      { text: "<@U0BACKSTOP> status", retry: 1 },
    ]);
  });
});
