import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { gzipSync } from "node:zlib";
import { WebClient } from "@slack/web-api";
import OpenAI from "openai";
import { Agent } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createFetch, slackFetch } from "../src/http.js";

/** What the test server saw of the last request. */
interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  body: string;
}

let server: Server;
let base: string;
const seen: Seen[] = [];
const agent = new Agent();
const leanFetch = createFetch(agent);

/** A real HTTP server with one route per behaviour the fetch must keep. */
function route(req: IncomingMessage, res: ServerResponse, body: string): void {
  seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body });
  const path = new URL(req.url ?? "/", "http://x").pathname;
  switch (path) {
    case "/json":
      res.writeHead(201, { "content-type": "application/json", "set-cookie": ["a=1", "b=2"], "x-n": "7" });
      res.end(JSON.stringify({ ok: true, echo: body }));
      return;
    case "/empty":
      res.writeHead(204).end();
      return;
    case "/moved":
      res.writeHead(302, { location: "/json" }).end();
      return;
    case "/hang":
      res.writeHead(200, { "content-type": "application/json" });
      res.write('{"partial":'); // never ends
      return;
    case "/sse":
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write("data: one\n\n");
      setTimeout(() => res.end("data: two\n\n"), 200);
      return;
    case "/gzip":
      res.writeHead(200, { "content-type": "application/json", "content-encoding": "gzip" });
      res.end(gzipSync(JSON.stringify({ ok: true, zipped: true })));
      return;
    case "/api/chat.postMessage":
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ ok: true, channel: "C1", ts: "1.000100" }));
      return;
    case "/v1/chat/completions":
      res.writeHead(200, { "content-type": "application/json", "x-request-id": "req-1" });
      res.end(
        JSON.stringify({
          id: "chatcmpl-1",
          object: "chat.completion",
          created: 1,
          model: "m",
          choices: [{ index: 0, finish_reason: "stop", message: { role: "assistant", content: "hi" } }],
          usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 },
        }),
      );
      return;
    default:
      res.writeHead(404, { "content-type": "text/plain" }).end("no such route");
  }
}

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => route(req, res, Buffer.concat(chunks).toString()));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
  await agent.close();
});

const last = () => seen[seen.length - 1]!;

