import { createPublicKey, type KeyObject, verify } from "node:crypto";
import { readFileSync } from "node:fs";
import { z } from "zod";
import { RUN_EVENT_TYPES } from "../contracts/events.js";
import { errorMessage, formatZodIssues } from "../errors.js";
import { canonicalJson, GENESIS_HASH, hashEvent } from "./chain.js";
import { keyIdOf, publicKeyPemOf } from "./keys.js";
import { RECEIPT_FORMAT, signedStatement } from "./sign.js";

const HEX64 = /^[0-9a-f]{64}$/;

const EventSchema = z.strictObject({
  seq: z.number().int().nonnegative(),
  at: z.iso.datetime({ offset: true }),
  type: z.enum(RUN_EVENT_TYPES),
  data: z.record(z.string(), z.unknown()),
  prev_hash: z.string().regex(HEX64, "expected 64 lower-case hex"),
  duration_ms: z.number().nonnegative().optional(),
  hash: z.string().regex(HEX64, "expected 64 lower-case hex"),
});

/** The zod shape of a {@link Receipt} as read from disk; strict, so no unknown field slips in. */
export const ReceiptSchema = z.strictObject({
  format: z.literal(RECEIPT_FORMAT),
  run_id: z.string().min(1),
  events: z.array(EventSchema).min(1),
  head_hash: z.string().regex(HEX64, "expected 64 lower-case hex"),
  signature: z.strictObject({
    alg: z.literal("Ed25519"),
    public_key: z.string().min(1),
    key_id: z.string().regex(/^[0-9a-f]{16}$/, "expected 16 lower-case hex"),
    value: z.string().min(1),
  }),
  signed_at: z.iso.datetime({ offset: true }),
});

/**
 * What a verification found. `ok: false` names the first bad event's `seq` (its position in the chain)
 * when the fault is in an event, else `seq: null`; `reason` says what failed.
 */
export type VerifyResult =
  | { ok: true; events: number; head_hash: string; key_id: string }
  | { ok: false; seq: number | null; reason: string };

/**
 * Options for {@link verifyReceipt}. `trustedPublicKeys` pins the signer: each entry is SPKI PEM text,
 * a 16-hex key id, or a path to a PEM file; a receipt signed by any other key fails.
 */
export interface VerifyOptions {
  trustedPublicKeys?: string[];
}

function fail(seq: number | null, reason: string): VerifyResult {
  return { ok: false, seq, reason };
}

/** Strict base64 (RFC 4648 §4): decoding and re-encoding must give the same text back. */
function strictBase64(text: string): Buffer | null {
  const bytes = Buffer.from(text, "base64");
  return bytes.toString("base64") === text ? bytes : null;
}

function trustedKeyIds(entries: string[]): { ids: Set<string>; error: string | null } {
  const ids = new Set<string>();
  for (const entry of entries) {
    const trimmed = entry.trim();
    if (/^[0-9a-f]{16}$/.test(trimmed)) {
      ids.add(trimmed);
      continue;
    }
    try {
      const pem = trimmed.includes("-----BEGIN") ? trimmed : readFileSync(trimmed, "utf8");
      ids.add(keyIdOf(createPublicKey(pem)));
    } catch (err) {
      return {
        ids,
        error: `a trusted public key is not a valid key, key id or key file: ${errorMessage(err)}`,
      };
    }
  }
  return { ids, error: null };
}

/**
 * Verifies a receipt object: its shape (zod, strict), then for each event in order `seq` equal to its
 * position, `prev_hash` equal to the previous event's `hash` (64 zeros first) and `hash` equal to the
 * recomputed `sha256(canonical({seq, at, type, data, prev_hash[, duration_ms]}))`; then `head_hash` equal to the last
 * hash (catches truncation and appended events), `run.started.run_id` equal to `run_id`, the public key
 * (Ed25519 SPKI PEM in Node's canonical form, `key_id` matching it, pinned by `trustedPublicKeys` if
 * given) and the Ed25519 signature (strict base64, 64 bytes) over `signedStatement`. Never throws.
 */
