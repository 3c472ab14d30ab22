/**
 * Spans and masks shared by the redaction detectors. A span is a `[start, end)` range of UTF-16 offsets
 * into one string plus the type that names its mask (`[REDACTED:<type>]`).
 */

/** One finding: `[start, end)` UTF-16 offsets and the type named in its mask. */
export interface Span {
  start: number;
  end: number;
  type: string;
  /** Lower ranks name a merged span (a provider's name wins over a generic one); default 0. */
  rank?: number;
}

/** The mask that replaces a finding of `type`. */
export function mask(type: string): string {
  return `[REDACTED:${type}]`;
}

/**
 * Every match of the global regex `re` in `text`, as `text.matchAll(re)` yields them (an empty match
 * advances one character, or one code point with the `u`/`v` flag), collected into an array. Faster than
 * `matchAll`, which clones the regex on every call; `re.lastIndex` is 0 before and after.
 * @throws TypeError when `re` is not global (as `matchAll` does).
 */
export function regexMatches(re: RegExp, text: string): RegExpExecArray[] {
  if (!re.global) throw new TypeError("regexMatches needs a global regex");
  const out: RegExpExecArray[] = [];
  re.lastIndex = 0;
  try {
    for (let m = re.exec(text); m !== null; m = re.exec(text)) {
      out.push(m);
      if (m[0] === "") re.lastIndex = advance(text, re.lastIndex, re.unicode || re.flags.includes("v"));
    }
  } finally {
    re.lastIndex = 0;
  }
  return out;
}

/** ECMA-262 AdvanceStringIndex: the next index, past a whole surrogate pair when `unicode`. */
function advance(text: string, index: number, unicode: boolean): number {
  if (!unicode || index + 1 >= text.length) return index + 1;
  const c = text.charCodeAt(index);
  if (c < 0xd800 || c > 0xdbff) return index + 1;
  const d = text.charCodeAt(index + 1);
  return d >= 0xdc00 && d <= 0xdfff ? index + 2 : index + 1;
}

/** An existing mask (ours), or another redactor's: `[REDACTED:Type]`, `[REDACTED]`, `<redacted>`, `***`. */
export const MASKED_RE = /\[REDACTED(?::[A-Za-z0-9_]+)?\]|<redacted>|\*{3,}/gi;

/** Ranges of `text` that are already masked; findings inside them are dropped (idempotence). */
export function maskedRanges(text: string): [number, number][] {
  const out: [number, number][] = [];
  for (const m of regexMatches(MASKED_RE, text)) out.push([m.index, m.index + m[0].length]);
  return out;
}

/**
 * Merges overlapping spans (the lowest `rank`, then the earliest, names the merged span) and masks them; adds
 * one count per merged span. With `keepNewlines`, a span that crosses line breaks is masked piece by
 * piece so the output has exactly as many lines as the input (the `backstop redact` contract).
 */
export function applySpans(
  text: string,
  spans: readonly Span[],
  counts: Record<string, number>,
  keepNewlines = false,
): string {
  if (spans.length === 0) return text;
  const sorted = [...spans].filter((s) => s.end > s.start).sort((a, b) => a.start - b.start || b.end - a.end);
  const merged: Span[] = [];
  for (const s of sorted) {
    const last = merged[merged.length - 1];
    if (last && s.start < last.end) {
      last.end = Math.max(last.end, s.end);
      if ((s.rank ?? 0) < (last.rank ?? 0)) {
        last.type = s.type;
        last.rank = s.rank;
      }
    } else merged.push({ ...s });
  }
  let out = "";
  let pos = 0;
  for (const s of merged) {
    const piece = text.slice(s.start, s.end);
    const m = mask(s.type);
    out += text.slice(pos, s.start);
    out += keepNewlines && piece.includes("\n") ? maskLines(piece, m) : m;
    pos = s.end;
    counts[s.type] = (counts[s.type] ?? 0) + 1;
  }
  return out + text.slice(pos);
}

/** Each non-blank line piece of `piece` becomes `m`; the line breaks (and `\r`) are kept. */
function maskLines(piece: string, m: string): string {
  return piece
    .split("\n")
    .map((line) => {
      const cr = line.endsWith("\r") ? "\r" : "";
      const body = cr ? line.slice(0, -1) : line;
      if (body.trim() === "") return line;
      const indent = /^\s*/.exec(body)![0];
      return `${indent}${m}${cr}`;
    })
    .join("\n");
}

/** Shannon entropy of `s` in bits per character. */
export function shannonEntropy(s: string): number {
  const freq = new Map<string, number>();
  for (const ch of s) freq.set(ch, (freq.get(ch) ?? 0) + 1);
  let h = 0;
  for (const n of freq.values()) {
    const p = n / s.length;
    h -= p * Math.log2(p);
  }
  return h;
}
