import { createHash } from "node:crypto";
import { canonicalize } from "../contracts/canonical.js";
import {
  RUN_EVENT_TYPES,
  type RunEvent,
  type RunEventDataMap,
  type RunEventType,
} from "../contracts/events.js";
import { BackstopError, errorMessage } from "../errors.js";

/** `prev_hash` of the first event: 64 zeros (DESIGN.md, "Contracts"). */
export const GENESIS_HASH = "0".repeat(64);

/**
 * RFC 8785 (JSON Canonicalization Scheme) text of a JSON value, via the `canonicalize` package: keys
 * sorted by UTF-16 code units, no whitespace, ECMAScript number formatting.
 * @throws BackstopError `receipt.canonical` for values JSON cannot carry (NaN, Infinity, BigInt, cycles).
 */
export function canonicalJson(value: unknown): string {
  let text: string | undefined;
  try {
    text = canonicalize(value);
  } catch (err) {
    throw new BackstopError("receipt.canonical", `value cannot be canonicalized: ${errorMessage(err)}`, {
      cause: err,
    });
  }
  if (text === undefined)
    throw new BackstopError("receipt.canonical", "value has no JSON form (undefined or a function)");
  return text;
}

/** Lower-case hex SHA-256 (FIPS 180-4) of the UTF-8 bytes of `text`: 64 characters. */
export function sha256Hex(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

/**
 * The hash of one event: `sha256_hex(canonical({seq, at, type, data, prev_hash}))` (DESIGN.md,
 * "Contracts"), with `duration_ms` among the hashed fields when the event carries one (an additive
 * field: events without it hash exactly as before); the event's own `hash` field is not part of it.
 * @throws BackstopError `receipt.canonical` when `data` is not JSON.
 */
export function hashEvent(event: {
  seq: number;
  at: string;
  type: string;
  data: unknown;
  prev_hash: string;
  duration_ms?: number | undefined;
}): string {
  const { seq, at, type, data, prev_hash, duration_ms } = event;
  const body =
    duration_ms === undefined
      ? { seq, at, type, data, prev_hash }
      : { seq, at, type, data, prev_hash, duration_ms };
  return sha256Hex(canonicalJson(body));
}

/**
 * The RFC 8785 text {@link hashEvent} hashes, composed around `dataText`, the data's canonical text
 * already made: the members in the scheme's key order (`at`, `data`, `duration_ms`, `prev_hash`, `seq`,
 * `type`: UTF-16 code-unit order, RFC 8785 §3.2.3), strings and numbers serialized as the scheme does
 * (ECMAScript `JSON.stringify`, §3.2.2). Saves canonicalizing an event's data twice when appending.
 */
function canonicalEventText(
  head: { seq: number; at: string; type: string; prev_hash: string; duration_ms?: number | undefined },
  dataText: string,
): string {
  const duration = head.duration_ms === undefined ? "" : `,"duration_ms":${JSON.stringify(head.duration_ms)}`;
  return (
    `{"at":${JSON.stringify(head.at)},"data":${dataText}${duration},` +
    `"prev_hash":${JSON.stringify(head.prev_hash)},"seq":${JSON.stringify(head.seq)},"type":${JSON.stringify(head.type)}}`
  );
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object") {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/**
 * Builds one run's hash chain in memory. Each {@link ReceiptRecorder.append} stores a frozen copy of the
 * event (`data` passed through canonical JSON, so later changes to the caller's object cannot alter the
 * receipt), with `seq` from 0, `at` from the clock as ISO-8601 (UTC, ms), `prev_hash` the previous hash
 * (64 zeros first) and `hash` per {@link hashEvent}. Sign the result with `signReceipt`.
 */
export class ReceiptRecorder {
  /** The run this chain belongs to. */
  readonly runId: string;
  private readonly clock: () => Date;
  private readonly chain: RunEvent[] = [];

  /** `clock` defaults to `() => new Date()`; tests inject a fixed one. */
  constructor(opts: { runId: string; clock?: () => Date }) {
    if (typeof opts.runId !== "string" || opts.runId.length === 0) {
      throw new BackstopError("receipt.run_id", "a receipt needs a non-empty run id");
    }
    this.runId = opts.runId;
    this.clock = opts.clock ?? (() => new Date());
  }

  /**
   * Appends one event and returns it (frozen). `durationMs` (optional, ms >= 0) is how long the stage
   * it records took; it sits on the event as `duration_ms` and is hashed with it.
   * @throws BackstopError `receipt.event` for an unknown type, `receipt.canonical` for non-JSON data.
   */
  append<T extends RunEventType>(type: T, data: RunEventDataMap[T], durationMs?: number): RunEvent<T> {
    if (!(RUN_EVENT_TYPES as readonly string[]).includes(type)) {
      throw new BackstopError("receipt.event", `unknown run event type "${String(type)}"`);
    }
    // Canonicalized once: the frozen copy is parsed from this text and the hash is taken over it.
    const dataText = canonicalJson(data);
    const copy = JSON.parse(dataText) as RunEventDataMap[T];
    const seq = this.chain.length;
    const prev_hash = this.chain[seq - 1]?.hash ?? GENESIS_HASH;
    const at = this.clock().toISOString();
    if (durationMs !== undefined && (!Number.isFinite(durationMs) || durationMs < 0)) {
      throw new BackstopError("receipt.event", `duration_ms must be a finite number >= 0, not ${durationMs}`);
    }
    const body =
      durationMs === undefined
        ? { seq, at, type, data: copy, prev_hash }
        : { seq, at, type, data: copy, prev_hash, duration_ms: durationMs };
    const hash = sha256Hex(canonicalEventText(body, dataText));
    const event: RunEvent<T> = deepFreeze({ ...body, hash });
    this.chain.push(event as RunEvent);
    return event;
  }

  /**
   * Continues an existing chain (e.g. a run that waited for a human decision): checks every event's
   * `seq`, `prev_hash` link and `hash`, then appends after the last one.
   * @throws BackstopError `receipt.chain` naming the first event that does not verify.
   */
  static resume(opts: { runId: string; events: readonly RunEvent[]; clock?: () => Date }): ReceiptRecorder {
    const recorder = new ReceiptRecorder(
      opts.clock ? { runId: opts.runId, clock: opts.clock } : { runId: opts.runId },
    );
    let prev = GENESIS_HASH;
    for (const [i, e] of opts.events.entries()) {
      const body = {
        seq: e.seq,
        at: e.at,
        type: e.type,
        data: e.data,
        prev_hash: e.prev_hash,
        duration_ms: e.duration_ms,
      };
      if (e.seq !== i || e.prev_hash !== prev || hashEvent(body) !== e.hash) {
        throw new BackstopError(
          "receipt.chain",
          `cannot resume run ${opts.runId}: event ${i} does not verify`,
        );
      }
      recorder.chain.push(deepFreeze(JSON.parse(JSON.stringify(e)) as RunEvent));
      prev = e.hash;
    }
    return recorder;
  }

  /** The events so far, in order (a copy of the list; the events themselves are frozen). */
  events(): readonly RunEvent[] {
    return [...this.chain];
  }

  /** The last event's hash, or 64 zeros before the first event. */
  headHash(): string {
    return this.chain[this.chain.length - 1]?.hash ?? GENESIS_HASH;
  }
}
