import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runScenarioAgent } from "../../sandbox/harness.js";
import { type SandboxStack, startSandboxStack } from "../../sandbox/stack.js";
import { loadScenario } from "../../scenarios/schema.js";
import type { Diagnosis } from "../../src/contracts/diagnosis.js";
import type { Signals } from "../../src/contracts/signals.js";
import {
  evaluateGuardrail,
  findSignals,
  GuardrailRequestSchema,
} from "../../src/guardrails/gateway-guardrail.js";
import { resolveInPackage } from "../../src/paths.js";
import { targetFromWebhook } from "../../src/pipeline/target.js";
import { loadLocalPrompt, render } from "../../src/prompts/loader.js";
import { loadSigningKey } from "../../src/receipt/index.js";
import { type Bot, startBot } from "../slack/app-fixture.js";
import { makeDiagnosis, makeSignals, ONSET } from "./gate-fixtures.js";

/**
 * `POST /guardrails/quality` on the real Bolt app, with TrueFoundry custom-guardrail shapes: the
 * `requestBody` is the Chat Completions request the pipeline sends (the real diagnosis prompt rendered
 * with the signals), the `responseBody` a ChatCompletion carrying the model's diagnosis.
 */

const TOKEN = "guardrail-token-0123456789abcdef";
const MAX = 64 * 1024;

function chatRequest(
  signals: Signals,
  alert = "alertname=KubePodCrashLooping namespace=shop deployment=checkout",
) {
  const r = render(loadLocalPrompt("diagnosis"), { alert, signals: JSON.stringify(signals) });
  return {
    model: "backstop-diagnose",
    messages: [
      { role: "system", content: r.system },
      { role: "user", content: r.user },
    ],
    temperature: 0,
    max_tokens: 1024,
  };
}

function completion(content: string) {
  return {
    id: "chatcmpl-123",
    object: "chat.completion",
    created: 1_764_540_000,
    model: "gpt-4.1-mini",
    choices: [
      {
        index: 0,
        message: { role: "assistant", content, refusal: null },
        finish_reason: "stop",
        logprobs: null,
      },
    ],
    usage: { prompt_tokens: 1200, completion_tokens: 180, total_tokens: 1380 },
  };
}

function contract(diagnosis: Diagnosis | string, signals = makeSignals("crash"), config: object = {}) {
  return {
    requestBody: chatRequest(signals),
    responseBody: completion(typeof diagnosis === "string" ? diagnosis : JSON.stringify(diagnosis)),
    config,
    context: {
      user: {
        subjectId: "sa-backstop",
        subjectType: "serviceaccount",
        subjectSlug: "backstop-worker",
        subjectDisplayName: "Backstop worker",
      },
      metadata: { run_id: "run-1", purpose: "diagnose", onset: ONSET.toISOString() },
    },
  };
}

describe("POST /guardrails/quality (TrueFoundry custom guardrail contract)", () => {
  let bot: Bot;
  let url: string;
  beforeAll(async () => {
    bot = await startBot({ overrides: { guardrailToken: TOKEN, guardrailMaxBytes: MAX } });
    url = `${bot.url}/guardrails/quality`;
  });
  afterAll(async () => {
    await bot?.close();
  });

  const post = (body: unknown, headers: Record<string, string> = {}) =>
    fetch(url, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json", ...headers },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });

  it("allows a grounded diagnosis: 200 {verdict: true, message}", async () => {
    const res = await post(contract(makeDiagnosis()));
    expect(res.status).toBe(200);
    const body = (await res.json()) as { verdict: boolean; message: string; rules: { passed: boolean }[] };
    expect(body.verdict).toBe(true);
    expect(body.message).toMatch(
      /^grounded: \d+ quality rules passed \(onset from context\.metadata\.onset\)$/,
    );
    expect(body.rules.length).toBeGreaterThanOrEqual(5);
    expect(body.rules.every((r) => r.passed)).toBe(true);
  });

  it("denies an ungrounded diagnosis with 200 {verdict: false} naming the failed rules", async () => {
    const invented = makeDiagnosis({
      suspected_deploy_sha: "deadbeef99",
      evidence: ["the database connection pool was exhausted at 11:58"],
    });
    const res = await post(contract(invented));
    expect(res.status).toBe(200);
    const body = (await res.json()) as { verdict: boolean; message: string };
    expect(body.verdict).toBe(false);
    expect(body.message).toContain("ungrounded:");
    expect(body.message).toContain("sha_in_history");
    expect(body.message).toContain("evidence_grounded");
  });

  it("denies a response without a diagnosis and a request without signals (fail-closed)", async () => {
    const prose = await post(contract("I think you should roll back checkout."));
    expect(prose.status).toBe(200);
    expect(await prose.json()).toMatchObject({
      verdict: false,
      message: expect.stringContaining("no valid diagnosis"),
    });

    const noSignals = contract(makeDiagnosis());
    noSignals.requestBody.messages = [{ role: "user", content: "What is the capital of France?" }];
    const res = await post(noSignals);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      verdict: false,
      message: expect.stringContaining("no Backstop signals"),
    });
  });

  it("reads content given as an array of text parts, and the guardrail config", async () => {
    const req = contract(makeDiagnosis({ confidence: 0.75 }), makeSignals("crash"), {
      confidence_threshold: 0.8,
    });
    const user = req.requestBody.messages[1]!;
    (user as { content: unknown }).content = [{ type: "text", text: user.content as string }];
    const res = await post(req);
    const body = (await res.json()) as { verdict: boolean; message: string };
    expect(body.verdict).toBe(false);
    expect(body.message).toContain("confidence");
  });

  it("answers 400 naming the field for a malformed request, and for bad JSON", async () => {
    const bad = contract(makeDiagnosis()) as Record<string, unknown>;
    delete bad.responseBody;
    const res = await post(bad);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toContain("responseBody");

    const badConfig = await post(
      contract(makeDiagnosis(), makeSignals("crash"), { confidence_threshold: 7 }),
    );
    expect(badConfig.status).toBe(400);
    expect(((await badConfig.json()) as { error: string }).error).toContain("config.confidence_threshold");

    const notJson = await post("{not json");
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as { error: string }).error).toContain("malformed JSON");

    const text = await post("hello", { "content-type": "text/plain" });
    expect(text.status).toBe(415);
  });

  it("answers 401 without the bearer token, or with another one", async () => {
    const none = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(contract(makeDiagnosis())),
    });
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toContain("Bearer");
    const wrong = await post(contract(makeDiagnosis()), {
      authorization: "Bearer guardrail-token-0123456789abcdeX",
    });
    expect(wrong.status).toBe(401);
    const basic = await post(contract(makeDiagnosis()), {
      authorization: `Basic ${Buffer.from(`x:${TOKEN}`).toString("base64")}`,
    });
    expect(basic.status).toBe(401);
  });

  it("answers 413 for a body over the bound", async () => {
    const big = contract(makeDiagnosis());
    big.requestBody.messages.push({ role: "user", content: "x".repeat(MAX + 10) });
    const res = await post(big);
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: string }).error).toContain(`${MAX} bytes`);
  });

  it("is not served when no guardrail token is configured", async () => {
    const plain = await startBot();
    try {
      const res = await fetch(`${plain.url}/guardrails/quality`, {
        method: "POST",
        headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
        body: JSON.stringify(contract(makeDiagnosis())),
      });
      expect(res.status).toBe(404);
    } finally {
      await plain.close();
    }
  });
});

