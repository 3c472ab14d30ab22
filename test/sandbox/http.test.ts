import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { BodyTooLargeError, closeServer, listen, readText, sendJson, statusOf } from "../../sandbox/http.js";
import {
  MAX_REQUEST_BYTES,
  type SandboxModelProvider,
  startSandboxModelProvider,
} from "../../sandbox/model/provider.js";
import { loadWorld } from "../fixtures/worlds.js";

let server: Server | undefined;
let provider: SandboxModelProvider | undefined;

afterEach(async () => {
  if (server) await closeServer(server);
  await provider?.close();
  server = undefined;
  provider = undefined;
});

/** A server that echoes the body it read (limit `limit` bytes) or answers the read error's status. */
async function echo(limit: number): Promise<string> {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    readText(req, limit).then(
      (text) => sendJson(res, 200, { text }),
      (err: unknown) =>
        sendJson(res, statusOf(err), { error: (err as Error).name, message: (err as Error).message }),
    );
  });
  return (await listen(server)).base;
}

/** POSTs `body` and returns status, headers and the parsed JSON answer (real HTTP, no fetch pooling). */
function post(
  url: string,
  body: string | Buffer,
  chunked = false,
): Promise<{ status: number; json: Record<string, unknown>; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: "POST", headers: chunked ? {} : { "content-length": Buffer.byteLength(body) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            json: JSON.parse(Buffer.concat(chunks).toString("utf8")),
            headers: res.headers,
          }),
        );
      },
    );
    req.on("error", reject);
    if (chunked) {
      // no content-length: the limit must trip while streaming
      const b = Buffer.from(body);
      for (let i = 0; i < b.length; i += 1000) req.write(b.subarray(i, i + 1000));
      req.end();
    } else req.end(body);
  });
}

describe("sandbox http helpers", () => {
  it("reads a body up to the limit and answers JSON with content-length", async () => {
    const base = await echo(10);
    const r = await post(base, "0123456789");
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ text: "0123456789" });
    expect(r.headers["content-type"]).toBe("application/json");
    expect(Number(r.headers["content-length"])).toBe(Buffer.byteLength(JSON.stringify(r.json)));
  });

  it("refuses a declared Content-Length over the limit with 413 and still answers", async () => {
    const base = await echo(10);
    const r = await post(base, "01234567890");
    expect(r.status).toBe(413);
    expect(r.json).toEqual({
      error: "BodyTooLargeError",
      message: "request body too large: more than 10 bytes",
    });
  });

  it("refuses a chunked body that grows past the limit", async () => {
    const base = await echo(4096);
    const r = await post(base, "x".repeat(20_000), true);
    expect(r.status).toBe(413);
    expect(r.json.error).toBe("BodyTooLargeError");
  });

  it("rejects a limit that is not a positive integer", async () => {
    await expect(readText({ headers: {} } as IncomingMessage, 0)).rejects.toThrow(RangeError);
    await expect(readText({ headers: {} } as IncomingMessage, 1.5)).rejects.toThrow(/positive integer/);
  });

  it("maps thrown errors to an HTTP status", () => {
    expect(statusOf(new BodyTooLargeError(1, 2))).toBe(413);
    expect(statusOf(Object.assign(new Error("x"), { status: 404 }))).toBe(404);
    expect(statusOf(Object.assign(new Error("x"), { status: 200 }))).toBe(500);
    expect(statusOf("boom")).toBe(500);
    expect(statusOf(null)).toBe(500);
  });

  it("listen reports the bound port and fails clearly on a taken one", async () => {
    server = createServer((_req, res) => sendJson(res, 200, {}));
    const at = await listen(server);
    expect(at.port).toBeGreaterThan(0);
    expect(at.base).toBe(`http://127.0.0.1:${at.port}`);
    const other = createServer();
    await expect(listen(other, at.port)).rejects.toMatchObject({ code: "EADDRINUSE" });
  });

  it("the model provider answers an oversized request 413 in the OpenAI error shape and logs it", async () => {
    provider = await startSandboxModelProvider({ scenario: loadWorld("models") });
    const r = await post(`${provider.url}/chat/completions`, "x".repeat(MAX_REQUEST_BYTES + 1));
    expect(r.status).toBe(413);
    const error = r.json.error as { type: string; message: string };
    expect(error.type).toBe("invalid_request_error");
    expect(error.message).toContain(String(MAX_REQUEST_BYTES));
    expect(provider.requests().map((e) => e.response_status)).toEqual([413]);
  });
});
