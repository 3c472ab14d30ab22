import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createMcpExpressApp } from "@modelcontextprotocol/sdk/server/express.js";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { BackstopError, isBackstopError } from "../../src/errors.js";
import { setLogLevel } from "../../src/log.js";
import { connectNotify, leaseAll, McpClientPool, type NotifyClient } from "../../src/mcp/index.js";
import { mountStatelessMcp } from "../../src/mcp/stateless-http.js";

setLogLevel("silent");

/** A real stateless MCP server with `create_issue`, counting the JSON-RPC methods it receives. */
async function startTickets(port = 0) {
  const methods: string[] = [];
  const app = createMcpExpressApp();
  mountStatelessMcp(
    app,
    () => {
      const s = new McpServer({ name: "tickets", version: "0" });
      s.registerTool(
        "create_issue",
        {
          inputSchema: { title: z.string(), description: z.string() },
          outputSchema: { id: z.string(), url: z.string() },
          annotations: { readOnlyHint: false, destructiveHint: false },
        },
        async () => {
          const out = { id: "BKS-1", url: "http://tickets/BKS-1" };
          return { content: [{ type: "text" as const, text: JSON.stringify(out) }], structuredContent: out };
        },
      );
      return s;
    },
    {
      onError: () => undefined,
      onRequest: (body) => methods.push(String((body as { method?: unknown }).method)),
    },
  );
  const http: Server = await new Promise((resolve) => {
    const s = app.listen(port, "127.0.0.1", () => resolve(s));
  });
  return {
    url: `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`,
    port: (http.address() as AddressInfo).port,
    methods,
    close: () =>
      new Promise<void>((r) => {
        http.closeAllConnections();
        http.close(() => r());
      }),
  };
}

/** A fake pooled client recording whether it was closed. */
function fake(name: string) {
  const c = {
    name,
    closed: false,
    ok: true,
    usable: () => c.ok,
    close: async () => {
      c.closed = true;
    },
  };
  return c;
}

const servers: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

describe("McpClientPool over a real MCP server", () => {
  it("connects once for many runs: one initialize and one tools/list, then only tools/call", async () => {
    const tickets = await startTickets();
    servers.push(tickets);
    const pool = new McpClientPool<NotifyClient>(() => connectNotify(tickets.url));
    const leases = await Promise.all([1, 2, 3].map(() => pool.lease("tickets")));
    expect(new Set(leases.map((l) => l.client)).size).toBe(1);
    for (const l of leases) {
      await expect(l.client.createTicket({ title: "t", description: "d" })).resolves.toEqual({
        id: "BKS-1",
        url: "http://tickets/BKS-1",
      });
      l.release();
    }
    expect(tickets.methods.filter((m) => m === "initialize")).toHaveLength(1);
    expect(tickets.methods.filter((m) => m === "tools/list")).toHaveLength(1);
    expect(tickets.methods.filter((m) => m === "tools/call")).toHaveLength(3);
    await pool.close();
  });

  it("replaces a client that lost its connection, and the new one works", async () => {
    const tickets = await startTickets();
    const pool = new McpClientPool<NotifyClient>(() => connectNotify(tickets.url));
    const first = await pool.lease("tickets");
    await tickets.close();
    const err = await first.client.createTicket({ title: "t", description: "d" }).catch((e: unknown) => e);
    expect(isBackstopError(err) && err.code).toBe("mcp.unavailable");
    expect(first.client.usable()).toBe(false);
    first.release();
    const again = await startTickets(tickets.port);
    servers.push(again);
    const second = await pool.lease("tickets");
    expect(second.client).not.toBe(first.client);
    await expect(second.client.createTicket({ title: "t", description: "d" })).resolves.toMatchObject({
      id: "BKS-1",
    });
    second.release();
    await pool.close();
  });
});

describe("mountStatelessMcp", () => {
  it("answers a request with one JSON body (application/json), not an SSE stream", async () => {
    const tickets = await startTickets();
    servers.push(tickets);
    const res = await fetch(tickets.url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 7,
        method: "tools/call",
        params: { name: "create_issue", arguments: { title: "t", description: "d" } },
      }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    const body = (await res.json()) as { id: number; result: { structuredContent: unknown } };
    expect(body.id).toBe(7);
    expect(body.result.structuredContent).toEqual({ id: "BKS-1", url: "http://tickets/BKS-1" });
  });
});

