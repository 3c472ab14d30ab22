/** HTTP plumbing of the Alertmanager route: bearer check, Content-Type, bounded body, UTF-8, JSON answers, webhook parsing. */
import { hash, timingSafeEqual } from "node:crypto";
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

/** The SHA-256 digest of the last expected token {@link bearerMatches} saw (the route's is fixed). */
let expectedDigest: { token: string; digest: Buffer } | null = null;

/**
 * True when the `Authorization` header is `Bearer <expected>` (RFC 6750 §2.1; the scheme is
 * case-insensitive). Compared in constant time over SHA-256 digests so length leaks nothing; the
 * expected token's digest is computed once and kept.
 */
export function bearerMatches(header: string | undefined, expected: string): boolean {
  if (!header || expected.length === 0) return false;
  const m = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
  if (!m?.[1]) return false;
  if (expectedDigest?.token !== expected)
    expectedDigest = { token: expected, digest: hash("sha256", expected, "buffer") };
  return timingSafeEqual(hash("sha256", m[1], "buffer"), expectedDigest.digest);
}

/**
 * Checks the `Content-Type` header (RFC 9110 §8.3): media type `application/json`, case-insensitive,
 * with at most a `charset=utf-8` parameter (RFC 8259 §8.1: JSON exchanged between systems is UTF-8).
 * @throws HttpError 415 otherwise (missing, `text/plain`, `application/x-www-form-urlencoded`, another charset).
 */
export function checkContentType(header: string | undefined): void {
  if (header === "application/json") return;
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

/**
 * Reads the body up to `limit` bytes (with `data`/`end` listeners: an async iterator over the request
 * costs a promise and a stream-finished watcher per chunk).
 * @throws HttpError 413 past the limit, 400 on a broken stream (an error, or closed before its end).
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    return Promise.reject(new HttpError(413, `request body is larger than ${limit} bytes`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const settle = (err: HttpError | null): void => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      req.off("close", onClose);
      if (err) reject(err);
      else resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size <= limit) {
        chunks.push(chunk);
        return;
      }
      // The rest is drained, not read: the 413 goes out, then `connection: close` ends the socket.
      settle(new HttpError(413, `request body is larger than ${limit} bytes`));
      req.resume();
    };
    const onEnd = (): void => settle(null);
    const onError = (err: Error): void =>
      settle(new HttpError(400, `cannot read request body: ${errorMessage(err)}`));
    const onClose = (): void => {
      if (!req.complete) settle(new HttpError(400, "cannot read request body: Premature close"));
    };
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
    req.on("close", onClose);
  });
}

/** One decoder for every body: a non-streaming `decode()` starts from a clean state each call. */
const UTF8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Decodes the body as UTF-8 with `TextDecoder("utf-8", { fatal: true })` (WHATWG Encoding), so a
 * malformed sequence, an overlong form or a lone surrogate is an error rather than U+FFFD.
 * @throws HttpError 400 `body is not valid UTF-8`.
 */
export function decodeUtf8(body: Uint8Array): string {
  try {
    return UTF8.decode(body);
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
