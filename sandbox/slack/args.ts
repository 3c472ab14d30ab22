import { z } from "zod";
import { BackstopError } from "../../src/errors.js";

/**
 * Argument parsing and error answers shared by every Web API method family of the sandbox Slack. Wire
 * forms follow the Slack Web API reference (https://docs.slack.dev/apis/web-api/): form values arrive as
 * strings (booleans as `"true"`/`"1"`, nested fields such as `blocks` and `files` as JSON strings), JSON
 * bodies keep their types; failures answer HTTP 200 `{ ok: false, error: "<code>", ...extra }`.
 */

/** Slack's documented cap on blocks in one message (https://docs.slack.dev/reference/block-kit/blocks). */
export const MAX_BLOCKS = 50;
/** Slack truncates `text` beyond 40,000 characters and rejects longer with `msg_too_long`. */
export const MAX_TEXT = 40_000;
/** Request bodies beyond this (bytes) are refused with HTTP 413 (the sandbox never needs more). */
export const MAX_BODY_BYTES = 20 * 1024 * 1024;

/** A conversation ID: `C…` (public channel), `G…` (private channel), `D…` (direct message). */
export const CHANNEL_ID = /^[CGD][A-Z0-9]{2,}$/;
/** A user ID: `U…` or `W…` (Enterprise Grid). */
export const USER_ID = /^[UW][A-Z0-9]{2,}$/;
/** A Slack timestamp: Unix seconds, a dot, six digits (`"1763731200.000100"`). */
export const TS = /^\d{10}\.\d{6}$/;

const API_ERROR = "sandbox.slack.api_error";

/**
 * A Slack API error: the method answers `{ ok: false, error, ...extra }` with HTTP 200.
 * @param error Slack's error code (`channel_not_found`, `invalid_arguments`, …).
 * @param extra fields merged into the answer (e.g. `response_metadata`).
 */
export function apiError(error: string, extra: Record<string, unknown> = {}): BackstopError {
  return new BackstopError(API_ERROR, error, { details: { error, extra } });
}

/**
 * The answer body for an error thrown by {@link apiError} (`{ ok: false, error, ...extra }`), or
 * `undefined` for any other error (which the caller rethrows: it is a sandbox bug, not an API answer).
 */
export function apiErrorBody(err: unknown): Record<string, unknown> | undefined {
  if (!(err instanceof BackstopError) || err.code !== API_ERROR) return undefined;
  const d = err.details as { error: string; extra: Record<string, unknown> };
  return { ok: false, error: d.error, ...d.extra };
}

/** A boolean as a form sends it: `"true"`/`"1"` → true, `"false"`/`"0"` → false, JSON booleans as is. */
export const zBool = z.preprocess(
  (v) => (v === "true" || v === "1" ? true : v === "false" || v === "0" ? false : v),
  z.boolean(),
);

/** A field that a form sends as a JSON string (and a JSON body sends as is), validated by `schema`. */
export const jsonField = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v) => {
    if (typeof v !== "string") return v;
    try {
      return JSON.parse(v);
    } catch {
      return v;
    }
  }, schema);

/** Block Kit `blocks`: at most {@link MAX_BLOCKS} objects, each with a `type` and an optional `block_id` ≤ 255 chars. */
export const zBlocks = jsonField(
  z
    .array(z.looseObject({ type: z.string().min(1), block_id: z.string().max(255).optional() }))
    .max(MAX_BLOCKS),
);

/** A Slack timestamp ({@link TS}). */
export const zTs = z.string().regex(TS, "not a Slack timestamp");

/** An integer, also as a string of digits (form encoding). */
export const zInt = z.preprocess(
  (v) => (typeof v === "string" && /^\d+$/.test(v) ? Number(v) : v),
  z.number().int(),
);

/**
 * Validates `args` against a method's schema, mapping failures to Slack's error codes: a bad `blocks` field
 * → `invalid_blocks`, a missing `channel` → `channel_not_found`, anything else → `invalid_arguments` with
 * `response_metadata.messages: ["[ERROR] <why> [json-pointer:/<field>]"]`, Slack's own form.
 * @throws the {@link apiError} described above.
 */
export function parseArgs<T extends z.ZodType>(schema: T, args: Record<string, unknown>): z.output<T> {
  const r = schema.safeParse(args);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const field = String(issue?.path[0] ?? "");
  if (field === "blocks") throw apiError("invalid_blocks");
  if (field === "channel" && args.channel === undefined) throw apiError("channel_not_found");
  const why = args[field] === undefined ? `missing required field: ${field}` : (issue?.message ?? "invalid");
  throw apiError("invalid_arguments", {
    response_metadata: { messages: [`[ERROR] ${why} [json-pointer:/${field}]`] },
  });
}
