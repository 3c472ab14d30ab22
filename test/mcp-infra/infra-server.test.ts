import { KubeConfig } from "@kubernetes/client-node";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startInfraMcpHttp } from "../../mcp-infra/server.js";
import { LIMITS } from "../../mcp-infra/signals.js";
import { NamespacesOutputSchema } from "../../mcp-infra/tools/namespaces.js";
import { type SandboxCluster, startSandboxCluster } from "../../sandbox/cluster/index.js";
import { type Signals, SignalsSchema, WorkloadSignalSchema } from "../../src/contracts/signals.js";
import { setLogLevel } from "../../src/log.js";
import { windows } from "../fixtures/planted.js";
import { EMAIL, PEM_KEY, SECRET_DSN, SPLIT_KEY, signalsWorld, TOKEN_AT_END } from "./fixtures.js";

type Infra = Awaited<ReturnType<typeof startInfraMcpHttp>>;

let cluster: SandboxCluster;
let infra: Infra;
let client: Client;
const extra: Array<{ close(): Promise<void> }> = [];

async function mcpClient(url: string): Promise<Client> {
  const c = new Client({ name: "test", version: "0.0.0" });
  await c.connect(new StreamableHTTPClientTransport(new URL(url)));
  extra.push(c);
  return c;
}

async function call(c: Client, name: string, args: Record<string, unknown> = {}): Promise<CallToolResult> {
  return (await c.callTool({ name, arguments: args })) as CallToolResult;
}

function text(r: CallToolResult): string {
  return r.content.map((c) => (c.type === "text" ? c.text : "")).join("\n");
}

async function startInfra(opts: {
  user?: "readonly" | "writer";
  prometheus?: boolean;
  timeoutMs?: number;
  kc?: KubeConfig;
}) {
  const s = await startInfraMcpHttp({
    kubeConfig: opts.kc ?? cluster.kubeConfig(opts.user ?? "readonly"),
    ...(opts.prometheus === false ? {} : { prometheusUrl: cluster.url }),
    ...(opts.timeoutMs ? { requestTimeoutMs: opts.timeoutMs } : {}),
  });
  extra.push(s);
  return s;
}

beforeAll(async () => {
  setLogLevel("silent");
  cluster = await startSandboxCluster({ scenario: signalsWorld() });
  await cluster.settle();
  infra = await startInfra({});
  client = await mcpClient(infra.url);
});

afterAll(async () => {
  for (const x of extra.reverse()) await x.close().catch(() => undefined);
  await cluster.close();
});

