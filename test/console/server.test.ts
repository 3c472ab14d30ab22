import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type RunningConsole, startConsole } from "../../sandbox/console/server.js";
import { APPROVER, CHANNEL, ESCALATION_TS, FakeConsoleBackend, ROOT_TS } from "./fake-backend.js";

let backend: FakeConsoleBackend;
let app: RunningConsole;
let staticDir: string;

beforeAll(async () => {
  staticDir = mkdtempSync(join(tmpdir(), "backstop-console-"));
  writeFileSync(join(staticDir, "index.html"), "<!doctype html><title>console</title><div id=app></div>");
  backend = new FakeConsoleBackend();
  app = await startConsole({ backend, staticDir });
});

afterAll(async () => {
  await app.close();
});

beforeEach(async () => {
  backend.clicks.length = 0;
});

async function json(
  path: string,
  init?: RequestInit,
): Promise<{ status: number; body: unknown; res: Response }> {
  const res = await fetch(`${app.url}${path}`, init);
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON; keep the text
  }
  return { status: res.status, body, res };
}

function post(path: string, body: unknown): Promise<{ status: number; body: unknown; res: Response }> {
  return json(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

/** A raw request with headers fetch would not let us set (Host). */
function raw(
  path: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string },
): Promise<{ status: number; body: string }> {
  const url = new URL(path, app.url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: opts.method ?? "GET",
        headers: opts.headers,
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          body += c;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("error", reject);
    req.end(opts.body);
  });
}

const goodClick = {
  channel: CHANNEL,
  message_ts: ESCALATION_TS,
  thread_ts: ROOT_TS,
  action_id: "approve",
  value: "run-backstop-1",
  user_id: APPROVER,
};

