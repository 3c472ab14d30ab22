import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { BackstopError, formatZodIssues, isBackstopError } from "../../src/errors.js";
import { childLogger, serializeError, tapLogs } from "../../src/log.js";

describe("formatZodIssues", () => {
  const Schema = z.object({ name: z.string().min(1), items: z.array(z.object({ n: z.number() })) });

  it("prints every issue as path: message, joined with '; '", () => {
    const r = Schema.safeParse({ name: "", items: [{ n: "x" }] });
    expect(r.success).toBe(false);
    const text = formatZodIssues(r.error!);
    expect(text).toMatch(/^name: .+; items\.0\.n: .+$/);
    expect(text.split("; ")).toHaveLength(2);
  });

  it("names the value itself (root), and a prefix puts the path in brackets", () => {
    const r = z.array(z.string()).min(1).safeParse("nope");
    expect(formatZodIssues(r.error!)).toMatch(/^\(root\): /);
    expect(formatZodIssues(r.error!, { root: "body" })).toMatch(/^body: /);
    const list = z.array(z.object({ a: z.string() })).safeParse([{ a: 1 }]);
    expect(formatZodIssues(list.error!, { prefix: "BACKSTOP_TARGETS" })).toMatch(
      /^BACKSTOP_TARGETS\[0\.a\]: /,
    );
  });

  it("limit keeps the first issues, separator joins them", () => {
    const r = Schema.safeParse({ name: 1, items: 2 });
    expect(formatZodIssues(r.error!, { limit: 1 })).not.toContain(";");
    expect(formatZodIssues(r.error!, { separator: "\n" }).split("\n")).toHaveLength(2);
  });
});

describe("BackstopError codes", () => {
  it("isBackstopError matches the code exactly", () => {
    const e = new BackstopError("config.invalid", "bad");
    expect(isBackstopError(e, "config.invalid")).toBe(true);
    expect(isBackstopError(e, "policy.invalid")).toBe(false);
    expect(isBackstopError(new Error("x"))).toBe(false);
  });
});

describe("the err serializer", () => {
  let stop: (() => void) | undefined;
  afterEach(() => stop?.());

  it("logs stack, code, details and the cause chain of log.warn({ err })", () => {
    const lines: string[] = [];
    stop = tapLogs((l) => lines.push(l), { mute: true });
    const root = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" });
    const err = new BackstopError("queue.unavailable", "Redis is down", {
      cause: root,
      details: { tries: 3 },
    });
    childLogger("test").warn({ err }, "could not enqueue");
    const line = JSON.parse(lines.find((l) => l.includes("could not enqueue"))!);
    expect(line.err.type).toBe("BackstopError");
    expect(line.err.code).toBe("queue.unavailable");
    expect(line.err.details).toEqual({ tries: 3 });
    expect(line.err.stack).toContain("errors-log.test.ts");
    expect(line.err.cause.message).toBe("connect ECONNREFUSED 127.0.0.1:1");
    expect(line.err.cause.code).toBe("ECONNREFUSED");
  });

  it("copies no other property of an error (a client's request and its headers stay out)", () => {
    const err = Object.assign(new Error("Request failed with status code 500"), {
      config: { headers: { Authorization: "Bearer xoxb-not-a-real-token-1234" } },
      original: { request: { token: "xoxb-not-a-real-token-1234" } },
    });
    const lines: string[] = [];
    stop = tapLogs((l) => lines.push(l), { mute: true });
    childLogger("test").error({ err }, "slack call failed");
    const text = lines.join("");
    expect(text).toContain("Request failed with status code 500");
    expect(text).not.toContain("xoxb-not-a-real-token");
    expect(Object.keys(serializeError(err)).sort()).toEqual(["message", "stack", "type"]);
  });

  it("logs a thrown non-error as its message, and stops a cause cycle", () => {
    expect(serializeError("plain")).toEqual({ type: "string", message: "plain" });
    const a = new Error("a");
    const b = new Error("b", { cause: a });
    (a as { cause?: unknown }).cause = b;
    let depth = 0;
    for (let s = serializeError(a); s.cause; s = s.cause) depth += 1;
    expect(depth).toBe(5);
  });
});
