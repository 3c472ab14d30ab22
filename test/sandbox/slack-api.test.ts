import { type WebAPIPlatformError, WebClient } from "@slack/web-api";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type RecordedMessage, type SandboxSlack, startSandboxSlack } from "../../sandbox/slack/index.js";

const TOKEN = "xoxb-sandbox-test-token";
const CH = "C0INCIDENTS";

let slack: SandboxSlack;
let client: WebClient;

beforeAll(async () => {
  slack = await startSandboxSlack({
    botToken: TOKEN,
    users: [
      { id: "U0ALICE", name: "alice", real_name: "Alice Approver" },
      { id: "U0BOB", name: "bob" },
    ],
    usergroups: { S0APPROVERS: ["U0ALICE"] },
  });
  client = new WebClient(TOKEN, { slackApiUrl: slack.apiUrl, retryConfig: { retries: 0 } });
});
afterAll(async () => {
  await slack.close();
});
afterEach(() => slack.reset());

/** The platform error code WebClient threw (`error.data.error`). */
async function slackError(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return (err as WebAPIPlatformError).data.error;
  }
  throw new Error("expected the call to fail");
}

describe("sandbox Slack Web API with the real WebClient", () => {
  it("auth.test answers the bot's identity", async () => {
    const r = await client.auth.test();
    expect(r).toMatchObject({ ok: true, user_id: "U0BACKSTOP", bot_id: "B0BACKSTOP", team_id: "T0SANDBOX" });
  });

  it("records chat.postMessage with blocks per channel and thread; ts are unique and increasing", async () => {
    const blocks = [
      { type: "header", text: { type: "plain_text", text: "HighErrorRate" } },
      { type: "section", block_id: "status", text: { type: "mrkdwn", text: "*payments/api* — triaging" } },
    ];
    const root = await client.chat.postMessage({ channel: CH, text: "HighErrorRate", blocks });
    expect(root.ok).toBe(true);
    expect(root.channel).toBe(CH);
    expect(root.ts).toMatch(/^\d{10}\.\d{6}$/);
    expect(root.message?.blocks).toEqual(blocks);
    expect(root.message?.bot_id).toBe("B0BACKSTOP");

    const r1 = await client.chat.postMessage({ channel: CH, thread_ts: root.ts!, text: "signals gathered" });
    const r2 = await client.chat.postMessage({ channel: CH, thread_ts: r1.ts!, text: "diagnosis" });
    await client.chat.postMessage({ channel: "C0OTHER", text: "elsewhere" });
    expect(Number(r1.ts) > Number(root.ts)).toBe(true);
    expect(r2.ts! > r1.ts!).toBe(true);

    const thread = slack.thread(CH, root.ts!);
    expect(thread.map((m) => m.text)).toEqual(["HighErrorRate", "signals gathered", "diagnosis"]);
    // A reply to a reply lands in the root's thread, as in Slack.
    expect(thread[2]?.thread_ts).toBe(root.ts);
    expect(thread[0]).toMatchObject({ thread_ts: null, user: "U0BACKSTOP", blocks, ephemeral_to: null });
    expect(slack.messages(CH)).toHaveLength(3);
    expect(slack.messages()).toHaveLength(4);
    expect(slack.messages("C0OTHER")[0]?.text).toBe("elsewhere");
    // WebClient sends nested fields as JSON strings in a form body; the record keeps what arrived.
    const call = slack.calls().find((c) => c.method === "chat.postMessage");
    expect(typeof call?.args.blocks).toBe("string");
    expect(call?.args).not.toHaveProperty("token");
  });

  it("chat.update edits in place and keeps blocks when only text changes", async () => {
    const root = await client.chat.postMessage({
      channel: CH,
      text: "triaging",
      blocks: [{ type: "divider" }],
    });
    const upd = await client.chat.update({
      channel: CH,
      ts: root.ts!,
      text: "escalated",
      blocks: [{ type: "section", text: { type: "mrkdwn", text: "*escalated*" } }],
    });
    expect(upd).toMatchObject({ ok: true, channel: CH, ts: root.ts, text: "escalated" });
    await client.chat.update({ channel: CH, ts: root.ts!, text: "resolved" });
    const [m] = slack.messages(CH);
    expect(slack.messages(CH)).toHaveLength(1);
    expect(m).toMatchObject({ ts: root.ts, text: "resolved", edited: true });
    expect(m?.blocks).toEqual([{ type: "section", text: { type: "mrkdwn", text: "*escalated*" } }]);
  });

  it("chat.postEphemeral is recorded for its user only, not as a channel message", async () => {
    const r = await client.chat.postEphemeral({
      channel: CH,
      user: "U0BOB",
      text: "You are not an approver.",
    });
    expect(r.ok).toBe(true);
    expect(r.message_ts).toMatch(/^\d{10}\.\d{6}$/);
    expect(slack.ephemerals("U0BOB")).toMatchObject([
      { text: "You are not an approver.", ephemeral_to: "U0BOB" },
    ]);
    expect(slack.ephemerals("U0ALICE")).toEqual([]);
    expect(slack.messages()).toEqual([]);
  });

  it("answers Slack's error codes with ok:false", async () => {
    const bad = new WebClient("xoxb-wrong", { slackApiUrl: slack.apiUrl, retryConfig: { retries: 0 } });
    expect(await slackError(bad.chat.postMessage({ channel: CH, text: "x" }))).toBe("invalid_auth");
    const anon = new WebClient(undefined, { slackApiUrl: slack.apiUrl, retryConfig: { retries: 0 } });
    expect(await slackError(anon.auth.test())).toBe("not_authed");
    expect(await slackError(client.chat.postMessage({ channel: "not-a-channel", text: "x" }))).toBe(
      "channel_not_found",
    );
    expect(await slackError(client.chat.update({ channel: CH, ts: "1700000000.000001", text: "x" }))).toBe(
      "message_not_found",
    );
    expect(await slackError(client.chat.postMessage({ channel: CH, text: "" }))).toBe("no_text");
    expect(
      await slackError(client.apiCall("chat.postMessage", { channel: CH, text: "x", blocks: "{not json" })),
    ).toBe("invalid_blocks");
    const tooMany = Array.from({ length: 51 }, () => ({ type: "divider" }));
    expect(await slackError(client.chat.postMessage({ channel: CH, text: "x", blocks: tooMany }))).toBe(
      "invalid_blocks",
    );
    expect(await slackError(client.apiCall("chat.update", { channel: CH, text: "x" }))).toBe(
      "invalid_arguments",
    );
    expect(
      await slackError(client.chat.postMessage({ channel: CH, thread_ts: "1700000000.000001", text: "x" })),
    ).toBe("thread_not_found");
    expect(await slackError(client.apiCall("chat.nonexistent", {}))).toBe("unknown_method");
    expect(slack.messages()).toEqual([]);
    // Every call is recorded, refused ones too.
    expect(slack.calls().length).toBeGreaterThanOrEqual(10);
  });

  it("accepts a JSON body with a bearer token, as Slack does", async () => {
    const res = await fetch(`${slack.apiUrl}chat.postMessage`, {
      method: "POST",
      headers: { "content-type": "application/json; charset=utf-8", authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ channel: CH, text: "json", blocks: [{ type: "divider" }] }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ ok: true, channel: CH });
    expect(slack.messages(CH)[0]?.blocks).toEqual([{ type: "divider" }]);
  });

  it("users.info and usergroups.users.list", async () => {
    const alice = await client.users.info({ user: "U0ALICE" });
    expect(alice.user).toMatchObject({
      id: "U0ALICE",
      name: "alice",
      real_name: "Alice Approver",
      is_bot: false,
      profile: { display_name: "alice" },
    });
    const bot = await client.users.info({ user: "U0BACKSTOP" });
    expect(bot.user?.is_bot).toBe(true);
    expect(await slackError(client.users.info({ user: "U0NOBODY" }))).toBe("user_not_found");
    const group = await client.usergroups.users.list({ usergroup: "S0APPROVERS" });
    expect(group.users).toEqual(["U0ALICE"]);
    expect(await slackError(client.usergroups.users.list({ usergroup: "S0NOPE" }))).toBe("no_such_subteam");
    const info = await client.conversations.info({ channel: CH });
    expect(info.channel).toMatchObject({ id: CH, is_channel: true, is_member: true });
  });

  it("files.uploadV2 works end to end: the bytes are served and a file share lands in the thread", async () => {
    const root = await client.chat.postMessage({ channel: CH, text: "incident" });
    const receipt = JSON.stringify({ run_id: "run-1", events: [{ type: "run.started" }] });
    const up = await client.filesUploadV2({
      channel_id: CH,
      thread_ts: root.ts!,
      filename: "receipt-run-1.json",
      content: receipt,
      title: "Receipt run-1",
      initial_comment: "Signed receipt",
    });
    expect(up.ok).toBe(true);
    const completed = (up.files as { files?: { id: string; url_private: string; title: string }[] }[])[0]
      ?.files;
    const fileId = completed?.[0]?.id;
    expect(fileId).toMatch(/^F/);
    expect(completed?.[0]?.title).toBe("Receipt run-1");
    expect(slack.calls().map((c) => c.method)).toEqual([
      "chat.postMessage",
      "files.getUploadURLExternal",
      "files.completeUploadExternal",
    ]);

    const [f] = slack.files();
    expect(f).toMatchObject({ id: fileId, name: "receipt-run-1.json", channel: CH, thread_ts: root.ts });
    expect(f?.bytes.toString("utf8")).toBe(receipt);
    expect(f?.mimetype).toBe("application/json");

    const served = await fetch(`${slack.url}_sandbox/files/${fileId}`);
    expect(served.headers.get("content-type")).toBe("application/json");
    expect(await served.text()).toBe(receipt);
    expect((await fetch(completed![0]!.url_private)).status).toBe(200);

    const thread = slack.thread(CH, root.ts!);
    expect(thread).toHaveLength(2);
    expect(thread[1]).toMatchObject({
      text: "Signed receipt",
      thread_ts: root.ts,
      files: [{ id: fileId, name: "receipt-run-1.json", title: "Receipt run-1" }],
    });
  });

  it("files.completeUploadExternal refuses a file that was never uploaded or is unknown", async () => {
    const url = await client.files.getUploadURLExternal({ filename: "a.json", length: 2 });
    expect(url.upload_url).toContain("/upload/v1/");
    expect(
      await slackError(
        client.files.completeUploadExternal({ files: [{ id: url.file_id! }], channel_id: CH }),
      ),
    ).toBe("file_not_found");
    expect(
      await slackError(client.files.completeUploadExternal({ files: [{ id: "F0NOPE" }], channel_id: CH })),
    ).toBe("file_not_found");
    expect(await slackError(client.apiCall("files.getUploadURLExternal", { filename: "a.json" }))).toBe(
      "invalid_arguments",
    );
    expect((await fetch(`${slack.url}_sandbox/files/F0NOPE`)).status).toBe(404);
  });

  it("records response_url posts and applies in_channel, ephemeral and replace_original", async () => {
    const root = await client.chat.postMessage({
      channel: CH,
      text: "escalation",
      blocks: [{ type: "divider" }],
    });
    const plain = slack.newResponseUrl();
    const cmd = slack.newResponseUrl({ channel: CH, user: "U0BOB" });
    const click = slack.newResponseUrl({ channel: CH, user: "U0ALICE", message_ts: root.ts! });

    const post = (url: string, body: unknown) =>
      fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    expect((await post(plain, { text: "recorded only" })).status).toBe(200);
    expect((await post(cmd, { text: "Usage: /backstop triage <ns>/<workload>" })).status).toBe(200);
    expect((await post(cmd, { text: "Triage queued", response_type: "in_channel" })).status).toBe(200);
    expect((await post(click, { text: "Approved by <@U0ALICE>", replace_original: true })).status).toBe(200);

    expect(slack.responses().map((r) => r.url)).toEqual([plain, cmd, cmd, click]);
    expect(slack.responses()[0]?.body).toEqual({ text: "recorded only" });
    expect(slack.ephemerals("U0BOB").map((m) => m.text)).toEqual(["Usage: /backstop triage <ns>/<workload>"]);
    const msgs = slack.messages(CH);
    expect(msgs.map((m) => m.text)).toEqual(["Approved by <@U0ALICE>", "Triage queued"]);
    expect(msgs[0]).toMatchObject({ ts: root.ts, edited: true, blocks: [] });

    // Unknown URLs, bad JSON and the five-use limit.
    expect((await post(`${slack.url}response/T0SANDBOX/nope`, { text: "x" })).status).toBe(404);
    const bad = await fetch(plain, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{",
    });
    expect(bad.status).toBe(400);
    const limited = slack.newResponseUrl();
    for (let i = 0; i < 5; i++) expect((await post(limited, { text: `n${i}` })).status).toBe(200);
    const sixth = await post(limited, { text: "n5" });
    expect(sixth.status).toBe(404);
    expect(await sixth.json()).toEqual({ ok: false, error: "used_url" });
  });

  it("delete_original removes the message the button was in", async () => {
    const root = await client.chat.postMessage({ channel: CH, text: "to delete" });
    const url = slack.newResponseUrl({ channel: CH, user: "U0ALICE", message_ts: root.ts! });
    const r = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ delete_original: true }),
    });
    expect(r.status).toBe(200);
    expect(slack.messages(CH)).toEqual([]);
  });

  it("on('message') fires for new and updated messages; the unsubscribe stops it", async () => {
    const seen: RecordedMessage[] = [];
    const off = slack.on("message", (m) => seen.push(m));
    const root = await client.chat.postMessage({ channel: CH, text: "one" });
    await client.chat.update({ channel: CH, ts: root.ts!, text: "two" });
    off();
    await client.chat.postMessage({ channel: CH, text: "three" });
    expect(seen.map((m) => [m.text, m.edited])).toEqual([
      ["one", false],
      ["two", true],
    ]);
  });

  it("serves the record over HTTP for a separate console, with SSE for new messages", async () => {
    const ac = new AbortController();
    const res = await fetch(`${slack.url}_sandbox/events`, { signal: ac.signal });
    expect(res.headers.get("content-type")).toBe("text/event-stream");
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let buf = "";
    // The stream opens with a comment; once read, the subscription is live.
    while (!buf.includes("\n\n")) buf += decoder.decode((await reader.read()).value);
    buf = "";
    await client.chat.postMessage({ channel: CH, text: "streamed" });
    while (!buf.includes("event: message")) buf += decoder.decode((await reader.read()).value);
    while (!buf.endsWith("\n\n")) buf += decoder.decode((await reader.read()).value);
    const data = /data: (.+)\n/.exec(buf)?.[1];
    expect(JSON.parse(data!)).toMatchObject({ channel: CH, text: "streamed", edited: false });
    ac.abort();

    const msgs = (await (
      await fetch(`${slack.url}_sandbox/messages?channel=${CH}`)
    ).json()) as RecordedMessage[];
    expect(msgs.map((m) => m.text)).toEqual(["streamed"]);
    const calls = (await (await fetch(`${slack.url}_sandbox/calls`)).json()) as { method: string }[];
    expect(calls.map((c) => c.method)).toEqual(["chat.postMessage"]);
    const made = (await (
      await fetch(`${slack.url}_sandbox/response-urls`, {
        method: "POST",
        body: JSON.stringify({ channel: CH, user: "U0BOB" }),
      })
    ).json()) as { url: string };
    expect(made.url).toContain(`${slack.url}response/`);
    await fetch(`${slack.url}_sandbox/reset`, { method: "POST" });
    expect(slack.messages()).toEqual([]);
  });
});

describe("sandbox Slack with configured channels", () => {
  it("resolves #names to IDs and refuses unknown channels", async () => {
    const s = await startSandboxSlack({ botToken: TOKEN, channels: [{ id: "C0OPS", name: "ops" }] });
    try {
      const c = new WebClient(TOKEN, { slackApiUrl: s.apiUrl, retryConfig: { retries: 0 } });
      const r = await c.chat.postMessage({ channel: "#ops", text: "hi" });
      expect(r.channel).toBe("C0OPS");
      expect(await slackError(c.chat.postMessage({ channel: "C0ELSEWHERE", text: "x" }))).toBe(
        "channel_not_found",
      );
    } finally {
      await s.close();
    }
  });
});
