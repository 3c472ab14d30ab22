import { describe, expect, it } from "vitest";
import { parseMrkdwn, unescapeSlack } from "../../sandbox/console/web/mrkdwn.js";
import { describeAction, describeEvent } from "../../sandbox/console/web/timeline.js";
import type { RunEvent } from "../../src/contracts/events.js";

describe("parseMrkdwn", () => {
  it("parses bold, italic, strike and code, leaving mid-word markers alone", () => {
    expect(parseMrkdwn("*bold* and _it_ ~gone~ `x*y`")).toEqual([
      { t: "b", children: [{ t: "text", v: "bold" }] },
      { t: "text", v: " and " },
      { t: "i", children: [{ t: "text", v: "it" }] },
      { t: "text", v: " " },
      { t: "s", children: [{ t: "text", v: "gone" }] },
      { t: "text", v: " " },
      { t: "code", v: "x*y" },
    ]);
    expect(parseMrkdwn("snake_case_name and 2*3*4")).toEqual([{ t: "text", v: "snake_case_name and 2*3*4" }]);
    expect(parseMrkdwn("* not bold*")).toEqual([{ t: "text", v: "* not bold*" }]);
  });

  it("parses links, mentions, channels and special mentions", () => {
    expect(parseMrkdwn("<https://x.example/a?b=1&amp;c=2|the runbook> <https://y.example>")).toEqual([
      { t: "link", url: "https://x.example/a?b=1&c=2", text: "the runbook" },
      { t: "text", v: " " },
      { t: "link", url: "https://y.example", text: "https://y.example" },
    ]);
    expect(parseMrkdwn("<@U123> in <#C9|incidents> <!here>")).toEqual([
      { t: "user", id: "U123" },
      { t: "text", v: " in " },
      { t: "channel", id: "C9", name: "incidents" },
      { t: "text", v: " " },
      { t: "special", v: "@here" },
    ]);
  });

  it("keeps newlines, quotes and preformatted blocks, and unescapes entities", () => {
    expect(parseMrkdwn("*Status*\nEscalated")).toEqual([
      { t: "b", children: [{ t: "text", v: "Status" }] },
      { t: "br" },
      { t: "text", v: "Escalated" },
    ]);
    expect(parseMrkdwn("head\n&gt; quoted *b*")).toEqual([
      { t: "text", v: "head" },
      {
        t: "quote",
        children: [
          { t: "text", v: "quoted " },
          { t: "b", children: [{ t: "text", v: "b" }] },
        ],
      },
    ]);
    expect(parseMrkdwn("```\na < b\n```")).toEqual([{ t: "pre", v: "a < b\n" }]);
    expect(unescapeSlack("&lt;tag&gt; &amp;amp;")).toBe("<tag> &amp;");
  });

  it("turns known emoji shortcodes into characters, not inside code", () => {
    expect(parseMrkdwn(":white_check_mark: done :not_an_emoji: `:x:`")).toEqual([
      { t: "text", v: "✅ done :not_an_emoji: " },
      { t: "code", v: ":x:" },
    ]);
  });

  it("leaves unterminated syntax as literal text", () => {
    expect(parseMrkdwn("*open `tick <angle")).toEqual([{ t: "text", v: "*open `tick <angle" }]);
    expect(parseMrkdwn("")).toEqual([]);
  });
});

describe("timeline lines", () => {
  const ev = (type: RunEvent["type"], data: unknown): RunEvent =>
    ({ seq: 3, at: "2026-01-01T00:00:00Z", type, data, prev_hash: "0", hash: "1" }) as RunEvent;

  it("names the failed rules of a gate and the action", () => {
    const line = describeEvent(
      ev("gate.action", {
        passed: false,
        action: { type: "scale", namespace: "shop", kind: "Deployment", name: "cart", replicas: 0 },
        rules: [
          { rule: "scope_is_workload", passed: false, detail: "" },
          { rule: "kind_allowed", passed: true, detail: "" },
        ],
      }),
    );
    expect(line).toEqual({
      seq: 3,
      stage: "action gate",
      detail: "refused: scale shop/Deployment/cart → 0 replicas (failed: scope_is_workload)",
      cost_usd: null,
      tone: "bad",
    });
  });

  it("shows a model call's cost and a fallback's cause", () => {
    const call = describeEvent(
      ev("model.call", {
        purpose: "diagnose",
        model: "m1",
        served_model: "m1",
        tier: 0,
        ok: false,
        status: 429,
        error: "rate limited",
        cost_usd: 0.002,
      }),
    );
    expect(call.detail).toBe("m1 (tier 0) failed 429: rate limited");
    expect(call.cost_usd).toBe(0.002);
    expect(
      describeEvent(ev("model.fallback", { from: "m1", to: "m2", reason: "rate_limited", status: 429 }))
        .detail,
    ).toBe("m1 → m2: rate_limited (429)");
    expect(
      describeAction({ type: "rollback", namespace: "a", kind: "Deployment", name: "b", to_sha: "abc" }),
    ).toBe("rollback a/Deployment/b → abc");
  });

  it("falls back to the bare type on a malformed event instead of throwing", () => {
    expect(describeEvent(ev("signals.gathered", null))).toMatchObject({
      stage: "signals.gathered",
      detail: "",
    });
  });
});
