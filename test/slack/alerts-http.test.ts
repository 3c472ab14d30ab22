import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readBody, sendJson } from "../../src/slack/alerts/http.js";
import { HttpError, parseWebhook } from "../../src/slack/alerts.js";

/** A server answering `{n: bytes read}`, or the error's status and message; `caught` collects errors. */
let server: Server;
let port: number;
const caught: string[] = [];
beforeEach(async () => {
  caught.length = 0;
  server = createServer((req, res) => {
    readBody(req, 10).then(
      (b) => sendJson(res, 200, { n: b.length }),
      (err: HttpError) => {
        caught.push(`${err.status} ${err.message}`);
        sendJson(res, err.status, { error: err.message }, { connection: "close" });
      },
    );
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  port = (server.address() as AddressInfo).port;
});
afterEach(async () => {
  await new Promise<void>((r) => server.close(() => r()));
});

/** Posts `parts` as a chunked body, 20 ms apart; `abort` destroys the request after the first part. */
function post(parts: string[], abort = false): Promise<{ status: number; body: string } | { error: string }> {
  return new Promise((resolve) => {
    const req = request({ port, host: "127.0.0.1", method: "POST", path: "/" }, (res) => {
      let body = "";
      res.on("data", (c) => {
        body += c;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", (e) => resolve({ error: e.message }));
    req.write(parts[0]);
    setTimeout(() => {
      if (abort) return req.destroy();
      for (const p of parts.slice(1)) req.write(p);
      req.end();
    }, 20);
  });
}

describe("readBody", () => {
  it("reads a chunked body within the limit", async () => {
    expect(await post(["abc", "defg"])).toEqual({ status: 200, body: '{"n":7}' });
  });

  it("answers 413 to a chunked body that grows past the limit", async () => {
    const res = await post(["abc", "x".repeat(100)]);
    expect(res).toEqual({ status: 413, body: '{"error":"request body is larger than 10 bytes"}' });
  });

  it("a request closed before its end is a 400", async () => {
    await post(["abc"], true);
    await new Promise((r) => setTimeout(r, 50));
    expect(caught).toHaveLength(1);
    expect(caught[0]).toMatch(/^400 cannot read request body: /);
  });
});

describe("parseWebhook", () => {
  it("names each bad field", () => {
    expect(() => parseWebhook('{"version":"4"}')).toThrow(HttpError);
    expect(() => parseWebhook('{"version":"4"}')).toThrow(/groupKey: .*; status: .*; receiver: .*; alerts: /);
  });
});
