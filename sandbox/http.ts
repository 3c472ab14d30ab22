import type { IncomingMessage, ServerResponse } from "node:http";
import { BackstopError, isBackstopError } from "../src/errors.js";

/**
 * The HTTP plumbing every sandbox server shares (Slack, cluster, model provider, tickets): reading a
 * request body under a size cap and answering JSON. Only `node:http`; routing stays with each server.
 */

/** The code of the error {@link readBody} throws past its limit; servers answer it with HTTP 413. */
export const BODY_TOO_LARGE = "sandbox.http.too_large";

/**
 * Reads a whole request body.
 * @param limitBytes the most bytes accepted (a positive integer).
 * @returns the raw bytes (empty for a bodiless request).
 * @throws BackstopError {@link BODY_TOO_LARGE} (`details.limitBytes`) as soon as the body exceeds
 *   `limitBytes`; the stream's own error when the client aborts.
 */
export async function readBody(req: IncomingMessage, limitBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > limitBytes) {
      throw new BackstopError(BODY_TOO_LARGE, `request body larger than ${limitBytes} bytes`, {
        details: { limitBytes },
      });
    }
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

/** {@link readBody} decoded as UTF-8 text. Same limit and errors. */
export async function readText(req: IncomingMessage, limitBytes: number): Promise<string> {
  return (await readBody(req, limitBytes)).toString("utf8");
}

/** True when `err` is the {@link BODY_TOO_LARGE} error of {@link readBody}. */
export function isBodyTooLarge(err: unknown): boolean {
  return isBackstopError(err, BODY_TOO_LARGE);
}

/**
 * Answers `status` with `body` as JSON (`content-type: application/json; charset=utf-8`, with its
 * `content-length`); `headers` are added (and may override those two).
 */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}
