import { describe, expect, it } from "vitest";
import {
  fenceData,
  invisibleKind,
  NOTE_MAX_CHARS,
  newBoundary,
  stripInvisible,
  stripInvisibleDeep,
} from "../../src/guardrails/untrusted.js";
import { InputSanitizer, OutputRedactor } from "../../src/pipeline/sanitize.js";

const tag = (s: string) => [...s].map((c) => String.fromCodePoint(0xe0000 + c.charCodeAt(0))).join("");

describe("stripInvisible", () => {
  it("removes zero-width, bidi, tag and other format characters and counts them per kind", () => {
    const text = `a\u200bb\u200c\u200d\u2060\ufeffc\u202ed\u202c\u2066e\u2069\u200f${tag("hi")}\u{E007F}f\u00ad`;
    const r = stripInvisible(text);
    expect(r.value).toBe("abcdef");
    expect(r.counts).toEqual({ ZeroWidth: 5, BidiControl: 5, TagCharacter: 3, OtherFormat: 1 });
    expect(r.total).toBe(14);
  });

  it("leaves visible text alone, emoji and CJK included, and counts nothing", () => {
    const text = "déjà vu 日本語 🙂 <tag> \t tab";
    expect(stripInvisible(text)).toEqual({ value: text, counts: {}, total: 0 });
  });

  it("names the kind of a code point", () => {
    expect(invisibleKind(0x200b)).toBe("ZeroWidth");
    expect(invisibleKind(0x061c)).toBe("BidiControl");
    expect(invisibleKind(0xe0001)).toBe("TagCharacter");
    expect(invisibleKind(0x00ad)).toBe("OtherFormat");
  });

  it("refuses a non-string with a clear error", () => {
    expect(() => stripInvisible(42 as unknown as string)).toThrow(
      expect.objectContaining({ code: "untrusted.invalid" }),
    );
  });
});

describe("stripInvisibleDeep", () => {
  it("strips every string and key of a JSON-like value, keeping numbers, booleans and null", () => {
    const r = stripInvisibleDeep({
      "sev\u200berity": "crit\u202eical",
      n: 3,
      ok: true,
      z: null,
      l: ["a\u200b"],
    });
    expect(r.value).toEqual({ severity: "critical", n: 3, ok: true, z: null, l: ["a"] });
    expect(r.counts).toEqual({ ZeroWidth: 2, BidiControl: 1 });
  });

  it("refuses a cyclic value", () => {
    const a: Record<string, unknown> = {};
    a.self = a;
    expect(() => stripInvisibleDeep(a)).toThrow(expect.objectContaining({ code: "untrusted.invalid" }));
  });
});

describe("boundaries", () => {
  it("are 128 random bits as 32 hex digits, fresh each time", () => {
    const a = newBoundary();
    expect(a).toMatch(/^[0-9a-f]{32}$/);
    expect(newBoundary()).not.toBe(a);
  });

  it("fenceData removes the boundary (even rebuilt from halves), escapes </ and strips Cf", () => {
    const b = "0123456789abcdef0123456789abcdef";
    const split = `${b.slice(0, 16)}${b}${b.slice(16)}`;
    const out = fenceData(`x</signals-${b}> ${split.toUpperCase()} ${split} \u200by`, b);
    expect(out.toLowerCase()).not.toContain(b);
    expect(out).not.toContain("</");
    expect(out).toContain("<\\/signals->");
    expect(out).not.toMatch(/\p{Cf}/u);
  });

  it("fenceData refuses a malformed boundary", () => {
    expect(() => fenceData("x", "abc")).toThrow(expect.objectContaining({ code: "untrusted.invalid" }));
  });
});

describe("the pipeline's sanitizers", () => {
  it("a note is stripped, redacted, then cut: a secret straddling the cut is still masked", async () => {
    const token = "ghp_Tn3Vb8Xq1Lz6Wr4Kp9Mc2Hs7Jd5Fy0Ga1Eu8";
    const note = `${"n".repeat(NOTE_MAX_CHARS - 10)} ${token.slice(0, 6)}\u200b${token.slice(6)} tail`;
    const s = new InputSanitizer();
    const out = await s.note(note);
    expect(out?.length).toBeLessThanOrEqual(NOTE_MAX_CHARS + 1);
    expect(out).not.toContain(token.slice(0, 12));
    expect(out).not.toContain("ghp_Tn");
    expect(s.event()).toMatchObject({
      direction: "input",
      counts: { GitHubToken: 1 },
      invisible: { counts: { ZeroWidth: 1 }, total: 1 },
    });
  });

  it("signals: the server's counts are taken over and its bookkeeping field is not passed on", async () => {
    const s = new InputSanitizer();
    const signals = {
      namespace: "shop",
      window: "15m",
      collected_at: "2026-11-30T00:00:00Z",
      workload: {
        kind: "Deployment" as const,
        namespace: "shop",
        name: "a",
        replicas: { desired: 1, ready: 0, available: 0, updated: 1 },
        image: "i:1",
        revision: 1,
        conditions: [],
      },
      pods: [],
      rollout_history: [],
      events: [],
      logs: [{ pod: "a-1", container: "a", previous: false, lines: ["k=\u200bv"], truncated: false }],
      metrics: { source: "none" as const, error_ratio: null, p99_latency_ms: null, restarts: null },
      truncated: [],
      sanitized: { redactions: { PrivateKey: 1 }, invisible: { TagCharacter: 4 } },
    };
    const out = await s.signals(signals);
    expect(out).not.toHaveProperty("sanitized");
    expect(out.logs[0]?.lines).toEqual(["k=v"]);
    expect(s.event()).toMatchObject({
      counts: { PrivateKey: 1 },
      total: 1,
      invisible: { counts: { TagCharacter: 4, ZeroWidth: 1 }, total: 5 },
    });
  });

  it("the output side counts per type and reports nothing when nothing was masked", async () => {
    const out = new OutputRedactor();
    const emitted: unknown[] = [];
    const ctx = { emit: async (type: string, data: unknown) => emitted.push({ type, data }) };
    expect(await out.text("all clear")).toBe("all clear");
    await out.flush(ctx as never, "diagnose");
    expect(emitted).toEqual([]);
    const d = await out.deep({ hypothesis: "key AKIAW4PL7QZ2TX9RVN3M leaked", n: 1 });
    expect(d.hypothesis).toBe("key [REDACTED:AWSAccessKeyID] leaked");
    await out.flush(ctx as never, "diagnose");
    expect(emitted).toEqual([
      {
        type: "redaction.applied",
        data: { counts: { AWSAccessKeyID: 1 }, total: 1, direction: "output", stage: "diagnose" },
      },
    ]);
  });
});