describe("console API", () => {
  it("listens on loopback and lists scenarios and users", async () => {
    expect(app.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const scenarios = await json("/api/scenarios");
    expect(scenarios.status).toBe(200);
    expect((scenarios.body as { name: string }[]).map((s) => s.name)).toEqual([
      "hallucinated-diagnosis",
      "cascading-failure",
    ]);
    const users = await json("/api/users");
    expect(users.body).toContainEqual({ id: APPROVER, name: "Ada (on-call)", approver: true });
  });

  it("fires a known scenario and 404s an unknown one without firing", async () => {
    const unknown = await post("/api/scenarios/no-such-thing/fire", {});
    expect(unknown.status).toBe(404);
    expect((unknown.body as { error: string }).error).toContain('unknown scenario "no-such-thing"');
    expect(backend.fired).toEqual([]);

    const fired = await post("/api/scenarios/hallucinated-diagnosis/fire", {});
    expect(fired.status).toBe(200);
    expect(fired.body).toEqual({ backstopRunId: "run-backstop-1", naiveRunId: "run-naive-1" });
    expect(backend.fired).toEqual(["hallucinated-diagnosis"]);
  });

  it("serves a channel's messages with their blocks and validates the channel", async () => {
    expect((await json("/api/channels")).body).toEqual([CHANNEL]);
    const msgs = await json(`/api/messages?channel=${CHANNEL}`);
    expect(msgs.status).toBe(200);
    const list = msgs.body as { ts: string; thread_ts: string | null; blocks: { type: string }[] }[];
    expect(list[0]?.ts).toBe(ROOT_TS);
    expect(list[0]?.thread_ts).toBeNull();
    expect(list[0]?.blocks.map((b) => b.type)).toEqual(["header", "section", "context"]);
    expect(list.filter((m) => m.thread_ts === ROOT_TS)).toHaveLength(2);

    const missing = await json("/api/messages");
    expect(missing.status).toBe(400);
    expect((missing.body as { error: string }).error).toContain("?channel=");
    const unknown = await json("/api/messages?channel=C0NOPE");
    expect(unknown.status).toBe(404);
  });

  it("passes a valid click to the backend exactly as given and returns the bot's status", async () => {
    const res = await post("/api/click", goodClick);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 200 });
    expect(backend.clicks).toEqual([goodClick]);
  });

  it.each([
    ["a missing user_id", { ...goodClick, user_id: undefined }, "user_id"],
    ["a malformed ts", { ...goodClick, message_ts: "yesterday" }, "message_ts"],
    ["an unknown field", { ...goodClick, admin: true }, "admin"],
    ["a numeric value", { ...goodClick, value: 42 }, "value"],
    ["a user who is not a sandbox user", { ...goodClick, user_id: "U0STRANGER" }, "not a sandbox user"],
  ])("refuses a click with %s (400) and sends nothing", async (_what, body, mention) => {
    const res = await post("/api/click", body);
    expect(res.status).toBe(400);
    expect((res.body as { error: string }).error).toContain(mention);
    expect(backend.clicks).toEqual([]);
  });

  it("refuses a click that is not JSON or not parseable", async () => {
    const form = await json("/api/click", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: "action_id=approve",
    });
    expect(form.status).toBe(400);
    const broken = await post("/api/click", '{"channel": ');
    expect(broken.status).toBe(400);
    expect((broken.body as { error: string }).error).toMatch(/bad request/);
    expect(backend.clicks).toEqual([]);
  });

  it("serves agents and clusters, and 404s an unknown agent", async () => {
    const naive = await json("/api/agents/naive");
    expect(naive.body).toMatchObject({
      agent: "naive",
      outcome: "damaged",
      blast: { workloads: 3, protected: 1 },
    });
    const cluster = await json("/api/cluster/backstop");
    expect(cluster.body).toMatchObject({
      namespaces: [{ name: "shop" }, { name: "payments", protected: true }],
    });
    expect((await json("/api/agents/root")).status).toBe(404);
    expect((await json("/api/cluster/root")).status).toBe(404);
  });

  it("downloads the exact receipt as an attachment and verifies it", async () => {
    const dl = await json("/api/receipts/run-backstop-1");
    expect(dl.status).toBe(200);
    expect(dl.res.headers.get("content-disposition")).toBe(
      'attachment; filename="backstop-receipt-run-backstop-1.json"',
    );
    expect(dl.res.headers.get("content-type")).toContain("application/json");
    const bytes = await fetch(`${app.url}/api/receipts/run-backstop-1`).then((r) => r.text());
    expect(bytes).toBe(await backend.receipt("run-backstop-1"));

    const good = await json("/api/receipts/run-backstop-1/verify");
    expect(good.body).toMatchObject({ ok: true, events: 4 });
    const tampered = await json("/api/receipts/run-naive-1/verify");
    expect(tampered.body).toMatchObject({ ok: false });
    expect((tampered.body as { reason: string }).reason.length).toBeGreaterThan(0);

    expect((await json("/api/receipts/run-nope")).status).toBe(404);
    expect((await json("/api/receipts/run-nope/verify")).status).toBe(404);
    expect((await json("/api/receipts/bad%20id")).status).toBe(400);
  });

  it("serves uploaded files as attachments and 404s unknown ones", async () => {
    const file = await fetch(`${app.url}/api/files/F0RECEIPT`);
    expect(file.status).toBe(200);
    expect(file.headers.get("content-type")).toContain("application/json");
    expect(file.headers.get("content-disposition")).toBe(
      'attachment; filename="backstop-receipt-run-backstop-1.json"',
    );
    expect(await file.text()).toContain("backstop.receipt/v1");
    expect((await json("/api/files/F0NOPE")).status).toBe(404);
  });

  it("delivers a change over SSE and unsubscribes when the client goes away", async () => {
    const before = backend.listenerCount();
    const ctrl = new AbortController();
    const res = await fetch(`${app.url}/api/events`, { signal: ctrl.signal });
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = "";
    const first = await reader.read();
    text += decoder.decode(first.value);
    expect(text).toContain(": connected");
    expect(backend.listenerCount()).toBe(before + 1);
    backend.emit("cluster");
    while (!text.includes("data: ")) {
      const chunk = await reader.read();
      if (chunk.done) break;
      text += decoder.decode(chunk.value);
    }
    expect(text).toContain('data: {"what":"cluster"}\n\n');
    ctrl.abort();
    await reader.cancel().catch(() => undefined);
    await expect.poll(() => backend.listenerCount()).toBe(before);
  });

  it("answers unknown API routes with 404 JSON", async () => {
    const res = await json("/api/nothing-here");
    expect(res.status).toBe(404);
    expect((res.body as { error: string }).error).toContain("/api/nothing-here");
  });

  it("refuses a foreign Host (DNS rebinding) and a cross-origin click", async () => {
    const rebound = await raw("/api/users", { headers: { Host: "evil.example:80" } });
    expect(rebound.status).toBe(403);
    const cross = await raw("/api/click", {
      method: "POST",
      headers: { "Content-Type": "application/json", Origin: "http://evil.example" },
      body: JSON.stringify(goodClick),
    });
    expect(cross.status).toBe(403);
    expect(backend.clicks).toEqual([]);
  });

  it("serves the built page, and a clear 500 page when the front-end is not built", async () => {
    const page = await fetch(`${app.url}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("<div id=app>");

    const empty = mkdtempSync(join(tmpdir(), "backstop-console-empty-"));
    mkdirSync(join(empty, "assets"));
    const unbuilt = await startConsole({ backend, staticDir: empty });
    try {
      const res = await fetch(`${unbuilt.url}/`);
      expect(res.status).toBe(500);
      expect(await res.text()).toContain("npm run build");
      // The API still works without the page.
      expect((await fetch(`${unbuilt.url}/api/scenarios`)).status).toBe(200);
    } finally {
      await unbuilt.close();
    }
  });
});