describe("evaluateGuardrail and findSignals", () => {
  it("finds the signals after an alert text with braces, and uses collected_at without an onset", () => {
    const s = makeSignals("crash");
    const msg = `Alert (Alertmanager):\nsummary=pods {restarting} and {"x":1}\n\nSignals (redacted JSON):\n${JSON.stringify(s)}\n\nAnswer.`;
    const found = findSignals(msg);
    expect(found?.signals.workload.name).toBe("checkout");
    expect(found?.before).toContain("summary=pods {restarting}");

    const req = contract(makeDiagnosis());
    req.context.metadata = { run_id: "r", purpose: "diagnose", onset: "" };
    const answer = evaluateGuardrail(GuardrailRequestSchema.parse(req));
    expect(answer.verdict).toBe(true);
    expect(answer.message).toContain("onset from signals.collected_at");
  });

  it("accepts an evidence quote from the alert text, not from the prompt's instructions", () => {
    const alert = "summary=checkout pods crash after deploy 3f9c2a1d0e";
    const req = contract(makeDiagnosis({ evidence: ["checkout pods crash after deploy"] }));
    req.requestBody = chatRequest(makeSignals("crash"), alert);
    expect(evaluateGuardrail(GuardrailRequestSchema.parse(req)).verdict).toBe(true);
    const fromInstructions = contract(makeDiagnosis({ evidence: ["Ground everything in the signals"] }));
    expect(evaluateGuardrail(GuardrailRequestSchema.parse(fromInstructions)).verdict).toBe(false);
  });
});

describe("the guardrail on the request the pipeline really sends", () => {
  let stack: SandboxStack;
  let bot: Bot;
  let dir: string;
  beforeAll(async () => {
    const scenario = loadScenario(resolveInPackage("scenarios", "hallucinated-diagnosis.yaml"));
    stack = await startSandboxStack({ scenario });
    bot = await startBot({ overrides: { guardrailToken: TOKEN } });
    dir = mkdtempSync(join(tmpdir(), "backstop-guardrail-"));
  }, 60_000);
  afterAll(async () => {
    await bot?.close();
    await stack?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("allows the scenario's true diagnosis and denies its hallucinated one", async () => {
    const scenario = stack.scenario;
    await runScenarioAgent(stack, scenario, "backstop", {
      signingKey: loadSigningKey({ path: join(dir, "key.pem"), create: true }),
      receiptsDir: dir,
      recoveryTimeoutMs: 20_000,
    });
    // The Chat Completions request body exactly as the router sent it to the model provider.
    const sent = stack.models.requests().find((r) => r.purpose === "diagnose")!;
    expect(sent).toBeDefined();
    // What a gateway hands its guardrails as context.metadata: the request's X-TFY-METADATA.
    const metadata = JSON.parse(sent.headers["x-tfy-metadata"]!) as Record<string, string>;
    expect(metadata).toMatchObject({ run_id: sent.run_id, purpose: "diagnose" });
    expect(metadata.onset).toBe(targetFromWebhook(scenario.alert).onset.toISOString());
    const ask = async (diagnosis: unknown) => {
      const res = await fetch(`${bot.url}/guardrails/quality`, {
        method: "POST",
        headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
        body: JSON.stringify({
          requestBody: sent.body,
          responseBody: completion(JSON.stringify(diagnosis)),
          config: {},
          context: {
            user: { subjectId: "sa", subjectType: "serviceaccount" },
            metadata,
          },
        }),
      });
      expect(res.status).toBe(200);
      return (await res.json()) as { verdict: boolean; message: string };
    };
    const truth = await ask(scenario.truth.diagnosis);
    expect(truth.message).toMatch(/^grounded: .*onset from context\.metadata\.onset/);
    expect(truth.verdict).toBe(true);
    const wrong = await ask(scenario.wrong);
    expect(wrong.verdict).toBe(false);
    expect(wrong.message).toMatch(/^ungrounded: /);
  }, 90_000);
});
