import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runScenarioAgent } from "../../sandbox/harness.js";
import { type SandboxStack, startSandboxStack } from "../../sandbox/stack.js";
import { loadScenario, type Scenario, ScenarioSchema } from "../../scenarios/schema.js";
import { BackstopError } from "../../src/errors.js";
import { setLogLevel } from "../../src/log.js";
import { connectInfra } from "../../src/mcp/infra.js";
import { resolveInPackage } from "../../src/paths.js";
import { loadSigningKey } from "../../src/receipt/index.js";

// One mcp-infra serving two sandbox clusters, each with its own read-only clients.
const EU = "prod-eu1";
const US = "prod-us1";
const base = loadScenario(resolveInPackage("scenarios", "clean-signal.yaml"));

function scenario(opts: { euDown?: boolean; alertCluster?: string } = {}): Scenario {
  const s: Scenario = structuredClone(base);
  s.clusters = [
    {
      name: EU,
      state: "failing",
      ...(opts.euDown
        ? {
            faults: [
              {
                verb: "get",
                resource: "deployments",
                status: 503,
                message: "etcd down",
                after: 0,
                times: 10_000,
              },
            ],
          }
        : {}),
    },
    { name: US, state: "failing" },
  ];
  if (opts.alertCluster) for (const a of s.alert.alerts) a.labels.cluster = opts.alertCluster;
  return s;
}

let stack: SandboxStack;
let raw: Client;

async function call(name: string, args: Record<string, unknown>): Promise<CallToolResult> {
  return (await raw.callTool({ name, arguments: args })) as CallToolResult;
}
const text = (r: CallToolResult) => r.content.map((c) => (c.type === "text" ? c.text : "")).join("\n");

beforeAll(async () => {
  setLogLevel("silent");
  stack = await startSandboxStack({ scenario: scenario() });
  raw = new Client({ name: "test", version: "0.0.0" });
  await raw.connect(new StreamableHTTPClientTransport(new URL(stack.infraUrl)));
});

afterAll(async () => {
  await raw?.close();
  await stack?.close();
});

describe("scenario clusters", () => {
  it("refuses one cluster, duplicate names and bad names", () => {
    const bad = (clusters: unknown) => ScenarioSchema.safeParse({ ...base, clusters }).success;
    expect(bad([{ name: EU }])).toBe(false);
    expect(bad([{ name: EU }, { name: EU }])).toBe(false);
    expect(bad([{ name: EU }, { name: "bad/name" }])).toBe(false);
    expect(bad([{ name: EU }, { name: US, state: "healthy" }])).toBe(true);
  });

  it("a stack refuses a scenario whose clusters are not its own", () => {
    expect(() => stack.reset(base)).toThrow(/defines clusters \(one\)/);
    const other = scenario();
    other.clusters![1]!.name = "prod-ap1";
    expect(() => stack.reset(other)).toThrow(BackstopError);
  });
});

describe("mcp-infra over two clusters", () => {
  it("lists `cluster` as a tool argument and answers each cluster from its own API", async () => {
    stack.reset(scenario());
    const tools = await raw.listTools();
    for (const t of tools.tools) expect(Object.keys(t.inputSchema.properties ?? {})).toContain("cluster");
    for (const c of [EU, US]) {
      const infra = await connectInfra(stack.infraUrl, { cluster: c });
      try {
        const s = await infra.getSignals("shop", "catalog");
        expect(s.cluster).toBe(c);
      } finally {
        await infra.close();
      }
    }
  });

  it("refuses a call without `cluster` while two are served, and a cluster it does not serve", async () => {
    const missing = await call("get_signals", { namespace: "shop", workload: "catalog" });
    expect(missing.isError).toBe(true);
    expect(text(missing)).toContain("infra.cluster_required");
    expect(text(missing)).toContain(`${EU}, ${US}`);
    const unknown = await call("namespaces", { cluster: "prod-ap1" });
    expect(unknown.isError).toBe(true);
    expect(text(unknown)).toContain("infra.unknown_cluster");
    const invalid = await call("deployment_status", { cluster: "a/b", namespace: "shop", name: "catalog" });
    expect(invalid.isError).toBe(true);
  });

  it("a cluster whose API is down fails its own calls and runs only", async () => {
    const key = loadSigningKey({
      path: join(mkdtempSync(join(tmpdir(), "bs-clusters-")), "k.pem"),
      create: true,
    });
    const receiptsDir = mkdtempSync(join(tmpdir(), "bs-clusters-receipts-"));
    stack.reset(scenario({ euDown: true }));
    const eu = await connectInfra(stack.infraUrl, { cluster: EU });
    const us = await connectInfra(stack.infraUrl, { cluster: US });
    try {
      await expect(eu.getSignals("shop", "catalog")).rejects.toThrow(/etcd down|503/);
      expect((await us.getSignals("shop", "catalog")).cluster).toBe(US);
    } finally {
      await Promise.all([eu.close(), us.close()]);
    }
    // Whole runs: the run on the broken cluster escalates without acting; the other one resolves.
    const down = await runScenarioAgent(stack, scenario({ euDown: true, alertCluster: EU }), "backstop", {
      signingKey: key,
      receiptsDir,
    });
    expect(down.report.outcome).toBe("escalated");
    expect(down.report.summary).toMatch(/could not gather signals/);
    expect(stack.clusters.get(EU)!.mutations()).toEqual([]);
    const up = await runScenarioAgent(stack, scenario({ euDown: true, alertCluster: US }), "backstop", {
      signingKey: key,
      receiptsDir,
    });
    expect(up.report.outcome).toBe("resolved");
    expect(
      stack.clusters
        .get(US)!
        .mutations()
        .map((m) => m.name),
    ).toEqual(["catalog"]);
    expect(stack.clusters.get(EU)!.mutations()).toEqual([]);
  });
});
