import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { sendJson as sendJsonAnswer } from "../src/slack/alerts/http.js";

/**
 * HTTP plumbing shared by the sandbox's fake servers (model provider, tickets, cluster, Slack): a bounded
 * body reader, JSON answers with `content-length`, and listen/close helpers for loopback servers on port 0.
 * Each server keeps its own error *shape* (OpenAI `{error:{…}}`, Kubernetes `Status`, Slack `{ok:false}`);
 * this module only moves bytes.
 */

/** The default body limit, bytes (1 MiB, the Kubernetes API server's JSON limit is 3 MiB; sandbox bodies are small). */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

/**
 * A request body larger than the reader's limit. `status` is 413 (RFC 9110 §15.5.14 Content Too Large);
 * `limitBytes` the limit, `receivedBytes` what was seen when reading stopped (or the declared Content-Length).
 */
export class BodyTooLargeError extends Error {
  readonly status = 413;
  readonly limitBytes: number;
  readonly receivedBytes: number;

  constructor(limitBytes: number, receivedBytes: number) {
    super(`request body too large: more than ${limitBytes} bytes`);
    this.name = "BodyTooLargeError";
    this.limitBytes = limitBytes;
    this.receivedBytes = receivedBytes;
  }
}

/**
 * Reads a request body, at most `limitBytes` bytes. A declared `Content-Length` over the limit fails before
 * reading; a body that grows past it fails as soon as it does. Either way the rest of the body is drained
 * (not buffered) so the caller can still answer 413 on the same connection.
 * @throws RangeError when `limitBytes` is not a positive integer.
 * @throws BodyTooLargeError when the body exceeds `limitBytes`; the stream's own error when it fails.
 */
export function readBody(req: IncomingMessage, limitBytes = DEFAULT_MAX_BODY_BYTES): Promise<Buffer> {
  if (!Number.isInteger(limitBytes) || limitBytes <= 0) {
    return Promise.reject(
      new RangeError(`readBody: limitBytes must be a positive integer, got ${limitBytes}`),
    );
  }
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"]);
    if (Number.isFinite(declared) && declared > limitBytes) {
      req.resume();
      reject(new BodyTooLargeError(limitBytes, declared));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on("data", (chunk: Buffer) => {
      if (over) return;
      size += chunk.length;
      if (size > limitBytes) {
        over = true;
        chunks.length = 0;
        reject(new BodyTooLargeError(limitBytes, size));
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => {
      if (!over) resolve(Buffer.concat(chunks));
    });
    req.on("error", reject);
  });
}

/** {@link readBody} decoded as UTF-8. @throws as {@link readBody}. */
export async function readText(req: IncomingMessage, limitBytes = DEFAULT_MAX_BODY_BYTES): Promise<string> {
  return (await readBody(req, limitBytes)).toString("utf8");
}

/**
 * Answers `status` with `body` as JSON (`content-type: application/json`, `content-length` in bytes);
 * `headers` are added and may override the content type. Does nothing when the response has already
 * ended or its socket is gone (a client that hung up).
 */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.writableEnded || res.destroyed) return;
  // The product's JSON answer (content-length in bytes), without its charset unless `headers` say so.
  sendJsonAnswer(res, status, body, { "content-type": "application/json", ...headers });
}

/** The HTTP status an error thrown while handling a request maps to: its numeric `status` in 400–599, else 500. */
export function statusOf(err: unknown): number {
  const status = (err as { status?: unknown } | null)?.status;
  return typeof status === "number" && Number.isInteger(status) && status >= 400 && status < 600
    ? status
    : 500;
}

/** Where a listening server answers: the bound host (IPv6 in brackets), port and `http://host:port` base URL. */
export interface Listening {
  host: string;
  port: number;
  base: string;
}

/**
 * Binds `server` on `host` (default 127.0.0.1) and `port` (default 0, an ephemeral port).
 * @throws the `listen` error (e.g. `EADDRINUSE`, `EADDRNOTAVAIL`) when it cannot bind.
 */
export async function listen(server: Server, port = 0, host = "127.0.0.1"): Promise<Listening> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const shown = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  return { host: shown, port: addr.port, base: `http://${shown}:${addr.port}` };
}

/** Stops `server`, dropping open (keep-alive or waiting) connections. Resolves when it has closed. */
export function closeServer(server: Server): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.close((err) => (err ? reject(err) : resolve()));
    server.closeAllConnections();
  });
}
