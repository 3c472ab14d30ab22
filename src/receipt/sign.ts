import { sign } from "node:crypto";
import { writeFileSync } from "node:fs";
import type { RunEvent } from "../contracts/events.js";
import { BackstopError } from "../errors.js";
import { canonicalJson, GENESIS_HASH, hashEvent } from "./chain.js";
import type { SigningKey } from "./keys.js";

/** The receipt format tag; a verifier refuses anything else. */
export const RECEIPT_FORMAT = "backstop.receipt/v1";

/**
 * A finished, signed receipt (DESIGN.md, "Contracts"): the run's hash-chained events, the head hash
 * (the last event's `hash`) and an Ed25519 signature (RFC 8032). The signature covers
 * {@link signedStatement}: format, run id, head hash, event count and `signed_at`; through the head hash
 * it covers every event. `public_key` is SPKI PEM; `key_id` is the first 16 hex of sha256(SPKI DER);
 * `value` is the 64-byte signature in base64 (RFC 4648 §4, padded). `signed_at` is ISO-8601.
 */
export interface Receipt {
  format: "backstop.receipt/v1";
  run_id: string;
  events: RunEvent[];
  head_hash: string;
  signature: { alg: "Ed25519"; public_key: string; key_id: string; value: string };
  signed_at: string;
}

/**
 * The exact bytes that are signed: RFC 8785 canonical JSON of
 * `{ format, run_id, head_hash, events: <count>, signed_at }`, UTF-8.
 */
export function signedStatement(r: {
  format: string;
  run_id: string;
  head_hash: string;
  events: number;
  signed_at: string;
}): Buffer {
  return Buffer.from(
    canonicalJson({
      format: r.format,
      run_id: r.run_id,
      head_hash: r.head_hash,
      events: r.events,
      signed_at: r.signed_at,
    }),
    "utf8",
  );
}

/**
 * Signs a run's events into a {@link Receipt}. The chain is re-checked first (seq 0..n-1, every
 * `prev_hash` link, every `hash`), so a broken chain is never signed.
 * @throws BackstopError `receipt.empty` for no events, `receipt.chain` for a broken chain.
 */
export function signReceipt(
  runId: string,
  events: readonly RunEvent[],
  key: SigningKey,
  opts: { clock?: () => Date } = {},
): Receipt {
  if (events.length === 0) throw new BackstopError("receipt.empty", "a receipt needs at least one event");
  let prev = GENESIS_HASH;
  events.forEach((e, i) => {
    if (e.seq !== i || e.prev_hash !== prev || hashEvent(e) !== e.hash) {
      throw new BackstopError("receipt.chain", `event ${i} does not chain; refusing to sign`, {
        details: { seq: i },
      });
    }
    prev = e.hash;
  });
  const signed_at = (opts.clock ?? (() => new Date()))().toISOString();
  const statement = signedStatement({
    format: RECEIPT_FORMAT,
    run_id: runId,
    head_hash: prev,
    events: events.length,
    signed_at,
  });
  return {
    format: RECEIPT_FORMAT,
    run_id: runId,
    events: JSON.parse(JSON.stringify(events)) as RunEvent[],
    head_hash: prev,
    signature: {
      alg: "Ed25519",
      public_key: key.publicKeyPem,
      key_id: key.keyId,
      value: sign(null, statement, key.privateKey).toString("base64"),
    },
    signed_at,
  };
}

/**
 * The receipt file's text: RFC 8785 canonical JSON plus one `\n`. `verifyReceiptFile` insists on this
 * form by default, so no byte of a receipt file can change without failing verification.
 */
export function serializeReceipt(receipt: Receipt): string {
  return `${canonicalJson(receipt)}\n`;
}

/**
 * Writes {@link serializeReceipt} to `path` (mode 0644; receipts hold no secrets).
 * @throws the `fs` error (ENOENT, EACCES) as is.
 */
export function writeReceiptFile(path: string, receipt: Receipt): void {
  writeFileSync(path, serializeReceipt(receipt), { mode: 0o644 });
}
