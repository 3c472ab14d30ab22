import { describe, expect, it } from "vitest";
import { z } from "zod";
import { extractFirstJsonObject, parseDiagnosis, parseJsonReply } from "../../src/guardrails/extract.js";

const good = {
  hypothesis: 'Deploy abc123 broke checkout: "panic: nil map" on start',
  suspected_resource: "shop/Deployment/checkout",
  suspected_deploy_sha: "abc123",
  confidence: 0.82,
  evidence: ["panic: assignment to entry in nil map {code=500}", "CrashLoopBackOff"],
  recommended_action: {
    type: "rollback",
    namespace: "shop",
    kind: "Deployment",
    name: "checkout",
    to_sha: "9f8e7d",
  },
};
const goodJson = JSON.stringify(good);
const pretty = JSON.stringify(good, null, 2);

type Case =
  | { name: string; reply: string; ok: true; extraction: "plain" | "fenced" | "prose" }
  | { name: string; reply: string; ok: false; error: RegExp };

/** The malformed-reply corpus: what models actually send back. */
const corpus: Case[] = [
  { name: "plain object", reply: goodJson, ok: true, extraction: "plain" },
  { name: "plain with surrounding whitespace", reply: `\n\n  ${pretty}\n`, ok: true, extraction: "plain" },
  { name: "```json fence", reply: `\`\`\`json\n${pretty}\n\`\`\``, ok: true, extraction: "fenced" },
  {
    name: "bare ``` fence with prose",
    reply: `Here you go:\n\`\`\`\n${pretty}\n\`\`\`\nHope this helps.`,
    ok: true,
    extraction: "fenced",
  },
  {
    name: "prose before and after",
    reply: `Based on the signals, my diagnosis is ${goodJson}. Let me know.`,
    ok: true,
    extraction: "prose",
  },
  {
    name: "stray { in prose that does not parse",
    reply: `The map {code=500} shows errors; result: ${goodJson}`,
    ok: true,
    extraction: "prose",
  },
  {
    name: "unclosed stray { before the object",
    reply: `I think { maybe this:\n${pretty}`,
    ok: true,
    extraction: "prose",
  },
  {
    name: "braces and escaped quotes inside strings",
    reply: JSON.stringify({ ...good, hypothesis: 'log says "}{" and \\"oops\\" then {"nested": }' }),
    ok: true,
    extraction: "plain",
  },
  {
    name: "unicode and emoji",
    reply: `Diagnóstico 🚨: ${JSON.stringify({ ...good, hypothesis: "Ошибка — 失败 🔥" })}`,
    ok: true,
    extraction: "prose",
  },
  {
    name: "extra fields ignored",
    reply: JSON.stringify({ ...good, reasoning: "long", extra: { a: [1, 2] } }),
    ok: true,
    extraction: "plain",
  },
  {
    name: "two objects: first wins",
    reply: `${goodJson}\n${JSON.stringify({ ...good, confidence: 0.1 })}`,
    ok: true,
    extraction: "prose",
  },
  {
    name: "truncated mid-object",
    reply: pretty.slice(0, pretty.length - 40),
    ok: false,
    error: /^truncated JSON$/,
  },
  {
    name: "truncated inside a fence",
    reply: `\`\`\`json\n${pretty.slice(0, 120)}`,
    ok: false,
    error: /^truncated JSON$/,
  },
  {
    name: "truncated after a complete nested object",
    reply: `{"recommended_action": {"type":"none","namespace":"a","kind":"b","name":"c"}, "hypo`,
    ok: false,
    error: /^truncated JSON$/,
  },
  {
    name: "garbage",
    reply: "I'm sorry, I cannot help with that.",
    ok: false,
    error: /^no JSON object in reply$/,
  },
  { name: "empty reply", reply: "", ok: false, error: /^no JSON object in reply$/ },
  {
    name: "invalid JSON (single quotes)",
    reply: "{'hypothesis': 'x'}",
    ok: false,
    error: /^no JSON object in reply$/,
  },
  { name: "array at top level", reply: `[${goodJson}]`, ok: false, error: /JSON array/ },
  {
    name: "confidence out of range",
    reply: JSON.stringify({ ...good, confidence: 1.7 }),
    ok: false,
    error: /^invalid diagnosis: confidence: /,
  },
  {
    name: "missing recommended_action",
    reply: JSON.stringify({ ...good, recommended_action: undefined }),
    ok: false,
    error: /^invalid diagnosis: recommended_action: /,
  },
  {
    name: "bad nested field has a dotted path",
    reply: JSON.stringify({ ...good, recommended_action: { ...good.recommended_action, type: "delete" } }),
    ok: false,
    error: /recommended_action\.type: /,
  },
  {
    name: "malformed resource reference",
    reply: JSON.stringify({ ...good, suspected_resource: "checkout" }),
    ok: false,
    error: /suspected_resource: expected namespace\/kind\/name/,
  },
  {
    name: "evidence element wrong type",
    reply: JSON.stringify({ ...good, evidence: ["ok", 3] }),
    ok: false,
    error: /evidence\.1: /,
  },
];

