import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runScenarioAgent } from "../../sandbox/harness.js";
import { type SandboxStack, startSandboxStack } from "../../sandbox/stack.js";
import type { Scenario } from "../../scenarios/schema.js";
import { ModelRouter, type ModelTarget } from "../../src/gateway/router.js";
import { loadSigningKey } from "../../src/receipt/index.js";
import { namedScenario } from "../fixtures/bot-world.js";
import { freePort, until } from "../fixtures/live.js";

/**
 * A scenario in `virtual` mode through a real AI gateway: `@portkey-ai/gateway` (its Node server, on
 * loopback) with a fallback config over two OpenAI-compatible targets — the sandbox provider's primary
 * model, scripted to answer 429, and its secondary. The router sees one virtual model; the gateway falls
 * over; the receipt names the model that answered.
 */

/** The gateway's Node entry (`bin` of the package): `start-server.js --port=N --headless`. */
const gatewayEntry = join(
  dirname(createRequire(import.meta.url).resolve("@portkey-ai/gateway/package.json")),
  "build",
  "start-server.js",
);

/** Portkey's fallback config (x-portkey-config) over OpenAI-compatible targets at `customHost`. */
function portkeyFallbackConfig(customHost: string, models: string[]) {
  return {
    strategy: { mode: "fallback", on_status_codes: [429, 500, 502, 503, 504] },
    // The sandbox provider reads run id and purpose from X-TFY-METADATA, as a TrueFoundry gateway would.
    forward_headers: ["x-tfy-metadata", "x-tfy-logging-config"],
    targets: models.map((model) => ({
      provider: "openai",
      api_key: "sandbox-key",
      custom_host: customHost,
      override_params: { model },
    })),
  };
}

describe("virtual mode through @portkey-ai/gateway", () => {
  let stack: SandboxStack;
  let gateway: ChildProcess;
  let gatewayUrl: string;
  let dir: string;
  let log = "";
  let scenario: Scenario;

  beforeAll(async () => {
    scenario = namedScenario("model-failover");
    stack = await startSandboxStack({ scenario });
    const port = await freePort();
    gatewayUrl = `http://127.0.0.1:${port}`;
    gateway = spawn(process.execPath, [gatewayEntry, `--port=${port}`, "--headless"], {
      env: { ...process.env, NODE_ENV: "production" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const keep = (b: Buffer) => {
      log = (log + b.toString()).slice(-20_000);
    };
    gateway.stdout?.on("data", keep);
    gateway.stderr?.on("data", keep);
    await until(
      "the gateway to answer",
      async () => {
        const res = await fetch(`${gatewayUrl}/`).catch(() => null);
        return res?.ok ? await res.text() : null;
      },
      30_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${log}`);
    });
    dir = mkdtempSync(join(tmpdir(), "backstop-portkey-"));
  }, 60_000);

  afterAll(async () => {
    gateway?.kill("SIGTERM");
    await stack?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("falls over from the primary's 429 inside the gateway; the receipt names the model that answered", async () => {
    const [primary, secondary] = scenario.models.chain;
    const virtualTarget = (providerUrl: string): ModelTarget => ({
      name: "portkey-diagnose",
      baseURL: `${gatewayUrl}/v1`,
      model: "backstop-diagnose",
      apiKey: "portkey-local",
      tier: 1,
      inputUsdPerMTok: primary!.input_usd_per_mtok,
      outputUsdPerMTok: primary!.output_usd_per_mtok,
      timeoutMs: 20_000,
      headers: {
        "x-portkey-config": JSON.stringify(
          portkeyFallbackConfig(providerUrl, [primary!.model, secondary!.model]),
        ),
      },
    });
    const judge = scenario.models.judge;
    const { report, result } = await runScenarioAgent(stack, scenario, "backstop", {
      signingKey: loadSigningKey({ path: join(dir, "key.pem"), create: true }),
      receiptsDir: dir,
      recoveryTimeoutMs: 20_000,
      router: (_s, providerUrl) =>
        new ModelRouter({
          mode: "virtual",
          targets: [virtualTarget(providerUrl)],
          judge: {
            name: "portkey-judge",
            baseURL: `${gatewayUrl}/v1`,
            model: judge.model,
            apiKey: "portkey-local",
            tier: 1,
            inputUsdPerMTok: judge.input_usd_per_mtok,
            outputUsdPerMTok: judge.output_usd_per_mtok,
            timeoutMs: 20_000,
            headers: {
              "x-portkey-config": JSON.stringify({
                provider: "openai",
                api_key: "sandbox-key",
                custom_host: providerUrl,
                forward_headers: ["x-tfy-metadata"],
              }),
            },
          },
          dailyBudgetUsd: 10,
          backoffBaseMs: 50,
        }),
    });

    // The primary answered 429 to the gateway, and the gateway asked the secondary: one router call.
    const diagnoseCalls = stack.models.requests().filter((r) => r.purpose === "diagnose");
    expect(diagnoseCalls[0]).toMatchObject({ model: primary!.model, response_status: 429 });
    expect(diagnoseCalls.some((r) => r.model === secondary!.model && r.response_status === 200)).toBe(true);

    expect(report.outcome).toBe("resolved");
    expect(report.actions).toEqual(scenario.expect.backstop.actions);
    expect(report.fallbacks).toBe(0); // the gateway fell over, not the router

    const receipt = JSON.parse(readFileSync(report.receipt, "utf8")) as {
      events: { type: string; data: Record<string, unknown> }[];
    };
    const calls = receipt.events.filter((e) => e.type === "model.call" && e.data.purpose === "diagnose");
    expect(calls[0]?.data).toMatchObject({
      target: "portkey-diagnose",
      model: "backstop-diagnose",
      served_model: secondary!.model,
      ok: true,
      status: 200,
    });
    expect(result.outcome).toBe("resolved");
  }, 90_000);

  it("refuses a fallback config it cannot parse with 400 (the router then sees a non-retryable error)", async () => {
    const res = await fetch(`${gatewayUrl}/v1/chat/completions`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-portkey-config": JSON.stringify({ strategy: { mode: "sideways" }, targets: [] }),
      },
      body: JSON.stringify({ model: "x", messages: [{ role: "user", content: "hi" }] }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toMatch(/config/i);
  });
});
