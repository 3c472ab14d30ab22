import { describe, expect, it } from "vitest";
import { LIMITS } from "../../blocks/index.js";
import { context, message } from "../../blocks/text.js";
import { nextBatch, type Outgoing } from "../../src/slack/thread-outbox.js";

const reply = (what: string, blocks = 1, text = what): Outgoing => ({
  op: "post",
  what,
  msg: message(
    text,
    Array.from({ length: blocks }, (_, i) => context(`${what} ${i}`)),
  ),
});

describe("nextBatch", () => {
  it("joins consecutive plain replies with a divider between each", () => {
    const { count, out } = nextBatch([reply("a"), reply("b", 2), reply("c")]);
    expect(count).toBe(3);
    expect(out.op).toBe("post");
    expect(out.msg.text).toBe("a\nb\nc");
    expect(out.msg.blocks.map((b) => b.type)).toEqual([
      "context",
      "divider",
      "context",
      "context",
      "divider",
      "context",
    ]);
  });

  it("never puts a button, the escalation or an update in a joined message", () => {
    const receipt: Outgoing = {
      op: "post",
      what: "receipt",
      msg: {
        text: "receipt",
        blocks: [
          {
            type: "section",
            text: { type: "mrkdwn", text: "r" },
            accessory: { type: "button", text: { type: "plain_text", text: "Download" }, action_id: "x" },
          },
        ],
      },
    };
    const escalation: Outgoing = { ...reply("esc"), escalation: true } as Outgoing;
    const update: Outgoing = { op: "update", what: "decided", ts: null, msg: message("d", []) };
    expect(nextBatch([reply("a"), receipt, reply("b")]).count).toBe(1);
    expect(nextBatch([receipt, reply("b")])).toEqual({ count: 1, out: receipt });
    expect(nextBatch([reply("a"), escalation]).count).toBe(1);
    expect(nextBatch([escalation, reply("a")]).out).toBe(escalation);
    expect(nextBatch([update, reply("a")]).out).toBe(update);
  });

  it("stays within Slack's 50 blocks and the fallback text limit", () => {
    const many = nextBatch([reply("a", 30), reply("b", 19), reply("c", 1)]);
    // 30 + divider + 19 = 50: the third would need 52.
    expect(many.count).toBe(2);
    expect(many.out.msg.blocks).toHaveLength(LIMITS.blocks);
    const half = "x".repeat(Math.ceil(LIMITS.fallbackText / 2));
    expect(nextBatch([reply("a", 1, half), reply("b", 1, half)]).count).toBe(1);
  });

  it("refuses an empty backlog", () => {
    expect(() => nextBatch([])).toThrow(/empty/);
  });
});