describe("parseDiagnosis on the malformed-reply corpus", () => {
  it("has at least 15 cases", () => expect(corpus.length).toBeGreaterThanOrEqual(15));
  for (const c of corpus) {
    it(c.name, () => {
      const r = parseDiagnosis(c.reply);
      if (c.ok) {
        expect(r).toMatchObject({ ok: true, extraction: c.extraction });
        if (r.ok) {
          expect(r.diagnosis.suspected_resource).toBe("shop/Deployment/checkout");
          expect(Object.keys(r.diagnosis)).not.toContain("reasoning");
        }
      } else {
        expect(r.ok).toBe(false);
        if (!r.ok) expect(r.error).toMatch(c.error);
      }
    });
  }

  it("keeps the first object's values when two are present", () => {
    const r = parseDiagnosis(`${goodJson} and also ${JSON.stringify({ ...good, confidence: 0.1 })}`);
    expect(r.ok && r.diagnosis.confidence).toBe(0.82);
  });

  it("keeps unicode and escaped quotes exactly", () => {
    const hypothesis = 'he said "}" — 失败 \\ done';
    const r = parseDiagnosis(`x { y ${JSON.stringify({ ...good, hypothesis })}`);
    expect(r.ok && r.diagnosis.hypothesis).toBe(hypothesis);
  });
});

describe("extractFirstJsonObject", () => {
  it("returns the JSON text, value and start offset", () => {
    const text = `abc {"a": {"b": "}"}} tail {"c": 1}`;
    const r = extractFirstJsonObject(text);
    expect(r).toEqual({ json: `{"a": {"b": "}"}}`, value: { a: { b: "}" } }, start: 4 });
  });
  it("returns null when nothing parses", () => {
    expect(extractFirstJsonObject("{ nope } {also: 'no'}")).toBeNull();
    expect(extractFirstJsonObject('{"open": "never closed')).toBeNull();
  });
  it("skips an object whose string contains an escaped backslash before the quote", () => {
    const r = extractFirstJsonObject(String.raw`{"p": "C:\\"} rest`);
    expect(r?.value).toEqual({ p: "C:\\" });
  });
});

describe("parseJsonReply (judge replies)", () => {
  const Judge = z.object({ grounded: z.boolean(), reason: z.string() });
  it("parses a fenced judge reply", () => {
    expect(parseJsonReply('```json\n{"grounded": false, "reason": "no quote matches"}\n```', Judge)).toEqual({
      ok: true,
      value: { grounded: false, reason: "no quote matches" },
    });
  });
  it("names the bad path", () => {
    const r = parseJsonReply('{"grounded": "yes", "reason": "x"}', Judge);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(/^invalid reply: grounded: /);
  });
  it("reports garbage", () => {
    expect(parseJsonReply("yes", Judge)).toEqual({ ok: false, error: "no JSON object in reply" });
  });
});

describe("pathological replies", () => {
  it("returns (does not hang) on a reply of nothing but braces or brackets", () => {
    expect(parseDiagnosis("{".repeat(200_000)).ok).toBe(false);
    expect(parseDiagnosis(`${"[".repeat(50_000)}${goodJson}`)).toMatchObject({
      ok: true,
      extraction: "prose",
    });
    expect(parseDiagnosis(`${'{"a":'.repeat(20_000)}`)).toEqual({ ok: false, error: "truncated JSON" });
  });
});
