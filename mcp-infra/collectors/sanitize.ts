import { type RedactionResult, redactDeep, redactText } from "../../src/guardrails/redact.js";
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
 * Sanitizes whole texts BEFORE any bound cuts them, each on its own, in order: strips Unicode Cf
 * characters, then redacts secrets and PII with the pipeline's redactor; counts go into `tally`. Equal
 * texts are redacted once (redaction depends on the text alone) and counted once per occurrence, so
 * the result and `tally` are what one pass per text gives: replicas of a crash-looping workload often
 * print the same log.
 * @throws BackstopError `redact.secretlint` if the secret scanner fails.
 */
export async function sanitizeTexts(texts: readonly string[], tally: SanitizeTally): Promise<string[]> {
  const redacted = new Map<string, Promise<RedactionResult<string>>>();
  return Promise.all(
    texts.map((text) => {
      const visible = stripInvisible(text);
      add(tally.invisible, visible.counts);
      let r = redacted.get(visible.value);
      if (r === undefined) {
        r = redactText(visible.value);
        redacted.set(visible.value, r);
      }
      return r.then((res) => {
        add(tally.redactions, res.counts);
        return res.value;
      });
    }),
  );
}

/**
 * {@link sanitizeTexts} over every string value of a JSON-like value (one secretlint pass); object keys
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
