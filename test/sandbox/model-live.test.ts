import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type SandboxModelProvider, startSandboxModelProvider } from "../../sandbox/model/index.js";
import { loadWorld } from "../fixtures/worlds.js";

// `backstop run --live`: past the scenario's script, the sandbox provider forwards to a real
// OpenAI-compatible endpoint — here a second provider on loopback playing the real gateway.
let real: SandboxModelProvider;
let sandbox: SandboxModelProvider;

beforeAll(async () => {
  real = await startSandboxModelProvider({ scenario: loadWorld("models") });
  sandbox = await startSandboxModelProvider({
    scenario: loadWorld("models", { models: { script: { primary: { diagnose: [{ reply: "wrong" }] } } } }),
    live: (model, purpose) =>
      model === "primary" && purpose === "diagnose"
        ? { baseURL: real.url, apiKey: "real-gateway-key", model: "prod-triage", timeoutMs: 5_000 }
        : null,
  });
});
afterAll(async () => {
  await sandbox?.close();
  await real?.close();
});

const ask = (client: OpenAI, run: string, model = "primary") =>
  client.chat.completions
    .create(
      { model, messages: [{ role: "user", content: "diagnose shop/checkout" }] },
      { headers: { "X-TFY-METADATA": JSON.stringify({ run_id: run, purpose: "diagnose" }) } },
    )
    .withResponse();

describe("sandbox model provider, live mode", () => {
  it("answers from the script first, then from the real endpoint", async () => {
    const client = new OpenAI({ baseURL: sandbox.url, apiKey: "sandbox-key", maxRetries: 0 });
    const first = await ask(client, "live-1");
    expect(first.data.choices[0]?.message.content).toContain("deadbeef");
    expect(real.requests()).toHaveLength(0);

    const second = await ask(client, "live-1");
    expect(second.data.choices[0]?.message.content).toContain("9f8e7d6");
    expect(second.response.headers.get("x-tfy-resolved-model")).toBe("prod-triage");
    const upstream = real.requests();
    expect(upstream).toHaveLength(1);
    expect(upstream[0]).toMatchObject({ model: "prod-triage", run_id: "live-1", purpose: "diagnose" });
    // The real endpoint gets its own key, never the caller's.
    expect(upstream[0]?.headers.authorization).not.toBe(sandbox.requests()[0]?.headers.authorization);
  });

  it("keeps scripted defaults for models with no live target", async () => {
    const client = new OpenAI({ baseURL: sandbox.url, apiKey: "sandbox-key", maxRetries: 0 });
    const before = real.requests().length;
    const r = await ask(client, "live-2", "secondary");
    expect(r.data.choices[0]?.message.content).toContain("9f8e7d6");
    expect(real.requests()).toHaveLength(before);
  });
});
