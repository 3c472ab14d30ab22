import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type SandboxSlack, startSandboxSlack } from "../../sandbox/slack/index.js";
import { METHODS } from "../../sandbox/slack/methods/index.js";

const TOKEN = "xoxb-sandbox-methods-token";
let slack: SandboxSlack;

beforeAll(async () => {
  slack = await startSandboxSlack({ botToken: TOKEN });
});
afterAll(async () => {
  await slack.close();
});

/** Calls `method` with a JSON body and the bot token; returns the HTTP status and the parsed answer. */
async function call(
  method: string,
  body: unknown = {},
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${slack.apiUrl}${method}`, {
    method: "POST",
    headers: { "content-type": "application/json; charset=utf-8", authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

describe("sandbox Slack method tables", () => {
  it("serves exactly the documented methods, one family per table", () => {
    expect(Object.keys(METHODS).sort()).toEqual([
      "auth.test",
      "chat.postEphemeral",
      "chat.postMessage",
      "chat.update",
      "conversations.info",
      "files.completeUploadExternal",
      "files.getUploadURLExternal",
      "usergroups.users.list",
      "users.info",
    ]);
  });

  it("names of Object.prototype members are unknown methods, not handlers", async () => {
    for (const name of ["constructor", "toString", "hasOwnProperty", "__proto__"]) {
      const r = await call(name);
      expect(r).toEqual({ status: 200, json: { ok: false, error: "unknown_method" } });
    }
  });

  it("a request body over 20 MiB is answered 413 too_large", async () => {
    const big = "x".repeat(20 * 1024 * 1024 + 1);
    const r = await call("chat.postMessage", { channel: "C0BIG", text: big });
    expect(r).toEqual({ status: 413, json: { ok: false, error: "too_large" } });
    expect(slack.messages("C0BIG")).toEqual([]);
  });
});