export function verifyReceipt(receipt: unknown, opts: VerifyOptions = {}): VerifyResult {
  const parsed = ReceiptSchema.safeParse(receipt);
  if (!parsed.success) {
    const path = parsed.error.issues[0]?.path ?? [];
    const seq = path[0] === "events" && typeof path[1] === "number" ? path[1] : null;
    return fail(seq, `malformed receipt at ${formatZodIssues(parsed.error, { limit: 1 })}`);
  }
  const r = parsed.data;

  let prev = GENESIS_HASH;
  for (let i = 0; i < r.events.length; i++) {
    const e = r.events[i]!;
    if (e.seq !== i)
      return fail(i, `event at position ${i} has seq ${e.seq} (reordered, removed or inserted)`);
    if (e.prev_hash !== prev) return fail(i, `prev_hash does not link to event ${i - 1}`);
    let hash: string;
    try {
      hash = hashEvent(e);
    } catch (err) {
      return fail(i, `event cannot be canonicalized: ${errorMessage(err)}`);
    }
    if (hash !== e.hash) return fail(i, "hash mismatch: the event was altered");
    prev = e.hash;
  }
  if (r.head_hash !== prev)
    return fail(null, "head_hash is not the last event's hash (truncated or extended)");
  const started = r.events.find((e) => e.type === "run.started");
  if (started && started.data.run_id !== r.run_id) {
    return fail(started.seq, "run.started.run_id does not match the receipt's run_id");
  }

  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey(r.signature.public_key);
  } catch (err) {
    return fail(null, `public key is not a valid SPKI PEM: ${errorMessage(err)}`);
  }
  if (publicKey.asymmetricKeyType !== "ed25519") return fail(null, "public key is not Ed25519");
  if (publicKeyPemOf(publicKey) !== r.signature.public_key)
    return fail(null, "public key PEM is not in canonical form");
  const keyId = keyIdOf(publicKey);
  if (keyId !== r.signature.key_id) return fail(null, "key_id does not match the public key");
  if (opts.trustedPublicKeys !== undefined) {
    const trusted = trustedKeyIds(opts.trustedPublicKeys);
    if (trusted.error !== null) return fail(null, trusted.error);
    if (!trusted.ids.has(keyId)) return fail(null, `receipt signed by untrusted key ${keyId}`);
  }
  const sig = strictBase64(r.signature.value);
  if (sig === null || sig.length !== 64) return fail(null, "signature is not 64 bytes of strict base64");
  const statement = signedStatement({
    format: r.format,
    run_id: r.run_id,
    head_hash: r.head_hash,
    events: r.events.length,
    signed_at: r.signed_at,
  });
  let valid = false;
  try {
    valid = verify(null, statement, publicKey, sig);
  } catch (err) {
    return fail(null, `signature check failed: ${errorMessage(err)}`);
  }
  if (!valid) return fail(null, "Ed25519 signature does not verify");
  return { ok: true, events: r.events.length, head_hash: r.head_hash, key_id: keyId };
}

/**
 * Verifies a receipt file: strict UTF-8, JSON, {@link verifyReceipt}, then (unless `requireCanonical` is
 * false) that the text is exactly the RFC 8785 canonical form written by `serializeReceipt` (optionally
 * without the final newline), so even a semantically neutral byte change (whitespace, `\u00XX` case)
 * fails. Unreadable or unparsable files give `{ ok: false, seq: null, reason }`. Never throws.
 */
export function verifyReceiptFile(
  path: string,
  opts: VerifyOptions & { requireCanonical?: boolean } = {},
): VerifyResult {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(readFileSync(path));
  } catch (err) {
    return fail(null, `cannot read receipt file: ${errorMessage(err)}`);
  }
  return verifyReceiptText(text, opts);
}

/** {@link verifyReceiptFile} on text already read (e.g. an uploaded or downloaded receipt). Never throws. */
export function verifyReceiptText(
  text: string,
  opts: VerifyOptions & { requireCanonical?: boolean } = {},
): VerifyResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return fail(null, `receipt is not valid JSON: ${errorMessage(err)}`);
  }
  const result = verifyReceipt(value, opts);
  if (!result.ok || opts.requireCanonical === false) return result;
  let canonical: string;
  try {
    canonical = canonicalJson(value);
  } catch (err) {
    return fail(null, errorMessage(err));
  }
  if (text !== canonical && text !== `${canonical}\n`) {
    return fail(
      null,
      "receipt text is not in RFC 8785 canonical form (bytes changed outside the signed values)",
    );
  }
  return result;
}
