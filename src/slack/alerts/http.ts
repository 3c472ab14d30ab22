/** HTTP plumbing of the Alertmanager route: bearer check, Content-Type, bounded body, UTF-8, JSON answers, webhook parsing. */
import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import {
  type AlertmanagerWebhook,
  INTAKE_LIMITS,
  IntakeWebhookSchema,
} from "../../contracts/alertmanager.js";
import { errorMessage } from "../../errors.js";

/** Largest accepted body (bytes): {@link INTAKE_LIMITS.bodyBytes}. */
export const ALERT_BODY_LIMIT_BYTES = INTAKE_LIMITS.bodyBytes;

/** A request failure with its HTTP status and a JSON `{ error }` body (plus `extra` fields). */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** Sends `body` as a JSON answer with `status` and extra `headers`; nothing when headers were already sent. */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

/**
 * True when the `Authorization` header is `Bearer <expected>` (RFC 6750 §2.1; the scheme is
 * case-insensitive). Compared in constant time over SHA-256 digests so length leaks nothing.
 */
export function bearerMatches(header: string | undefined, expected: string): boolean {
  if (!header || expected.length === 0) return false;
  const m = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
  if (!m?.[1]) return false;
  const a = createHash("sha256").update(m[1]).digest();
  const b = createHash("sha256").update(expected).digest();
  return timingSafeEqual(a, b);
}

/**
 * Checks the `Content-Type` header (RFC 9110 §8.3): media type `application/json`, case-insensitive,
 * with at most a `charset=utf-8` parameter (RFC 8259 §8.1: JSON exchanged between systems is UTF-8).
 * @throws HttpError 415 otherwise (missing, `text/plain`, `application/x-www-form-urlencoded`, another charset).
 */
export function checkContentType(header: string | undefined): void {
  const [type = "", ...params] = (header ?? "").split(";").map((p) => p.trim().toLowerCase());
  const charset = params
    .find((p) => p.startsWith("charset="))
    ?.slice("charset=".length)
    .replace(/"/g, "");
  if (type !== "application/json" || (charset !== undefined && charset !== "utf-8" && charset !== "utf8")) {
    throw new HttpError(
      415,
      `the body must be JSON: Content-Type application/json (UTF-8), not ${JSON.stringify((header ?? "").slice(0, 100)) || "none"}`,
    );
  }
}

/** Reads the body up to `limit` bytes. @throws HttpError 413 past the limit, 400 on a broken stream. */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    throw new HttpError(413, `request body is larger than ${limit} bytes`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of req) {
      const buf = chunk as Buffer;
      size += buf.length;
      if (size > limit) {
        req.resume();
        throw new HttpError(413, `request body is larger than ${limit} bytes`);
      }
      chunks.push(buf);
    }
  } catch (err) {
    if (err instanceof HttpError) throw err;
    throw new HttpError(400, `cannot read request body: ${errorMessage(err)}`);
  }
  return Buffer.concat(chunks);
}

/**
 * Decodes the body as UTF-8 with `TextDecoder("utf-8", { fatal: true })` (WHATWG Encoding), so a
 * malformed sequence, an overlong form or a lone surrogate is an error rather than U+FFFD.
 * @throws HttpError 400 `body is not valid UTF-8`.
 */
export function decodeUtf8(body: Uint8Array): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(body);
  } catch {
    throw new HttpError(400, "body is not valid UTF-8");
  }
}

/**
 * Parses and validates a notification with `IntakeWebhookSchema` (src/contracts/alertmanager.ts):
 * the v4 fields, `startsAt` required and RFC 3339, `endsAt` RFC 3339 (`0001-01-01T00:00:00Z` allowed).
 * @throws HttpError 400 naming each bad field, e.g. `alerts.0.startsAt: expected an RFC 3339 timestamp…`.
 */
export function parseWebhook(text: string): AlertmanagerWebhook {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new HttpError(400, `body is not valid JSON: ${errorMessage(err)}`);
  }
  const parsed = IntakeWebhookSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues
      .slice(0, 20)
      .map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
    throw new HttpError(400, `invalid Alertmanager webhook (version 4): ${issues.join("; ")}`);
  }
  return parsed.data;
}
