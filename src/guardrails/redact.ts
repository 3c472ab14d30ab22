import { Redactor } from "@redactpii/node";
import { lintSource } from "@secretlint/core";
import { rules as recommendedRules } from "@secretlint/secretlint-rule-preset-recommend";
import type { SecretLintCoreConfig, SecretLintCoreConfigRule } from "@secretlint/types";
import { type Signals, SignalsSchema } from "../contracts/signals.js";
import { BackstopError, errorMessage } from "../errors.js";
import { childLogger } from "../log.js";

/**
 * The input guardrail: before any model call, secrets and PII in logs, events, alerts and notes are
 * replaced with `[REDACTED:<Type>]`. Detectors, in order:
 *
 * 1. Secrets: secretlint (`@secretlint/core` `lintSource`) with every rule of
 *    `@secretlint/secretlint-rule-preset-recommend` (AWS with `enableIDScanRule` so access key ids are
 *    found too, private keys in PEM incl. the `private_key` of a GCP service-account JSON, Slack, GitHub,
 *    basic-auth URLs, PostgreSQL/MySQL/MongoDB URLs with a password, OpenAI, Anthropic, npm, Linear,
 *    SendGrid, Shopify, 1Password). The preset's `filter-comments` rule is left out on purpose: with it,
 *    a log line containing `secretlint-disable` would switch detection off. Each message's `range` is
 *    masked exactly; the type comes from its `messageId` ({@link SECRET_TYPE_BY_MESSAGE_ID}).
 * 2. JWTs (RFC 7519 compact JWS, `header.payload.signature`): no secretlint rule covers them, so a
 *    narrow detector of our own: three base64url segments, the first two starting `eyJ` (`{"`), the
 *    header decoding to a JSON object with an `alg` (RFC 7515 §4.1.1).
 * 3. Card numbers: ours too, because `@redactpii/node` masks any 16 digits without a checksum: 13–19
 *    digits (single spaces or dashes allowed between) that pass the Luhn check (ISO/IEC 7812-1).
 * 4. PII: `@redactpii/node` (zero dependencies, no network without an API key) for e-mail addresses,
 *    phone numbers (NANP forms; note it also masks any bare 7- or 10-digit number, e.g. 1048576) and
 *    US SSNs.
 *
 * Only counts per type leave this module; the matched text goes nowhere (not into logs, errors or counts).
 */

const log = childLogger("redact");

/** Counts per detector type, e.g. `{ AWSAccessKeyID: 1, Email: 2 }`, and their sum. */
export interface RedactionResult<T> {
  value: T;
  counts: Record<string, number>;
  total: number;
}

/** The mask that replaces a finding of `type`. */
export function mask(type: string): string {
  return `[REDACTED:${type}]`;
}

/** secretlint `messageId` → our type name (the name in masks and counts). Unknown ids are used as is. */
export const SECRET_TYPE_BY_MESSAGE_ID: Readonly<Record<string, string>> = {
  AWSAccessKeyID: "AWSAccessKeyID",
  AWSSecretAccessKey: "AWSSecretAccessKey",
  AWSAccountID: "AWSAccountID",
  PrivateKey: "PrivateKey",
  PrivateKeyJSON: "GCPServiceAccountKey",
  PrivateKeyP12: "GCPServiceAccountKey",
  SLACK_TOKEN: "SlackToken",
  IncomingWebhook: "SlackIncomingWebhook",
  GITHUB_TOKEN: "GitHubToken",
  PackageJSON_xOauthToken: "GitHubToken",
  BasicAuth: "BasicAuth",
  MongoDBConnection: "DatabaseConnectionString",
  MySQLConnection: "DatabaseConnectionString",
  PostgreSQLConnection: "DatabaseConnectionString",
  OPENAI_TOKEN: "OpenAIAPIKey",
  ANTHROPIC_API_KEY: "AnthropicAPIKey",
  LINEAR_API_TOKEN: "LinearAPIKey",
  SENDGRID_KEY: "SendGridAPIKey",
  SHOPIFY_KEY: "ShopifyToken",
  OPS_TOKEN: "OnePasswordToken",
  NPM_ACCESS_TOKEN: "NpmToken",
  Npmrc_authToken: "NpmToken",
};

const FILTER_COMMENTS_RULE = "@secretlint/secretlint-rule-filter-comments";
const AWS_RULE = "@secretlint/secretlint-rule-aws";

const SECRETLINT_CONFIG: SecretLintCoreConfig = {
  rules: recommendedRules
    .filter((rule) => rule.meta.id !== FILTER_COMMENTS_RULE)
    .map(
      (rule) =>
        ({
          id: rule.meta.id,
          rule,
          options: rule.meta.id === AWS_RULE ? { enableIDScanRule: true } : {},
        }) as unknown as SecretLintCoreConfigRule,
    ),
};

/** Strings are joined with this for one secretlint pass; no detector matches across `\n\0\n`. */
const SEPARATOR = "\n\u0000\n";

interface Span {
  start: number;
  end: number;
  type: string;
}

/** Secret findings in `source` as `[start, end)` UTF-16 offsets, from one secretlint run. */
async function secretSpans(source: string): Promise<Span[]> {
  if (source.trim() === "") return [];
  let result: Awaited<ReturnType<typeof lintSource>>;
  try {
    result = await lintSource({
      source: { content: source, filePath: "backstop-input.txt", ext: ".txt", contentType: "text" },
      options: { config: SECRETLINT_CONFIG, maskSecrets: true, noPhysicFilePath: true },
    });
  } catch (err) {
    // secretlint's own error text never carries the scanned content.
    throw new BackstopError("redact.secretlint", `secret scan failed: ${errorMessage(err)}`, { cause: err });
  }
  return result.messages.map((m) => ({
    start: m.range[0],
    end: m.range[1],
    type: SECRET_TYPE_BY_MESSAGE_ID[m.messageId] ?? m.messageId.replace(/[^A-Za-z0-9]/g, ""),
  }));
}

