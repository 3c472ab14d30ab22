import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type SandboxSlack, startSandboxSlack } from "../../sandbox/slack/index.js";
import { resolveInPackage } from "../../src/paths.js";
import { loadSigningKey } from "../../src/receipt/index.js";
import { parseProm, total } from "../observability/prom-text.js";
import { startCli, stopClis } from "./spawn-cli.js";

// `backstop serve` and `backstop worker` as deployed: each serves /metrics, /healthz and /readyz
// (the bot on PORT, the worker on BACKSTOP_METRICS_PORT), and readiness follows the real dependencies.
const TOKEN = "xoxb-test-serve-worker";
let slack: SandboxSlack;
let mcp: Server;
let mcpPort: number;

function startBackstop(args: string[], env: Record<string, string>, ready: RegExp): Promise<string> {
  const argv = ["--import", "tsx", resolveInPackage("src", "cli", "main.ts"), ...args];
  return startCli(argv, { cwd: resolveInPackage(), env, ready });
}

beforeAll(async () => {
  slack = await startSandboxSlack({ botToken: TOKEN });
  mcp = createServer((req, res) => {
    res.writeHead(req.url === "/healthz" ? 200 : 404);
    res.end();
  });
  await new Promise<void>((r) => mcp.listen(0, "127.0.0.1", () => r()));
  mcpPort = (mcp.address() as AddressInfo).port;
});

afterAll(async () => {
  await stopClis();
  await slack?.close();
  if (mcp.listening) await new Promise<void>((r) => mcp.close(() => r()));
});

describe("backstop serve and backstop worker", () => {
  it("serve /metrics, /healthz and /readyz; readiness names mcp-infra when it goes away", async () => {
    const dir = mkdtempSync(join(tmpdir(), "backstop-serve-"));
    const key = join(dir, "key.pem");
    loadSigningKey({ path: key, create: true });
    const kubeconfig = join(dir, "writer.kubeconfig");
    writeFileSync(
      kubeconfig,
      "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n",
    );
    const env = {
      // A database of its own: these processes use BullMQ's default key prefix, which no test shares then.
      REDIS_URL: "redis://127.0.0.1:6379/13",
      SLACK_BOT_TOKEN: TOKEN,
      SLACK_SIGNING_SECRET: "test-signing-secret-serve",
      SLACK_BOT_USER_ID: "U0BACKSTOP",
      SLACK_BOT_ID: "B0BACKSTOP",
      SLACK_ALERT_CHANNEL: "C0ALERTS",
      SLACK_API_URL: slack.apiUrl,
      SLACK_MODE: "http",
      BACKSTOP_ALERT_TOKEN: "alert-token-serve-0123456789",
      BACKSTOP_APPROVERS: "U0APPROVER",
      BACKSTOP_INFRA_MCP_URL: `http://127.0.0.1:${mcpPort}/mcp`,
      BACKSTOP_TARGETS: '[{"name":"p","base_url":"http://127.0.0.1:1/v1","model":"m","tier":1}]',
      BACKSTOP_WRITER_KUBECONFIG: kubeconfig,
      BACKSTOP_RECEIPT_KEY_FILE: key,
      HOST: "127.0.0.1",
      PORT: "0",
      BACKSTOP_METRICS_PORT: "0",
    };
    const [bot, worker] = await Promise.all([
      startBackstop(["serve"], env, /listening on (http:\/\/\S+?:\d+)/),
      startBackstop(["worker"], env, /; (http:\/\/\S+?)\/metrics/),
    ]);
    for (const url of [bot, worker]) {
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      const ready = await fetch(`${url}/readyz`);
      expect(ready.status, url).toBe(200);
      const m = await fetch(`${url}/metrics`);
      expect(m.status).toBe(200);
      const samples = parseProm(await m.text());
      expect(samples.some((s) => s.name === "backstop_queue_jobs")).toBe(true);
      expect(total(samples, "backstop_runs_total")).toBe(0);
    }
    await new Promise<void>((r) => mcp.close(() => r()));
    for (const url of [bot, worker]) {
      const r = await fetch(`${url}/readyz`);
      expect(r.status).toBe(503);
      expect(((await r.json()) as { failed: string[] }).failed).toEqual(["mcp_infra"]);
    }
  }, 90_000);
});