describe("McpClientPool", () => {
  it("keeps one client per key", async () => {
    const made: string[] = [];
    const pool = new McpClientPool(async (key) => {
      made.push(key);
      return fake(key);
    });
    const [a1, a2, b] = await Promise.all([pool.lease("a"), pool.lease("a"), pool.lease("b")]);
    expect(a1.client).toBe(a2.client);
    expect(b.client).not.toBe(a1.client);
    expect(made).toEqual(["a", "b"]);
  });

  it("retires an old client for new leases and closes it only when its last lease is released", async () => {
    let now = 0;
    const pool = new McpClientPool(async (key) => fake(key), { maxAgeMs: 1000, clock: () => now });
    const old = await pool.lease("a");
    now = 1001;
    const fresh = await pool.lease("a");
    expect(fresh.client).not.toBe(old.client);
    expect(old.client.closed).toBe(false);
    old.release();
    old.release(); // twice is harmless
    await Promise.resolve();
    expect(old.client.closed).toBe(true);
    expect(fresh.client.closed).toBe(false);
  });

  it("retires an unusable client", async () => {
    const pool = new McpClientPool(async (key) => fake(key));
    const first = await pool.lease("a");
    first.client.ok = false;
    first.release();
    const second = await pool.lease("a");
    expect(second.client).not.toBe(first.client);
    expect(first.client.closed).toBe(true);
  });

  it("does not keep a failed connect: the next lease tries again", async () => {
    let attempt = 0;
    const pool = new McpClientPool(async (key) => {
      attempt++;
      if (attempt === 1) throw new BackstopError("mcp.unavailable", "down");
      return fake(key);
    });
    await expect(pool.lease("a")).rejects.toThrow("down");
    const l = await pool.lease("a");
    expect(l.client.name).toBe("a");
    expect(attempt).toBe(2);
  });

  it("close() closes leased and retired clients", async () => {
    let now = 0;
    const pool = new McpClientPool(async (key) => fake(key), { maxAgeMs: 10, clock: () => now });
    const old = await pool.lease("a");
    now = 11;
    const fresh = await pool.lease("a");
    await pool.close();
    expect(old.client.closed).toBe(true);
    expect(fresh.client.closed).toBe(true);
  });
});

describe("leaseAll", () => {
  it("leases every pool and releases them all with one release()", async () => {
    let now = 0;
    const infra = new McpClientPool(async (key) => fake(key), { maxAgeMs: 10, clock: () => now });
    const notify = new McpClientPool(async (key) => fake(key), { maxAgeMs: 10, clock: () => now });
    const { clients, release } = await leaseAll({
      infra: { pool: infra, key: "c1" },
      notify: { pool: notify, key: "tickets" },
      none: undefined,
    });
    expect(clients.infra.name).toBe("c1");
    expect(clients.notify.name).toBe("tickets");
    expect(clients.none).toBeUndefined();
    // Aged out: each old client is closed as soon as nothing leases it any more.
    now = 11;
    await infra.lease("c1");
    await notify.lease("tickets");
    expect(clients.infra.closed).toBe(false);
    release();
    await Promise.resolve();
    expect(clients.infra.closed).toBe(true);
    expect(clients.notify.closed).toBe(true);
  });

  it("releases the first lease when the second fails, then rethrows the failure", async () => {
    const infra = new McpClientPool(async (key) => fake(key));
    const tickets = await startTickets();
    await tickets.close(); // nothing listens there any more: connecting fails
    const notify = new McpClientPool<NotifyClient>(() => connectNotify(tickets.url));
    const err = await leaseAll({
      infra: { pool: infra, key: "c1" },
      notify: { pool: notify, key: "tickets" },
    }).catch((e: unknown) => e);
    expect(isBackstopError(err) && err.code).toBe("mcp.unavailable");
    // The infra client the failed call leased: a lease still held would keep it open once retired.
    const held = await infra.lease("c1");
    held.client.ok = false;
    held.release();
    await infra.lease("c1");
    expect(held.client.closed).toBe(true);
  });
});