describe("mcp-infra over streamable HTTP (real MCP SDK client, sandbox cluster)", () => {
  it("lists exactly four read-only tools with input and output schemas", async () => {
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual([
      "deployment_status",
      "get_signals",
      "namespaces",
      "resolve_owner",
    ]);
    for (const t of tools) {
      expect(t.annotations).toMatchObject({
        readOnlyHint: true,
        destructiveHint: false,
        idempotentHint: true,
        openWorldHint: false,
      });
      expect(t.outputSchema?.type).toBe("object");
    }
    const gs = tools.find((t) => t.name === "get_signals");
    expect(gs?.description).toContain(`${LIMITS.pods} pods`);
    expect(gs?.inputSchema.required).toEqual(expect.arrayContaining(["namespace", "workload"]));
  });

  it("resolve_owner: a pod's owner from ownerReferences (ReplicaSet → Deployment; StatefulSet)", async () => {
    const podOf = async (namespace: string, workload: string) => {
      const r = await call(client, "get_signals", { namespace, workload });
      return (r.structuredContent as Signals).pods[0]!.name;
    };
    const pod = await podOf("shop", "checkout");
    const r = await call(client, "resolve_owner", { namespace: "shop", kind: "Pod", name: pod });
    expect(r.isError).toBeFalsy();
    expect(r.structuredContent).toMatchObject({ namespace: "shop", kind: "Deployment", name: "checkout" });
    const chain = (r.structuredContent as { chain: { kind: string }[] }).chain.map((c) => c.kind);
    expect(chain).toEqual(["Pod", "ReplicaSet", "Deployment"]);
    const sts = await call(client, "resolve_owner", {
      namespace: "data",
      kind: "Pod",
      name: await podOf("data", "ledger"),
    });
    expect(sts.structuredContent).toMatchObject({ kind: "StatefulSet", name: "ledger" });
    // A pod that does not exist is a tool error, never a guess from its name.
    const missing = await call(client, "resolve_owner", {
      namespace: "shop",
      kind: "Pod",
      name: "checkout-7d9f8b6c5d-zzzzz",
    });
    expect(missing.isError).toBe(true);
    expect(text(missing)).toContain("not found");
    const bad = await call(client, "resolve_owner", { namespace: "shop", kind: "Secret", name: "x" });
    expect(bad.isError).toBe(true);
  });

  it("namespaces: labels and the protected flag", async () => {
    const r = await call(client, "namespaces");
    expect(r.isError).toBeFalsy();
    const out = NamespacesOutputSchema.parse(r.structuredContent);
    const data = out.namespaces.find((n) => n.name === "data");
    const shop = out.namespaces.find((n) => n.name === "shop");
    expect(data?.protected).toBe(true);
    expect(data?.labels["backstop.dev/protected"]).toBe("true");
    expect(shop).toMatchObject({ protected: false, labels: { team: "storefront" } });
    expect(JSON.parse(text(r))).toEqual(r.structuredContent);
  });

  it("deployment_status: replicas, image and current revision", async () => {
    const r = await call(client, "deployment_status", { namespace: "shop", name: "checkout" });
    expect(r.isError).toBeFalsy();
    const w = WorkloadSignalSchema.parse(r.structuredContent);
    expect(w).toMatchObject({ kind: "Deployment", namespace: "shop", name: "checkout", revision: 2 });
    expect(w.replicas.desired).toBe(3);
    expect(w.replicas.ready).toBe(0);
    expect(w.image).toBe("ghcr.io/acme/checkout:9f3e1c2");
    expect(w.conditions.map((c) => c.type)).toContain("Available");
  });

  it("get_signals: crash-looping pods, bad SHA current and failing, earlier SHA healthy, the log line", async () => {
    const r = await call(client, "get_signals", { namespace: "shop", workload: "checkout" });
    expect(r.isError, text(r)).toBeFalsy();
    const s: Signals = SignalsSchema.parse(r.structuredContent);
    expect(s.window).toBe("15m");
    expect(s.pods).toHaveLength(3);
    for (const p of s.pods) {
      expect(p.ready).toBe(false);
      expect(p.waiting_reason).toBe("CrashLoopBackOff");
      expect(p.restarts).toBeGreaterThan(0);
      expect(p.last_exit_code).toBe(1);
      expect(p.revision).toBe("2");
      expect(p.image).toBe("ghcr.io/acme/checkout:9f3e1c2");
    }
    const bySha = Object.fromEntries(s.rollout_history.map((h) => [h.sha, h]));
    expect(bySha["9f3e1c2"]).toMatchObject({ revision: 2, current: true, health: "failing" });
    expect(bySha.a1b2c3d).toMatchObject({ revision: 1, current: false, health: "healthy" });
    expect(Date.parse(bySha.a1b2c3d?.deployed_at ?? "")).toBeLessThan(
      Date.parse(bySha["9f3e1c2"]?.deployed_at ?? ""),
    );
    expect(s.logs.length).toBeGreaterThan(0);
    const lines = s.logs.flatMap((l) => l.lines);
    expect(lines).toContain("TypeError: Cannot read properties of undefined (reading 'currency')");
    // The server redacts every text in full before it bounds it; the evidence around the secrets stays.
    expect(JSON.stringify(s)).not.toContain("S3cr3tP4ss");
    expect(JSON.stringify(s)).not.toContain(EMAIL);
    const dsn = lines.find((l) => l.startsWith("config loaded database="));
    expect(dsn).toContain("[REDACTED:");
    expect(lines).toContain("POST /api/v1/checkout customer=[REDACTED:Email]");
    expect(SECRET_DSN).toContain("S3cr3tP4ss");
    expect(s.sanitized?.redactions.Email).toBeGreaterThanOrEqual(1);
    expect(s.logs[0]?.previous).toBe(true);
    expect(s.metrics.source).toBe("prometheus");
    expect(s.metrics.restarts).toBeGreaterThan(0);
    expect(s.events.length).toBeGreaterThan(0);
    expect(s.events.length).toBeLessThanOrEqual(LIMITS.events);
    expect(s.events[0]?.type).toBe("Warning");
    expect(s.truncated).toEqual([]);
  });

  it("get_signals redacts each whole log before it bounds it: a PEM over many lines, a token past 300 chars", async () => {
    const s = SignalsSchema.parse(
      (await call(client, "get_signals", { namespace: "shop", workload: "leaky" })).structuredContent,
    );
    const out = JSON.stringify(s);
    const lines = s.logs.flatMap((l) => l.lines);
    // The PEM block starts 13 lines before the 50-line tail: redacted as one text, then cut.
    const body = PEM_KEY.split("\n").filter((l) => !l.startsWith("-----"));
    for (const b of body) for (const w of windows(b)) expect(out).not.toContain(w);
    expect(out).not.toContain("END RSA PRIVATE KEY");
    expect(lines[0]).toMatch(/^\[REDACTED:PrivateKey\]/);
    // The token starts at character 284: cut first, its first 16 characters would survive.
    for (const w of windows(TOKEN_AT_END)) expect(out).not.toContain(w);
    const long = lines.find((l) => l.startsWith("request dump"));
    expect(long?.length).toBeLessThanOrEqual(LIMITS.logLineChars + 1);
    // Invisible characters are stripped before redaction, so a key split by a zero-width space is found.
    for (const w of windows(SPLIT_KEY)) expect(out).not.toContain(w);
    expect(out).not.toMatch(/\p{Cf}/u);
    expect(s.sanitized?.invisible).toMatchObject({ ZeroWidth: 1, BidiControl: 2 });
    expect(s.sanitized?.redactions).toMatchObject({
      PrivateKey: 1,
      GitHubToken: 1,
      AWSAccessKeyID: 1,
    });
  });

  it("get_signals without Prometheus: metrics none, earlier revisions unknown", async () => {
    const noProm = await startInfra({ prometheus: false });
    const c = await mcpClient(noProm.url);
    const s = SignalsSchema.parse(
      (await call(c, "get_signals", { namespace: "shop", workload: "checkout", window: "1h" }))
        .structuredContent,
    );
    expect(s.window).toBe("1h");
    expect(s.metrics).toEqual({ source: "none", error_ratio: null, p99_latency_ms: null, restarts: null });
    expect(s.rollout_history.find((h) => h.sha === "a1b2c3d")?.health).toBe("unknown");
    expect(s.rollout_history.find((h) => h.sha === "9f3e1c2")?.health).toBe("failing");
  });

  it("get_signals on a StatefulSet when no Deployment has the name", async () => {
    const r = await call(client, "get_signals", { namespace: "data", workload: "ledger" });
    expect(r.isError, text(r)).toBeFalsy();
    const s = SignalsSchema.parse(r.structuredContent);
    expect(s.workload.kind).toBe("StatefulSet");
    expect(s.pods).toHaveLength(2);
    expect(s.pods.every((p) => p.ready)).toBe(true);
    // No pod is failing, so the running pods' logs are the ones read (Ready pods may still serve errors).
    expect(s.logs.map((l) => l.pod).sort()).toEqual(["ledger-0", "ledger-1"]);
    expect(s.logs.every((l) => !l.previous)).toBe(true);
  });

  it("bounds output: many pods, revisions and log lines are cut and named in truncated", async () => {
    const r = await call(client, "get_signals", { namespace: "shop", workload: "bulk" });
    expect(r.isError, text(r)).toBeFalsy();
    const s = SignalsSchema.parse(r.structuredContent);
    expect(s.pods).toHaveLength(LIMITS.pods);
    expect(s.rollout_history).toHaveLength(LIMITS.revisions);
    expect(s.rollout_history.at(-1)).toMatchObject({ sha: "bbad999", current: true, revision: 12 });
    // 50 lines x ~300 chars fill most of the 16 KiB budget: the second pod's tail is cut, the third is dropped.
    expect(s.logs.length).toBeGreaterThanOrEqual(2);
    expect(s.logs.length).toBeLessThanOrEqual(LIMITS.logPods);
    let bytes = 0;
    for (const l of s.logs) {
      expect(l.lines.length).toBeLessThanOrEqual(LIMITS.logLines);
      expect(l.truncated).toBe(true);
      for (const line of l.lines) {
        expect(line.length).toBeLessThanOrEqual(LIMITS.logLineChars + 1);
        bytes += Buffer.byteLength(line) + 1;
      }
    }
    expect(bytes).toBeLessThanOrEqual(LIMITS.logBytes);
    expect(s.logs[0]?.lines.at(-1)).toMatch(/^line 79 x+…$/);
    expect(s.truncated).toEqual(
      expect.arrayContaining([
        "pods: showing 20 of 25",
        "rollout_history: showing the last 10 of 12 revisions",
        "logs: showing 3 of 25 failing pods",
      ]),
    );
    expect(s.events).toHaveLength(LIMITS.events);
    expect(
      s.truncated.some((t) => /^events: showing 30 of \d+ \(warnings first, then newest\)$/.test(t)),
    ).toBe(true);
    expect(s.logs.every((l) => l.pod.startsWith("bulk-") && s.pods.some((p) => p.name === l.pod))).toBe(true);
    expect(
      s.truncated.some((t) => t.startsWith(`logs: ${LIMITS.logBytes} bytes total reached at bulk-`)),
    ).toBe(true);
    expect(s.logs[0]?.lines).toHaveLength(LIMITS.logLines);
    expect(s.logs[0]?.lines[0]).toMatch(/^line 30 /);
  });

  it("unknown namespace and unknown workload are tool errors", async () => {
    const ns = await call(client, "get_signals", { namespace: "nope", workload: "checkout" });
    expect(ns.isError).toBe(true);
    expect(text(ns)).toContain('namespace "nope" not found');
    const wl = await call(client, "get_signals", { namespace: "shop", workload: "ghost" });
    expect(wl.isError).toBe(true);
    expect(text(wl)).toContain('no Deployment or StatefulSet "ghost" in namespace "shop"');
    const ds = await call(client, "deployment_status", { namespace: "shop", name: "ghost" });
    expect(ds.isError).toBe(true);
    expect(text(ds)).toContain("infra.workload_not_found");
  });

  it("bad input is rejected: window syntax, names, missing fields", async () => {
    for (const args of [
      { namespace: "shop", workload: "checkout", window: "15 minutes" },
      { namespace: "Shop_NS", workload: "checkout" },
      { namespace: "shop" },
      { namespace: "shop", workload: "checkout", window: "0m" },
    ]) {
      const r = await call(client, "get_signals", args);
      expect(r.isError, JSON.stringify(args)).toBe(true);
      expect(text(r)).toMatch(/Input validation error/);
    }
  });

  it("forbidden (403) is a tool error; best-effort parts degrade into truncated", async () => {
    const locked = await call(client, "deployment_status", { namespace: "shop", name: "locked" });
    expect(locked.isError).toBe(true);
    expect(text(locked)).toMatch(/^k8s\.forbidden: .*forbidden \(403\)/);

    // The writer identity cannot list namespaces, events or read pod logs.
    const writerInfra = await startInfra({ user: "writer" });
    const c = await mcpClient(writerInfra.url);
    const ns = await call(c, "namespaces");
    expect(ns.isError).toBe(true);
    expect(text(ns)).toContain("k8s.forbidden");
    const r = await call(c, "get_signals", { namespace: "shop", workload: "checkout" });
    expect(r.isError, text(r)).toBeFalsy();
    const s = SignalsSchema.parse(r.structuredContent);
    expect(s.pods).toHaveLength(3);
    expect(s.events).toEqual([]);
    expect(s.logs).toEqual([]);
    expect(s.truncated.some((t) => t.startsWith("events:") && t.includes("unavailable"))).toBe(true);
    expect(s.truncated.some((t) => t.startsWith("logs:") && t.includes("unavailable"))).toBe(true);
  });

  it("API errors (503), an unreachable API and a hanging API are tool errors", async () => {
    const flaky = await call(client, "get_signals", { namespace: "shop", workload: "flaky" });
    expect(flaky.isError).toBe(true);
    expect(text(flaky)).toMatch(/^k8s\.unavailable: Kubernetes API error \(503\)/);

    const dead = new KubeConfig();
    dead.loadFromOptions({
      clusters: [{ name: "dead", server: "http://127.0.0.1:9", skipTLSVerify: true }],
      users: [{ name: "u", token: "t" }],
      contexts: [{ name: "c", cluster: "dead", user: "u" }],
      currentContext: "c",
    });
    const deadInfra = await startInfra({ kc: dead, prometheus: false });
    const d = await call(await mcpClient(deadInfra.url), "namespaces");
    expect(d.isError).toBe(true);
    expect(text(d)).toMatch(/^k8s\.unavailable: Kubernetes API unreachable/);

    const shortInfra = await startInfra({ timeoutMs: 200 });
    const stuck = await call(await mcpClient(shortInfra.url), "deployment_status", {
      namespace: "shop",
      name: "stuck",
    });
    expect(stuck.isError).toBe(true);
    expect(text(stuck)).toMatch(/^k8s\.timeout: .*timed out after 200 ms/);
  });

  it("serves many sequential clients", async () => {
    for (let i = 0; i < 15; i++) {
      const c = new Client({ name: `seq-${i}`, version: "0.0.0" });
      await c.connect(new StreamableHTTPClientTransport(new URL(infra.url)));
      const r = await call(c, "deployment_status", { namespace: "shop", name: "checkout" });
      expect(r.isError).toBeFalsy();
      await c.close();
    }
  });
});
