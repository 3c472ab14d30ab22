import { redactDeep, redactText } from "../../src/guardrails/redact.js";
import { stripInvisible, stripInvisibleDeep } from "../../src/guardrails/untrusted.js";

/**
 * What the server masked and stripped while gathering one result: redaction counts per type
 * (`[REDACTED:<Type>]`, see `src/guardrails/redact.ts`) and invisible (Unicode Cf) characters per kind
 * (`src/guardrails/untrusted.ts`). Counts only, never values. Mutated as texts are sanitized.
 */
export interface SanitizeTally {
  redactions: Record<string, number>;
  invisible: Record<string, number>;
}

/** An empty {@link SanitizeTally}. */
export function newTally(): SanitizeTally {
  return { redactions: {}, invisible: {} };
}

function add(into: Record<string, number>, from: Record<string, number | undefined>): void {
  for (const [k, n] of Object.entries(from)) if (n) into[k] = (into[k] ?? 0) + n;
}

/**
 * Sanitizes one whole text BEFORE any bound cuts it: strips Unicode Cf characters, then redacts secrets
 * and PII with the pipeline's redactor; counts go into `tally`.
 * @throws BackstopError `redact.secretlint` if the secret scanner fails.
 */
export async function sanitizeText(text: string, tally: SanitizeTally): Promise<string> {
  const visible = stripInvisible(text);
  add(tally.invisible, visible.counts);
  const r = await redactText(visible.value);
  add(tally.redactions, r.counts);
  return r.value;
}

/**
 * {@link sanitizeText} over every string value of a JSON-like value (one secretlint pass); object keys
 * are kept as they are (they are field names of our own shapes here).
 * @throws BackstopError `redact.invalid` on a cyclic value, `redact.secretlint` if the scanner fails.
 */
export async function sanitizeDeep<T>(value: T, tally: SanitizeTally): Promise<T> {
  const visible = stripInvisibleDeep(value);
  add(tally.invisible, visible.counts);
  const r = await redactDeep(visible.value);
  add(tally.redactions, r.counts);
  return r.value;
}