describe("createFetch (fetch over undici's request)", () => {
  it("answers status, statusText, headers (repeated set-cookie kept) and the body", async () => {
    const res = await leanFetch(`${base}/json`, {
      method: "post",
      headers: { "Content-Type": "application/json", "X-One": "1" },
      body: JSON.stringify({ a: 1 }),
    });
    expect(res.status).toBe(201);
    expect(res.statusText).toBe("Created");
    expect(res.ok).toBe(true);
    expect(res.headers.get("x-n")).toBe("7");
    expect(res.headers.getSetCookie()).toEqual(["a=1", "b=2"]);
    expect(await res.json()).toEqual({ ok: true, echo: '{"a":1}' });
    expect(last().method).toBe("POST");
    expect(last().headers["content-type"]).toBe("application/json");
    expect(last().headers["x-one"]).toBe("1");
  });

  it("gives a string, a URLSearchParams and a Headers object fetch's content types and names", async () => {
    await leanFetch(new URL(`${base}/json`), { method: "POST", body: "plain" });
    expect(last().headers["content-type"]).toBe("text/plain;charset=UTF-8");
    await leanFetch(`${base}/json`, {
      method: "POST",
      headers: new Headers([["X-Two", "2"]]),
      body: new URLSearchParams({ channel: "C1", text: "a b" }),
    });
    expect(last().headers["content-type"]).toBe("application/x-www-form-urlencoded;charset=UTF-8");
    expect(last().headers["x-two"]).toBe("2");
    expect(last().body).toBe("channel=C1&text=a+b");
  });

  it("sends a FormData body through Node's own fetch (multipart with its boundary)", async () => {
    const form = new FormData();
    form.append("file", new Blob(["hello"]), "f.txt");
    const res = await leanFetch(`${base}/json`, { method: "POST", body: form });
    expect(res.status).toBe(201);
    expect(last().headers["content-type"]).toMatch(/^multipart\/form-data; boundary=/);
    expect(last().body).toContain("hello");
  });

  it("gives a null-body status a null body", async () => {
    const res = await leanFetch(`${base}/empty`, { method: "DELETE" });
    expect(res.status).toBe(204);
    expect(res.body).toBeNull();
  });

  it("follows a redirect by default, returns it with manual, and rejects it with error", async () => {
    const followed = await leanFetch(`${base}/moved`);
    expect(followed.status).toBe(201);
    const manual = await leanFetch(`${base}/moved`, { redirect: "manual" });
    expect(manual.status).toBe(302);
    expect(manual.headers.get("location")).toBe("/json");
    const err = await leanFetch(`${base}/moved`, { redirect: "error" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TypeError);
    expect((err as Error).message).toBe("fetch failed");
  });

  it("rejects with the signal's reason when it aborts, also while the body is read", async () => {
    const err = await leanFetch(`${base}/hang`, { signal: AbortSignal.timeout(100) }).catch(
      (e: unknown) => e,
    );
    expect((err as Error).name).toBe("TimeoutError");
    const ctl = new AbortController();
    ctl.abort();
    const early = await leanFetch(`${base}/json`, { signal: ctl.signal }).catch((e: unknown) => e);
    expect((early as Error).name).toBe("AbortError");
  });

  it("rejects a refused connection as fetch does: TypeError('fetch failed') with the socket error as cause", async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const err = await leanFetch(`http://127.0.0.1:${port}/`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TypeError);
    expect((err as Error).message).toBe("fetch failed");
    expect(((err as Error).cause as { code?: string }).code).toBe("ECONNREFUSED");
  });

  it("streams text/event-stream: the first event is readable before the server ends", async () => {
    const res = await leanFetch(`${base}/sse`);
    const reader = res.body!.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toBe("data: one\n\n");
    let rest = "";
    for (let r = await reader.read(); !r.done; r = await reader.read())
      rest += new TextDecoder().decode(r.value);
    expect(rest).toBe("data: two\n\n");
  });

  it("serves the SDKs that take it: Slack's WebClient and the openai client", async () => {
    const slack = new WebClient("xoxb-test", {
      slackApiUrl: `${base}/api/`,
      retryConfig: { retries: 0 },
      fetch: slackFetch(),
    });
    const posted = await slack.chat.postMessage({ channel: "C1", text: "hello" });
    expect(posted.ts).toBe("1.000100");
    expect(last().headers.authorization).toBe("Bearer xoxb-test");
    expect(last().body).toContain("hello");

    const openai = new OpenAI({ apiKey: "k", baseURL: `${base}/v1`, maxRetries: 0, fetch: leanFetch });
    const { data, response } = await openai.chat.completions
      .create({ model: "m", messages: [{ role: "user", content: "x" }] })
      .withResponse();
    expect(data.choices[0]?.message.content).toBe("hi");
    expect(response.headers.get("x-request-id")).toBe("req-1");
  });

  it("lets a caller cancel an event stream at once, with data already buffered", async () => {
    const res = await leanFetch(`${base}/sse`); // the first event arrives with the headers
    await res.body!.cancel();
    await new Promise((r) => setTimeout(r, 250)); // the server ends the stream meanwhile: nothing throws
    expect((await res.body!.getReader().read()).done).toBe(true);
  });

  it("decodes a compressed answer, and takes headers from any Headers-like object", async () => {
    const res = await leanFetch(`${base}/gzip`);
    expect(await res.json()).toEqual({ ok: true, zipped: true });
    const like = { forEach: (fn: (value: string, name: string) => void) => fn("3", "X-Like") };
    await leanFetch(`${base}/json`, { method: "POST", headers: like as unknown as Headers, body: "x" });
    expect(last().headers["x-like"]).toBe("3");
  });
});
