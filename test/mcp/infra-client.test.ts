import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createMcpExpressApp } from "@modelcontextprotocol/sdk/server/express.js";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { startInfraMcpHttp } from "../../mcp-infra/server.js";
import { type SandboxCluster, startSandboxCluster } from "../../sandbox/cluster/index.js";
import { isBackstopError } from "../../src/errors.js";
import { setLogLevel } from "../../src/log.js";
import { connectInfra, INFRA_TOOL_ALLOW_LIST } from "../../src/mcp/infra.js";
import { signalsWorld } from "../mcp-infra/fixtures.js";

let cluster: SandboxCluster;
let infra: Awaited<ReturnType<typeof startInfraMcpHttp>>;
let rogue: { url: string; calls: string[]; close(): Promise<void> };

/** An MCP server that offers more than Backstop allows, and answers get_signals with the wrong shape. */
async function startRogue(): Promise<typeof rogue> {
  const calls: string[] = [];
  const ro = { readOnlyHint: true, destructiveHint: false };
  const build = () => {
    const s = new McpServer({ name: "rogue", version: "0" });
    const reply = (name: string, body: Record<string, unknown>) => async () => {
      calls.push(name);
      return { content: [{ type: "text" as const, text: JSON.stringify(body) }], structuredContent: body };
    };
    s.registerTool(
      "namespaces",
      { annotations: ro },
      reply("namespaces", { namespaces: [], truncated: false }),
    );
    s.registerTool(
      "get_signals",
      { inputSchema: { namespace: z.string(), workload: z.string() }, annotations: ro },
      reply("get_signals", { hello: "world" }),
    );
    // Allow-listed name but not annotated read-only: refused.
    s.registerTool(
      "deployment_status",
      { annotations: { readOnlyHint: false } },
      reply("deployment_status", {}),
    );
    // Not on the allow-list at all.
    s.registerTool(
      "scale_deployment",
      { annotations: { destructiveHint: true } },
      reply("scale_deployment", {}),
    );
    s.registerTool("delete_pod", { annotations: { destructiveHint: true } }, reply("delete_pod", {}));
    return s;
  };
  const app = createMcpExpressApp();
  app.post("/mcp", async (req, res) => {
    const server = build();
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    res.on("close", () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(req, res, req.body);
  });
  const http: Server = await new Promise((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
  return {
    url: `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`,
    calls,
    close: () =>
      new Promise((resolve) => {
        http.closeAllConnections();
        http.close(() => resolve());
      }),
  };
}

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  return isBackstopError(err) ? err.code : `not a BackstopError: ${String(err)}`;
}

beforeAll(async () => {
  setLogLevel("silent");
  cluster = await startSandboxCluster({ scenario: signalsWorld() });
  infra = await startInfraMcpHttp({ kubeConfig: cluster.kubeConfig("readonly"), prometheusUrl: cluster.url });
  rogue = await startRogue();
});
afterAll(async () => {
  await rogue.close();
  await infra.close();
  await cluster.close();
});

describe("infra MCP client", () => {
  it("exposes the four allow-listed tools and returns parsed signals", async () => {
    const c = await connectInfra(infra.url);
    try {
      expect(c.tools()).toEqual([...INFRA_TOOL_ALLOW_LIST].sort());
      const s = await c.getSignals("shop", "checkout");
      expect(s.workload.name).toBe("checkout");
      expect(s.rollout_history.find((h) => h.current)?.sha).toBe("9f3e1c2");
      const ns = await c.namespaces();
      expect(ns.find((n) => n.name === "data")?.protected).toBe(true);
      const d = await c.deploymentStatus("shop", "checkout");
      expect(d.replicas.desired).toBe(3);
      const s1h = await c.getSignals("shop", "checkout", "1h");
      expect(s1h.window).toBe("1h");
      const owner = await c.resolveOwner("shop", "Pod", s.pods[0]!.name);
      expect(owner).toMatchObject({ namespace: "shop", kind: "Deployment", name: "checkout" });
      expect(
        isBackstopError(
          await c.resolveOwner("shop", "Pod", "ghost-1").catch((e: unknown) => e),
          "mcp.tool_error",
        ),
      ).toBe(true);
    } finally {
      await c.close();
    }
  });

  it("maps tool errors to mcp.tool_error with the server's message", async () => {
    const c = await connectInfra(infra.url);
    try {
      const err = await c.getSignals("shop", "ghost").catch((e: unknown) => e);
      expect(isBackstopError(err, "mcp.tool_error")).toBe(true);
      expect((err as Error).message).toContain('no Deployment or StatefulSet "ghost" in namespace "shop"');
      expect(await codeOf(c.getSignals("shop", "checkout", "fortnight"))).toBe("mcp.tool_error");
    } finally {
      await c.close();
    }
  });

  it("never exposes nor calls tools outside the allow-list or not annotated read-only", async () => {
    const c = await connectInfra(rogue.url);
    try {
      expect(c.tools()).toEqual(["get_signals", "namespaces"]);
      expect(await codeOf(c.call("scale_deployment", { replicas: 0 }))).toBe("mcp.tool_not_allowed");
      expect(await codeOf(c.call("delete_pod", {}))).toBe("mcp.tool_not_allowed");
      expect(await codeOf(c.deploymentStatus("shop", "checkout"))).toBe("mcp.tool_not_allowed");
      expect(rogue.calls).toEqual([]);
      // An allowed tool that answers off-contract is refused by SignalsSchema.
      expect(await codeOf(c.getSignals("shop", "checkout"))).toBe("mcp.invalid_output");
      expect(rogue.calls).toEqual(["get_signals"]);
    } finally {
      await c.close();
    }
  });

  it("fails with mcp.unavailable when the server is down, at connect or later", async () => {
    const dead = await startInfraMcpHttp({ kubeConfig: cluster.kubeConfig("readonly") });
    const c = await connectInfra(dead.url);
    await dead.close();
    expect(await codeOf(c.getSignals("shop", "checkout"))).toBe("mcp.unavailable");
    await c.close();
    expect(await codeOf(connectInfra(dead.url))).toBe("mcp.unavailable");
    expect(await codeOf(connectInfra("not a url"))).toBe("mcp.invalid_options");
  });
});
