import { randomBytes } from "node:crypto";
import { BackstopError } from "../errors.js";

/**
 * Untrusted text is data. Everything Backstop reads from the cluster or an alert (log lines, event
 * messages, conditions, alert labels and annotations, a `/backstop triage` note) was written by
 * someone else and may try to steer a model. Two defences live here:
 *
 * 1. {@link stripInvisible}: removes every character of Unicode general category Cf ("Format",
 *    `/\p{Cf}/u`): zero-width characters (U+200B–U+200D, U+2060, U+FEFF, U+180E), bidirectional
 *    controls (U+200E/U+200F, U+202A–U+202E, U+2066–U+2069, U+061C) and tag characters
 *    (U+E0001, U+E0020–U+E007F, "ASCII smuggling"), plus the rest of the category (soft hyphen, …).
 *    They are invisible to a human reviewing the thread but read by a model, and they can split a
 *    secret so no detector sees it; so they are stripped BEFORE redaction. Counts per kind go on the
 *    receipt; the characters themselves go nowhere.
 * 2. {@link newBoundary} / {@link fenceData}: a per-render random delimiter (128 bits from
 *    `crypto.randomBytes`) that the prompts put around data. The data cannot forge it: it is not known
 *    before the render, and any occurrence of it inside the data is removed anyway.
 *
 * Unicode categories: https://www.unicode.org/reports/tr44/#General_Category_Values (Cf = Format);
 * bidi controls: UAX #9 §2; tag characters: https://www.unicode.org/charts/PDF/UE0000.pdf.
 */

/** Kinds of invisible characters counted on the receipt (`redaction.applied.invisible.counts`). */
export type InvisibleKind = "ZeroWidth" | "BidiControl" | "TagCharacter" | "OtherFormat";

/** Counts per {@link InvisibleKind} (only kinds seen appear) and their sum. */
export interface InvisibleResult<T> {
  value: T;
  counts: Partial<Record<InvisibleKind, number>>;
  total: number;
}

const CF = /\p{Cf}/gu;

/** The kind of one Cf code point. */
export function invisibleKind(codePoint: number): InvisibleKind {
  if (codePoint >= 0xe0000 && codePoint <= 0xe007f) return "TagCharacter";
  if (
    codePoint === 0x061c ||
    codePoint === 0x200e ||
    codePoint === 0x200f ||
    (codePoint >= 0x202a && codePoint <= 0x202e) ||
    (codePoint >= 0x2066 && codePoint <= 0x2069)
  )
    return "BidiControl";
  if (
    (codePoint >= 0x200b && codePoint <= 0x200d) ||
    codePoint === 0x2060 ||
    codePoint === 0xfeff ||
    codePoint === 0x180e
  )
    return "ZeroWidth";
  return "OtherFormat";
}

function addCounts(
  into: Partial<Record<InvisibleKind, number>>,
  from: Partial<Record<InvisibleKind, number>>,
) {
  for (const [k, n] of Object.entries(from) as [InvisibleKind, number][]) into[k] = (into[k] ?? 0) + n;
}

function sum(counts: Partial<Record<InvisibleKind, number>>): number {
  return Object.values(counts).reduce((a, b) => a + (b ?? 0), 0);
}

/**
 * Removes every Unicode category Cf character from `text` and counts them per kind.
 * @throws BackstopError `untrusted.invalid` when `text` is not a string.
 */
export function stripInvisible(text: string): InvisibleResult<string> {
  if (typeof text !== "string")
    throw new BackstopError("untrusted.invalid", "stripInvisible expects a string");
  const counts: Partial<Record<InvisibleKind, number>> = {};
  const value = text.replace(CF, (ch) => {
    const kind = invisibleKind(ch.codePointAt(0) ?? 0);
    counts[kind] = (counts[kind] ?? 0) + 1;
    return "";
  });
  return { value, counts, total: sum(counts) };
}

/**
 * {@link stripInvisible} over every string of a JSON-like value (object keys too: an alert label's
 * name is attacker-controlled as well). Numbers, booleans and null are kept; returns a new value.
 * @throws BackstopError `untrusted.invalid` on a cyclic value.
 */
export function stripInvisibleDeep<T>(value: T): InvisibleResult<T> {
  const counts: Partial<Record<InvisibleKind, number>> = {};
  const seen = new Set<object>();
  const walk = (v: unknown): unknown => {
    if (typeof v === "string") {
      const r = stripInvisible(v);
      addCounts(counts, r.counts);
      return r.value;
    }
    if (v === null || typeof v !== "object") return v;
    if (seen.has(v))
      throw new BackstopError("untrusted.invalid", "value has a cycle; expected JSON-like data");
    seen.add(v);
    let out: unknown;
    if (Array.isArray(v)) out = v.map(walk);
    else {
      const o: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) o[walk(k) as string] = walk(x);
      out = o;
    }
    seen.delete(v);
    return out;
  };
  const out = walk(value) as T;
  return { value: out, counts, total: sum(counts) };
}

/** Adds invisible-character counts `from` into `into` (mutates `into`) and returns it. */
export function mergeInvisible(
  into: Partial<Record<InvisibleKind, number>>,
  from: Partial<Record<InvisibleKind, number>> | Record<string, number> | undefined,
): Partial<Record<InvisibleKind, number>> {
  if (from) addCounts(into, from as Partial<Record<InvisibleKind, number>>);
  return into;
}

/** A boundary token is 32 lowercase hex digits (128 random bits). */
export const BOUNDARY_RE = /^[0-9a-f]{32}$/;

/** A fresh random boundary token for one prompt render (`crypto.randomBytes(16)`, hex). */
export function newBoundary(): string {
  return randomBytes(16).toString("hex");
}

/**
 * Makes `data` safe to put between boundary tags named with `boundary`: removes Cf characters, every
 * occurrence of the boundary token itself (case-insensitive), and writes every `</` as `<\/` (inside
 * JSON an equivalent escape; in text, no closing tag of any kind can be formed).
 * @throws BackstopError `untrusted.invalid` when `boundary` is not a {@link BOUNDARY_RE} token.
 */
export function fenceData(data: string, boundary: string): string {
  if (!BOUNDARY_RE.test(boundary)) {
    throw new BackstopError("untrusted.invalid", "boundary must be 32 lowercase hex digits");
  }
  let out = stripInvisible(data).value;
  const re = new RegExp(boundary, "gi");
  // Removing one occurrence can join two halves into a new one: repeat until none is left.
  while (out.toLowerCase().includes(boundary)) out = out.replace(re, "");
  return out.replaceAll("</", "<\\/");
}

/**
 * Longest `/backstop triage` note kept (characters), applied by the pipeline AFTER the note is
 * stripped and redacted.
 */
export const NOTE_MAX_CHARS = 500;
