import type { z } from "zod";
import { type Diagnosis, DiagnosisSchema } from "../contracts/diagnosis.js";
import { formatZodIssues } from "../errors.js";

/**
 * Balanced-JSON extraction of a model's reply. Models wrap JSON in ```json fences, put prose before
 * and after it, or stop mid-object when they hit `max_tokens` (OpenAI Chat Completions
 * `finish_reason: "length"`). This module finds the first complete JSON object (RFC 8259) in any such
 * text and validates it with zod. It never throws; failures come back as values with a clear reason.
 */

/** Replies longer than this (characters) are cut before scanning. */
export const MAX_REPLY_CHARS = 65_536;

/**
 * At most this many `{` (or `[`) positions are tried as a start. With {@link MAX_REPLY_CHARS} this
 * bounds the O(n²) worst case (a reply of nothing but `{`) to about 6.5e7 character steps.
 */
export const MAX_START_ATTEMPTS = 1_000;

/** Positions of `ch` in `text` before `limit`, at most {@link MAX_START_ATTEMPTS} of them. */
function* starts(text: string, ch: "{" | "[", limit = text.length): Generator<number> {
  let n = 0;
  for (
    let i = text.indexOf(ch);
    i !== -1 && i < limit && n < MAX_START_ATTEMPTS;
    i = text.indexOf(ch, i + 1), n++
  ) {
    yield i;
  }
}

/**
 * The end index (exclusive) of the balanced `{...}` or `[...]` that starts at `start`, or `-1` when the
 * text ends first. String literals are skipped with JSON's escape rules (`\"`, `\\`), so braces and
 * quotes inside strings do not count.
 */
function balancedEnd(text: string, start: number): number {
  const open = text[start];
  const close = open === "{" ? "}" : "]";
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const ch = text[i];
    if (inString) {
      if (ch === "\\") i++;
      else if (ch === '"') inString = false;
      continue;
    }
    if (ch === '"') inString = true;
    else if (ch === open) depth++;
    else if (ch === close) {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  return -1;
}

function tryParse(json: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(json) as unknown };
  } catch {
    return { ok: false };
  }
}

/**
 * The first balanced `{...}` in `text` that `JSON.parse` accepts, with its JSON text, parsed value and
 * start offset (UTF-16 code units). A `{` that opens no valid object (prose such as "use {braces}", or
 * an unclosed one) is skipped and scanning resumes at the next `{`. Returns `null` when there is none.
 * Objects nested in an array are found too; {@link parseDiagnosis} rejects a top-level array. Never throws.
 */
export function extractFirstJsonObject(text: string): { json: string; value: unknown; start: number } | null {
  const src = text.length > MAX_REPLY_CHARS ? text.slice(0, MAX_REPLY_CHARS) : text;
  for (const i of starts(src, "{")) {
    const end = balancedEnd(src, i);
    if (end === -1) continue;
    const json = src.slice(i, end);
    const parsed = tryParse(json);
    if (parsed.ok) return { json, value: parsed.value, start: i };
  }
  return null;
}

/** True when some `{` opens an object (`{` then optional whitespace then `"` or `}`) that never closes. */
function looksTruncated(text: string): boolean {
  for (const i of starts(text, "{")) {
    if (/^\{\s*("|$)/.test(text.slice(i, i + 64)) && balancedEnd(text, i) === -1) return true;
  }
  return false;
}

/** Whether an object that opens before `start` never closes: the found object is a fragment of a cut reply. */
function truncatedAround(text: string, start: number): boolean {
  for (const i of starts(text, "{", start)) {
    if (/^\{\s*"/.test(text.slice(i, i + 64)) && balancedEnd(text, i) === -1) return true;
  }
  return false;
}

/** Whether the object at `start` sits inside a JSON array that parses (a top-level array reply). */
function insideTopLevelArray(text: string, start: number): boolean {
  for (const i of starts(text, "[", start)) {
    const end = balancedEnd(text, i);
    if (end > start && tryParse(text.slice(i, end)).ok) return true;
  }
  return false;
}

/** How the object was found: the whole reply, inside a ``` fence, or among prose. */
function extractionKind(text: string, start: number, end: number): "plain" | "fenced" | "prose" {
  if (text.trim() === text.slice(start, end)) return "plain";
  const before = text.slice(0, start);
  const fenceOpen = before.lastIndexOf("```");
  if (fenceOpen !== -1) {
    // An odd number of fences before the object means it is inside one.
    const fencesBefore = before.split("```").length - 1;
    if (fencesBefore % 2 === 1 && text.indexOf("```", end) !== -1) return "fenced";
    if (fencesBefore % 2 === 1 && text.slice(end).trim() === "") return "fenced"; // unclosed fence at the end
  }
  return "prose";
}

/** The outcome of {@link parseDiagnosis}. `error` is one of the reasons listed there. */
export type ParsedDiagnosis =
  | { ok: true; diagnosis: Diagnosis; extraction: "plain" | "fenced" | "prose" }
  | { ok: false; error: string };

type Located = { ok: true; value: unknown; start: number; end: number } | { ok: false; error: string };

function locate(text: string): Located {
  const src = text.length > MAX_REPLY_CHARS ? text.slice(0, MAX_REPLY_CHARS) : text;
  const found = extractFirstJsonObject(src);
  if (found === null) {
    return { ok: false, error: looksTruncated(src) ? "truncated JSON" : "no JSON object in reply" };
  }
  if (truncatedAround(src, found.start)) return { ok: false, error: "truncated JSON" };
  if (insideTopLevelArray(src, found.start)) {
    return { ok: false, error: "reply is a JSON array; expected a single JSON object" };
  }
  return { ok: true, value: found.value, start: found.start, end: found.start + found.json.length };
}

/**
 * Parses a model's diagnosis reply: the first complete JSON object ({@link extractFirstJsonObject}),
 * validated by `DiagnosisSchema` (DESIGN.md, "Contracts"; extra fields are dropped). Errors:
 * `"no JSON object in reply"`, `"truncated JSON"` (an object opens and never closes, e.g. a reply cut
 * at `max_tokens`), `"reply is a JSON array; ..."`, or `"invalid diagnosis: <path>: <message>; ..."`.
 * Never throws.
 */
export function parseDiagnosis(text: string): ParsedDiagnosis {
  const loc = locate(text);
  if (!loc.ok) return loc;
  const result = DiagnosisSchema.safeParse(loc.value);
  if (!result.success) return { ok: false, error: `invalid diagnosis: ${formatZodIssues(result.error)}` };
  return { ok: true, diagnosis: result.data, extraction: extractionKind(text, loc.start, loc.end) };
}

/**
 * Like {@link parseDiagnosis} for any schema, e.g. the judge's `{ grounded: boolean, reason: string }`.
 * Errors are the same strings, with `"invalid reply: ..."` for schema failures. Never throws.
 */
export function parseJsonReply<T>(
  text: string,
  schema: z.ZodType<T>,
): { ok: true; value: T } | { ok: false; error: string } {
  const loc = locate(text);
  if (!loc.ok) return loc;
  const result = schema.safeParse(loc.value);
  if (!result.success) return { ok: false, error: `invalid reply: ${formatZodIssues(result.error)}` };
  return { ok: true, value: result.data };
}
