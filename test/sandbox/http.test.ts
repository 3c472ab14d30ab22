import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { BODY_TOO_LARGE, isBodyTooLarge, readBody, readText, sendJson } from "../../sandbox/http.js";
import { BackstopError } from "../../src/errors.js";

let server: Server | undefined;
afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

/** A real server whose handler reads the body with `limit` and answers what it read or the error. */
async function echo(limit: number, text = false): Promise<string> {
  server = createServer((req, res) => {
    const read = text ? readText(req, limit) : readBody(req, limit).then((b) => b.toString("base64"));
    read.then(
      (body) => sendJson(res, 200, { body }, { "x-extra": "1" }),
      (err: unknown) =>
        sendJson(res, 413, {
          code: err instanceof BackstopError ? err.code : "other",
          tooLarge: isBodyTooLarge(err),
          limit: err instanceof BackstopError ? err.details?.limitBytes : undefined,
        }),
    );
  });
  await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

describe("sandbox/http", () => {
  it("readBody returns the exact bytes up to the limit; sendJson sets type, length and extra headers", async () => {
    const url = await echo(4);
    const res = await fetch(url, { method: "POST", body: new Uint8Array([0, 255, 1, 2]) });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json; charset=utf-8");
    expect(res.headers.get("x-extra")).toBe("1");
    const raw = await res.text();
    expect(res.headers.get("content-length")).toBe(String(Buffer.byteLength(raw)));
    expect(Buffer.from((JSON.parse(raw) as { body: string }).body, "base64")).toEqual(
      Buffer.from([0, 255, 1, 2]),
    );
  });

  it("readText decodes UTF-8 (an empty body is the empty string)", async () => {
    const url = await echo(64, true);
    const res = await fetch(url, { method: "POST", body: "héllo ✓" });
    expect(await res.json()).toEqual({ body: "héllo ✓" });
    const empty = await fetch(url, { method: "POST" });
    expect(await empty.json()).toEqual({ body: "" });
  });

  it("a body one byte over the limit is refused with BODY_TOO_LARGE naming the limit", async () => {
    const url = await echo(4);
    const res = await fetch(url, { method: "POST", body: "12345" });
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({ code: BODY_TOO_LARGE, tooLarge: true, limit: 4 });
  });

  it("isBodyTooLarge is false for other errors", () => {
    expect(isBodyTooLarge(new Error("x"))).toBe(false);
    expect(isBodyTooLarge(new BackstopError("sandbox.other", "x"))).toBe(false);
  });
});
