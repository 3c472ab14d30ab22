import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { WebClient } from "@slack/web-api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type SandboxSlack, startSandboxSlack } from "../../sandbox/slack/index.js";
import {
  createMetrics,
  httpCheck,
  mcpInfraHealthUrl,
  observabilityRoutes,
  type ReadinessCheck,
  redisCheck,
  slackCheck,
  startObservabilityServer,
} from "../../src/observability/index.js";
import { REDIS } from "../queue/redis-helpers.js";

// /healthz and /readyz over real HTTP, with real dependencies up and down: Redis (the test Redis, or a
// port nothing listens on), Slack (the sandbox Web API with a good or a revoked token), mcp-infra
// (a live HTTP server, or a dead port).
const TOKEN = "xoxb-test-health";
let slack: SandboxSlack;
let mcp: Server;
let mcpUrl: string;
const closers: (() => Promise<void>)[] = [];

/** A loopback port nothing listens on (bound, then released). */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function serve(checks: ReadinessCheck[]): Promise<string> {
  const server = await startObservabilityServer({
    routes: observabilityRoutes({ metrics: createMetrics({ defaultMetrics: false }), checks }),
    port: 0,
    host: "127.0.0.1",
  });
  closers.push(() => server.close());
  return server.url;
}

function redis(connection = REDIS) {
  const c = redisCheck(connection);
  closers.push(() => c.close());
  return c;
}

const slackClient = (token = TOKEN) =>
  new WebClient(token, { slackApiUrl: slack.apiUrl, retryConfig: { retries: 0 } });

beforeAll(async () => {
  slack = await startSandboxSlack({ botToken: TOKEN });
  mcp = createServer((req, res) => {
    res.writeHead(req.url === "/healthz" ? 200 : 404, { "content-type": "application/json" });
    res.end("{}");
  });
  await new Promise<void>((r) => mcp.listen(0, "127.0.0.1", () => r()));
  mcpUrl = `http://127.0.0.1:${(mcp.address() as AddressInfo).port}/mcp`;
});
afterAll(async () => {
  for (const c of closers.reverse()) await c().catch(() => undefined);
  await slack?.close();
  await new Promise<void>((r) => mcp.close(() => r()));
});

async function readyz(url: string) {
  const res = await fetch(`${url}/readyz`);
  return {
    status: res.status,
    body: (await res.json()) as {
      status: string;
      failed: string[];
      checks: Record<string, { ok: boolean; error?: string }>;
    },
  };
}

describe("health endpoints", () => {
  it("/healthz answers 200 while the process serves; /readyz 200 when Redis, Slack and mcp-infra answer", async () => {
    const url = await serve([
      redis(),
      slackCheck(slackClient()),
      httpCheck("mcp_infra", mcpInfraHealthUrl(mcpUrl)),
    ]);
    const live = await fetch(`${url}/healthz`);
    expect(live.status).toBe(200);
    expect(await live.json()).toEqual({ status: "ok" });
    const r = await readyz(url);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ status: "ready", failed: [] });
    expect(Object.keys(r.body.checks).sort()).toEqual(["mcp_infra", "redis", "slack"]);
  });

  it("/readyz is 503 and names redis when Redis does not answer", async () => {
    const url = await serve([
      redis({ host: "127.0.0.1", port: await deadPort() }),
      slackCheck(slackClient()),
      httpCheck("mcp_infra", mcpInfraHealthUrl(mcpUrl)),
    ]);
    const r = await readyz(url);
    expect(r.status).toBe(503);
    expect(r.body.status).toBe("not_ready");
    expect(r.body.failed).toEqual(["redis"]);
    expect(r.body.checks.redis?.error).toMatch(/ECONNREFUSED|connect|closed/i);
    expect(r.body.checks.slack?.ok).toBe(true);
  });

  it("/readyz is 503 and names mcp_infra when mcp-infra is down", async () => {
    const dead = `http://127.0.0.1:${await deadPort()}/mcp`;
    const url = await serve([
      redis(),
      slackCheck(slackClient()),
      httpCheck("mcp_infra", mcpInfraHealthUrl(dead)),
    ]);
    const r = await readyz(url);
    expect(r.status).toBe(503);
    expect(r.body.failed).toEqual(["mcp_infra"]);
    expect(r.body.checks.mcp_infra?.error).toMatch(/fetch failed|ECONNREFUSED/i);
  });

  it("/readyz is 503 and names slack when Slack refuses the token; auth.test answers are cached", async () => {
    const client = slackClient("xoxb-revoked");
    let calls = 0;
    const counted = {
      auth: {
        test: (...a: Parameters<typeof client.auth.test>) => {
          calls += 1;
          return client.auth.test(...a);
        },
      },
    };
    const url = await serve([redis(), slackCheck(counted as never, 60_000)]);
    const r = await readyz(url);
    expect(r.status).toBe(503);
    expect(r.body.failed).toEqual(["slack"]);
    expect(r.body.checks.slack?.error).toMatch(/invalid_auth|not_authed/);
    await readyz(url);
    expect(calls).toBe(1);
  });

  it("a dependency that hangs fails its check at the deadline instead of hanging the probe", async () => {
    const url = await serve([{ name: "stuck", check: () => new Promise(() => undefined) }]);
    const r = await readyz(url);
    expect(r.status).toBe(503);
    expect(r.body.checks.stuck?.error).toMatch(/no answer in \d+ ms/);
  });

  it("answers 404 for other paths and 405 for other methods", async () => {
    const url = await serve([]);
    expect((await fetch(`${url}/nope`)).status).toBe(404);
    expect((await fetch(`${url}/metrics`, { method: "POST" })).status).toBe(405);
  });

  it("mcp-infra's liveness URL sits beside its MCP endpoint", () => {
    expect(mcpInfraHealthUrl("http://mcp-infra.backstop.svc:8080/mcp")).toBe(
      "http://mcp-infra.backstop.svc:8080/healthz",
    );
    expect(() => mcpInfraHealthUrl("not a url")).toThrow();
  });
});
