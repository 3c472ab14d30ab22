import { type Signals, SignalsSchema } from "../contracts/signals.js";
import { BackstopError } from "../errors.js";
import { childLogger } from "../log.js";
import { entropySpans } from "./redact/entropy.js";
import { keywordSpans } from "./redact/keyword.js";
import { isNameKey, looksLikePersonName, piiSpans } from "./redact/pii.js";
import { providerSpans } from "./redact/providers.js";
import { secretlintSpans } from "./redact/secretlint.js";
import { applySpans, mask, maskedRanges, regexMatches, type Span } from "./redact/spans.js";

export { luhnValid } from "./redact/pii.js";
export { SECRET_TYPE_BY_MESSAGE_ID } from "./redact/secretlint.js";
export { mask } from "./redact/spans.js";
export { redactorVersion } from "./redact/version.js";

/**
 * The input guardrail: secrets and PII in logs, events, alerts and notes are replaced with
 * `[REDACTED:<Type>]`. Every detector runs over the original text and reports `[start, end)` spans of
 * the VALUE only (never a label such as `aws_secret_access_key = `, never the quotes); overlapping
 * spans merge. Detectors (implementation in `./redact/`):
 *
 * 1. secretlint's recommended preset 12.0.0 (`redact/secretlint.ts`; Stripe, Cloudflare and Tailscale
 *    as preset 13 has them are restated in `redact/providers.ts`): AWS, GCP service-account keys, PEM
 *    private keys, Slack, GitHub, GitLab, Stripe, Vault, OpenAI, Anthropic, npm, database connection
 *    strings, … (all providers the preset carries, `filter-comments` left out so input cannot turn it off).
 * 2. Provider formats from gitleaks' default rules (`redact/providers.ts`, each entry names its
 *    gitleaks rule): GCP API keys, Azure client secrets and storage keys, PyPI, Vault, Twilio, GitLab,
 *    DigitalOcean, PGP/EC/OpenSSH private keys, …
 * 3. JWTs (RFC 7519 compact JWS whose header is JSON with an `alg`, RFC 7515 §4.1.1).
 * 4. Keyword assignments (`redact/keyword.ts`): a value under a secret-looking key in `k=v`, `k: v`,
 *    JSON, YAML, HTTP headers (`Authorization: Basic|Bearer …`), CLI flags, URL userinfo, query
 *    strings, JDBC, docker `auth`, a Kubernetes Secret's `data:`.
 * 5. High-entropy tokens (`redact/entropy.ts`) with the allow-list: hex runs (git SHAs, trace/span
 *    ids, container ids, digests), UUIDs, `sha256:` digests, `${VAR}`/`$(VAR)`, pod-name hashes.
 * 6. PII (`redact/pii.ts`): e-mails (also `%40`), phone numbers (libphonenumber-js, never bare
 *    digits), Luhn-checked cards with a network prefix, IBANs (ibantools, mod 97), US SSNs, UK NINOs,
 *    person names next to other PII.
 *
 * Already-masked text (`[REDACTED:Type]`, `[REDACTED]`, `<redacted>`, `***`) is never a finding, so
 * redacting twice changes nothing. Only counts per type leave this module; the matched text goes
 * nowhere (not into logs, errors or counts).
 */

const log = childLogger("redact");

/** Counts per detector type, e.g. `{ AWSAccessKeyID: 1, Email: 2 }`, and their sum. */
export interface RedactionResult<T> {
  value: T;
  counts: Record<string, number>;
  total: number;
}

/** Strings are joined with this for one secretlint pass; no detector matches across `\n\0\n`. */
const SEPARATOR = "\n\u0000\n";