const JWT_PATTERN = /(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*/g;

/** Our JWT detector (see the module doc): compact JWS whose header is JSON with an `alg`. */
function jwtSpans(text: string): Span[] {
  const spans: Span[] = [];
  for (const m of text.matchAll(JWT_PATTERN)) {
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

/** Luhn (mod 10) check over a string of digits (ISO/IEC 7812-1 Annex B). */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return false;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return digits.length > 0 && sum % 10 === 0;
}

const CARD_PATTERN = /(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d])/g;

/** Our card detector (see the module doc): 13–19 digits passing Luhn. */
function cardSpans(text: string): Span[] {
  const spans: Span[] = [];
  for (const m of text.matchAll(CARD_PATTERN)) {
    const digits = m[0].replace(/[ -]/g, "");
    if (digits.length >= 13 && digits.length <= 19 && luhnValid(digits)) {
      spans.push({ start: m.index, end: m.index + m[0].length, type: "CreditCardNumber" });
    }
  }
  return spans;
}

/** Merges overlapping spans (the earliest, then longest, names the merged span) and masks them. */
function applySpans(text: string, spans: Span[], counts: Record<string, number>): string {
  if (spans.length === 0) return text;
  const sorted = [...spans].sort((a, b) => a.start - b.start || b.end - a.end);
  const merged: Span[] = [];
  for (const s of sorted) {
    const last = merged[merged.length - 1];
    if (last && s.start < last.end) last.end = Math.max(last.end, s.end);
    else merged.push({ ...s });
  }
  let out = "";
  let pos = 0;
  for (const s of merged) {
    out += text.slice(pos, s.start) + mask(s.type);
    pos = s.end;
    counts[s.type] = (counts[s.type] ?? 0) + 1;
  }
  return out + text.slice(pos);
}

/** `@redactpii/node` detectors, one per type so each finding can be counted by its mask. */
const PII_REDACTORS: readonly { type: string; redactor: Redactor }[] = [
  { type: "Email", rule: "EMAIL" as const },
  { type: "USSocialSecurityNumber", rule: "SSN" as const },
  { type: "PhoneNumber", rule: "PHONE" as const },
].map(({ type, rule }) => ({
  type,
  redactor: new Redactor({
    rules: { CREDIT_CARD: false, EMAIL: false, NAME: false, PHONE: false, SSN: false, [rule]: true },
    globalReplaceWith: mask(type),
    apiKey: null,
  }),
}));

function countOf(text: string, needle: string): number {
  let n = 0;
  for (let i = text.indexOf(needle); i !== -1; i = text.indexOf(needle, i + needle.length)) n++;
  return n;
}

/** Steps 2–4 on one string whose secret spans are already masked. */
function redactRest(text: string, counts: Record<string, number>): string {
  let out = applySpans(text, jwtSpans(text), counts);
  out = applySpans(out, cardSpans(out), counts);
  for (const { type, redactor } of PII_REDACTORS) {
    const m = mask(type);
    const before = countOf(out, m);
    const next = redactor.redact(out);
    const added = countOf(next, m) - before;
    if (added > 0) counts[type] = (counts[type] ?? 0) + added;
    out = next;
  }
  return out;
}

/** Redacts many strings with one secretlint run over them joined by {@link SEPARATOR}. */
async function redactStrings(texts: readonly string[], counts: Record<string, number>): Promise<string[]> {
  const offsets: number[] = [];
  let joined = "";
  texts.forEach((t, i) => {
    if (i > 0) joined += SEPARATOR;
    offsets.push(joined.length);
    joined += t;
  });
  const spans = await secretSpans(joined);
  return texts.map((text, i) => {
    const base = offsets[i]!;
    const own: Span[] = [];
    for (const s of spans) {
      // A span that crosses a separator is clipped to each string it touches.
      const start = Math.max(s.start - base, 0);
      const end = Math.min(s.end - base, text.length);
      if (start < end) own.push({ start, end, type: s.type });
    }
    return redactRest(applySpans(text, own, counts), counts);
  });
}

function total(counts: Record<string, number>): number {
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

/**
 * Masks secrets and PII in one string (see the module doc for detectors and order).
 * @throws BackstopError `redact.secretlint` if the secret scanner itself fails.
 */
export async function redactText(text: string): Promise<RedactionResult<string>> {
  if (typeof text !== "string") throw new BackstopError("redact.invalid", "redactText expects a string");
  const counts: Record<string, number> = {};
  const [value] = await redactStrings([text], counts);
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

/**
 * Masks secrets and PII in every string value of a JSON-like value (alert labels and annotations,
 * slash-command notes); object keys, numbers, booleans and null are kept. Returns a new value (plain
 * objects and arrays; the input is not modified). One secretlint run covers all strings.
 * @throws BackstopError `redact.invalid` on a cyclic value, `redact.secretlint` if the scanner fails.
 */
export async function redactDeep<T>(value: T): Promise<RedactionResult<T>> {
  const strings: string[] = [];
  collectStrings(value, strings, new Set());
  const counts: Record<string, number> = {};
  const redacted = await redactStrings(strings, counts);
  let i = 0;
  const out = rebuild(value, () => redacted[i++]!) as T;
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