const JWT_PATTERN = /(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*/g;

/** Compact JWS whose header decodes to a JSON object with an `alg`. */
function jwtSpans(text: string): Span[] {
  const spans: Span[] = [];
  for (const m of regexMatches(JWT_PATTERN, text)) {
    const header = m[0].slice(0, m[0].indexOf("."));
    try {
      const parsed = JSON.parse(Buffer.from(header, "base64url").toString("utf8")) as unknown;
      if (
        parsed === null ||
        typeof parsed !== "object" ||
        typeof (parsed as { alg?: unknown }).alg !== "string"
      )
        continue;
    } catch {
      continue;
    }
    spans.push({ start: m.index, end: m.index + m[0].length, type: "JWT" });
  }
  return spans;
}

/** Detectors 2–6 on one string (secretlint runs batched, outside). */
function localSpans(text: string): Span[] {
  const ranked = (spans: Span[], rank: number) => spans.map((s) => ({ ...s, rank }));
  return [
    ...ranked(providerSpans(text), 1),
    ...ranked(jwtSpans(text), 2),
    ...ranked(piiSpans(text), 3),
    ...ranked(keywordSpans(text), 4),
    ...ranked(entropySpans(text), 5),
  ];
}

/** Masks `text` given its secretlint and local spans; findings that touch an existing mask are dropped. */
function redactOne(
  text: string,
  secretlint: Span[],
  local: readonly Span[],
  counts: Record<string, number>,
  keepNewlines: boolean,
): string {
  const spans = [...secretlint, ...local];
  if (spans.length === 0) return text;
  const masked = maskedRanges(text);
  const kept =
    masked.length === 0 ? spans : spans.filter((s) => !masked.some(([a, b]) => s.start < b && a < s.end));
  return applySpans(text, kept, counts, keepNewlines);
}

/**
 * Redacts many strings with one secretlint run over them joined by {@link SEPARATOR}. The local
 * detectors run once per distinct string (their spans depend on the string alone; spans are never
 * mutated downstream): a `get_signals` result repeats namespace, image, reason and message strings.
 */
async function redactStrings(
  texts: readonly string[],
  counts: Record<string, number>,
  keepNewlines = false,
): Promise<string[]> {
  const offsets: number[] = [];
  let joined = "";
  texts.forEach((t, i) => {
    if (i > 0) joined += SEPARATOR;
    offsets.push(joined.length);
    joined += t;
  });
  const spans = await secretlintSpans(joined);
  const local = new Map<string, Span[]>();
  return texts.map((text, i) => {
    const base = offsets[i]!;
    const own: Span[] = [];
    for (const s of spans) {
      // A span that crosses a separator is clipped to each string it touches.
      const start = Math.max(s.start - base, 0);
      const end = Math.min(s.end - base, text.length);
      if (start < end) own.push({ start, end, type: s.type });
    }
    let found = local.get(text);
    if (found === undefined) {
      found = localSpans(text);
      local.set(text, found);
    }
    return redactOne(text, own, found, counts, keepNewlines);
  });
}

function total(counts: Record<string, number>): number {
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

/**
 * Masks secrets and PII in one string (see the module doc for detectors and order).
 * @throws BackstopError `redact.invalid` for a non-string, `redact.secretlint` if the secret scanner fails.
 */
export async function redactText(text: string): Promise<RedactionResult<string>> {
  if (typeof text !== "string") throw new BackstopError("redact.invalid", "redactText expects a string");
  const counts: Record<string, number> = {};
  const [value] = await redactStrings([text], counts);
  return { value: value ?? "", counts, total: total(counts) };
}

/**
 * Masks a multi-line text keeping its line structure: the result has exactly as many `\n` as the
 * input (a finding that spans lines, such as a PEM block, is masked on each of its lines). Used by
 * `backstop redact`; detectors see the whole text, so a Kubernetes Secret's `data:` block is known.
 * @throws BackstopError `redact.invalid` for a non-string, `redact.secretlint` if the scanner fails.
 */
export async function redactLines(text: string): Promise<RedactionResult<string>> {
  if (typeof text !== "string") throw new BackstopError("redact.invalid", "redactLines expects a string");
  const counts: Record<string, number> = {};
  const [value] = await redactStrings([text], counts, true);
  return { value: value ?? "", counts, total: total(counts) };
}

function collectStrings(value: unknown, out: string[], seen: Set<object>): void {
  if (typeof value === "string") out.push(value);
  else if (Array.isArray(value) || (value !== null && typeof value === "object")) {
    if (seen.has(value))
      throw new BackstopError("redact.invalid", "value has a cycle; expected JSON-like data");
    seen.add(value);
    for (const v of Array.isArray(value) ? value : Object.values(value)) collectStrings(v, out, seen);
    seen.delete(value);
  }
}

function rebuild(value: unknown, next: () => string): unknown {
  if (typeof value === "string") return next();
  if (Array.isArray(value)) return value.map((v) => rebuild(v, next));
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = rebuild(v, next);
    return out;
  }
  return value;
}

const PII_MASK =
  /\[REDACTED:(?:Email|PhoneNumber|CreditCardNumber|IBAN|USSocialSecurityNumber|UKNationalInsuranceNumber)\]/;

/**
 * Person names next to PII across fields: in an object (a record) where some string value had PII
 * masked, a name field (`customer`, `name`, `first_name`, …) whose value looks like a person's name
 * is masked too. Works in place on the rebuilt (fresh) value.
 */
function maskNamesInRecords(value: unknown, counts: Record<string, number>): void {
  if (Array.isArray(value)) {
    for (const v of value) maskNamesInRecords(v, counts);
    return;
  }
  if (value === null || typeof value !== "object") return;
  const record = value as Record<string, unknown>;
  const hasPii = Object.values(record).some((v) => typeof v === "string" && PII_MASK.test(v));
  for (const [k, v] of Object.entries(record)) {
    if (hasPii && typeof v === "string" && isNameKey(k) && looksLikePersonName(v)) {
      record[k] = mask("PersonName");
      counts.PersonName = (counts.PersonName ?? 0) + 1;
    } else maskNamesInRecords(v, counts);
  }
}

/**
 * Masks secrets and PII in every string value of a JSON-like value (alert labels and annotations,
 * slash-command notes); object keys, numbers, booleans and null are kept. Returns a new value (plain
 * objects and arrays; the input is not modified). One secretlint run covers all strings. In an object
 * whose other fields had PII masked, a person's name in a name field is masked too.
 * @throws BackstopError `redact.invalid` on a cyclic value, `redact.secretlint` if the scanner fails.
 */
export async function redactDeep<T>(value: T): Promise<RedactionResult<T>> {
  const strings: string[] = [];
  collectStrings(value, strings, new Set());
  const counts: Record<string, number> = {};
  const redacted = await redactStrings(strings, counts);
  let i = 0;
  const out = rebuild(value, () => redacted[i++]!) as T;
  maskNamesInRecords(out, counts);
  const result = { value: out, counts, total: total(counts) };
  if (result.total > 0) log.debug({ counts, total: result.total }, "redacted input");
  return result;
}

/**
 * Masks secrets and PII in every string field of a `get_signals` result: log lines, event messages,
 * workload conditions, pod fields, and so on. The input is validated with `SignalsSchema` first.
 * @throws BackstopError `redact.invalid` when `signals` does not match the schema (the message names
 *   paths only, never values), `redact.secretlint` if the scanner fails.
 */
export async function redactSignals(signals: Signals): Promise<RedactionResult<Signals>> {
  const parsed = SignalsSchema.safeParse(signals);
  if (!parsed.success) {
    const paths = parsed.error.issues.map((i) => i.path.map(String).join(".") || "(root)").join(", ");
    throw new BackstopError("redact.invalid", `signals do not match the schema at: ${paths}`);
  }
  return redactDeep(parsed.data);
}
