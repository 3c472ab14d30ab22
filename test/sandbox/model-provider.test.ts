import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI, {
  APIConnectionTimeoutError,
  AuthenticationError,
  BadRequestError,
  InternalServerError,
  RateLimitError,
} from "openai";
import { afterEach, describe, expect, it } from "vitest";
import { type SandboxModelProvider, startSandboxModelProvider } from "../../sandbox/model/provider.js";
import { loadWorld } from "../fixtures/worlds.js";

const API_KEY = "sk-test-very-secret-key-1234567890";
let provider: SandboxModelProvider | undefined;

afterEach(async () => {
  await provider?.close();
  provider = undefined;
});

function client(p: SandboxModelProvider, timeout = 5000): OpenAI {
  return new OpenAI({ apiKey: API_KEY, baseURL: p.url, maxRetries: 0, timeout });
}

function call(c: OpenAI, model: string, runId: string, purpose = "diagnose", user = "diagnose this") {
  return c.chat.completions
    .create(
      { model, messages: [{ role: "user", content: user }] },
      { headers: { "X-TFY-METADATA": JSON.stringify({ run_id: runId, purpose }) } },
    )
    .withResponse();
}

const truthSteps = (steps: unknown[]) => ({ "model-a": { diagnose: steps } });

describe("sandbox model provider", () => {
  it("answers truth and wrong diagnoses in the OpenAI shape with x-tfy-resolved-model", async () => {
    const scenario = loadWorld("models", {
      models: { script: truthSteps([{ reply: "truth" }, { reply: "wrong" }]) },
    });
    provider = await startSandboxModelProvider({ scenario });
    const c = client(provider);
    const first = await call(c, "model-a", "r1");
    expect(first.data.object).toBe("chat.completion");
    expect(first.data.model).toBe("model-a");
    expect(first.data.choices[0]?.message.role).toBe("assistant");
    expect(first.data.choices[0]?.finish_reason).toBe("stop");
    expect(first.response.headers.get("x-tfy-resolved-model")).toBe("model-a");
    expect(JSON.parse(first.data.choices[0]?.message.content ?? "")).toEqual(scenario.truth.diagnosis);
    expect(first.data.usage?.total_tokens).toBe(
      (first.data.usage?.prompt_tokens ?? 0) + (first.data.usage?.completion_tokens ?? 0),
    );
    const second = await call(c, "model-a", "r1");
    expect(JSON.parse(second.data.choices[0]?.message.content ?? "").suspected_deploy_sha).toBe("deadbeef");
    // past the end of the script: truth
    const third = await call(c, "model-a", "r1");
    expect(JSON.parse(third.data.choices[0]?.message.content ?? "").suspected_deploy_sha).toBe("9f8e7d6");
  });

  it("wraps replies in every format", async () => {
    const formats = ["plain", "fenced", "prose", "truncated", "garbage"] as const;
    const scenario = loadWorld("models", {
      models: {
        script: truthSteps(formats.map((format) => ({ reply: "truth", format }))),
      },
    });
    provider = await startSandboxModelProvider({ scenario });
    const c = client(provider);
    const texts: string[] = [];
    const finishes: string[] = [];
    for (const _ of formats) {
      const r = await call(c, "model-a", "fmt");
      texts.push(r.data.choices[0]?.message.content ?? "");
      finishes.push(r.data.choices[0]?.finish_reason ?? "");
    }
    const [plain, fenced, prose, truncated, garbage] = texts as [string, string, string, string, string];
    expect(JSON.parse(plain)).toEqual(scenario.truth.diagnosis);
    expect(fenced.startsWith("```json\n")).toBe(true);
    expect(fenced.trimEnd().endsWith("```")).toBe(true);
    expect(JSON.parse(fenced.slice(8, -4))).toEqual(scenario.truth.diagnosis);
    expect(() => JSON.parse(prose)).toThrow();
    expect(prose.indexOf("{")).toBeGreaterThan(0);
    expect(JSON.parse(prose.slice(prose.indexOf("{"), prose.lastIndexOf("}") + 1))).toEqual(
      scenario.truth.diagnosis,
    );
    expect(() => JSON.parse(truncated)).toThrow();
    expect(plain.startsWith(truncated)).toBe(true);
    expect(finishes[3]).toBe("length");
    expect(garbage).not.toMatch(/[{}]/);
  });

  it("answers scripted judge verdicts only; an unscripted judge call is ungrounded, truth or not", async () => {
    const scenario = loadWorld("models", {
      models: {
        script: {
          "judge-mini": { judge: [{ reply: "grounded" }, { reply: "ungrounded", reason: "no such sha" }] },
        },
      },
    });
    provider = await startSandboxModelProvider({ scenario });
    const c = client(provider);
    const verdict = async (user = "judge") =>
      JSON.parse((await call(c, "judge-mini", "j1", "judge", user)).data.choices[0]?.message.content ?? "");
    expect(await verdict()).toMatchObject({ grounded: true });
    expect(await verdict()).toEqual({ grounded: false, reason: "no such sha" });
    // Past the script the judge does not compare with the ground truth: even the true diagnosis is
    // answered ungrounded, so no scenario can rely on an oracle judge.
    const wrap = (d: unknown) => `Signals: ...\n<diagnosis>\n${JSON.stringify(d)}\n</diagnosis>`;
    const past = await verdict(wrap(scenario.truth.diagnosis));
    expect(past.grounded).toBe(false);
    expect(past.reason).toContain("no judge reply is scripted");
  });

  it("answers a raw reply text unchanged, whatever it is", async () => {
    const text = "Sure! I rolled everything back for you. 🙂 {not json";
    const scenario = loadWorld("models", {
      models: { script: truthSteps([{ reply: "raw", text, format: "fenced" }]) },
    });
    provider = await startSandboxModelProvider({ scenario });
    const r = await call(client(provider), "model-a", "raw");
    expect(r.data.choices[0]?.message.content).toBe(text);
  });

  it("answers 429 with Retry-After as RateLimitError, and 500/503 as InternalServerError", async () => {
    const scenario = loadWorld("models", {
      models: {
        script: truthSteps([
          { status: 429, retry_after_s: 7 },
          { status: 500 },
          { status: 503, message: "overloaded" },
        ]),
      },
    });
    provider = await startSandboxModelProvider({ scenario });
    const c = client(provider);
    const e429 = await call(c, "model-a", "e").catch((e: unknown) => e);
    expect(e429).toBeInstanceOf(RateLimitError);
    expect((e429 as RateLimitError).headers.get("retry-after")).toBe("7");
    expect((e429 as RateLimitError).code).toBe("rate_limit_exceeded");
    const e500 = await call(c, "model-a", "e").catch((e: unknown) => e);
    expect(e500).toBeInstanceOf(InternalServerError);
    expect((e500 as InternalServerError).status).toBe(500);
    const e503 = await call(c, "model-a", "e").catch((e: unknown) => e);
    expect(e503).toBeInstanceOf(InternalServerError);
    expect((e503 as InternalServerError).status).toBe(503);
    expect((e503 as InternalServerError).message).toContain("overloaded");
    expect((e503 as InternalServerError).type).toBe("server_error");
  });

  it("times out when the scripted delay exceeds the client timeout", async () => {
    const scenario = loadWorld("models", { models: { script: truthSteps([{ delay_ms: 5000 }]) } });
    provider = await startSandboxModelProvider({ scenario });
    const err = await call(client(provider, 100), "model-a", "slow").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(APIConnectionTimeoutError);
  });

  it("keeps counters per run, model and purpose", async () => {
    const scenario = loadWorld("models", {
      models: { script: truthSteps([{ status: 503 }, { reply: "wrong" }]) },
    });
    provider = await startSandboxModelProvider({ scenario });
    const c = client(provider);
    await expect(call(c, "model-a", "run-1")).rejects.toBeInstanceOf(InternalServerError);
    await expect(call(c, "model-a", "run-2")).rejects.toBeInstanceOf(InternalServerError);
    // another model and another purpose start at their own step 0 (defaults)
    expect((await call(c, "model-b", "run-1")).response.status).toBe(200);
    const judge = await call(c, "model-a", "run-1", "judge");
    expect(JSON.parse(judge.data.choices[0]?.message.content ?? "")).toHaveProperty("grounded");
    const r1 = await call(c, "model-a", "run-1");
    expect(JSON.parse(r1.data.choices[0]?.message.content ?? "").suspected_deploy_sha).toBe("deadbeef");
    provider.reset(scenario);
    expect(provider.requests()).toHaveLength(0);
    await expect(call(c, "model-a", "run-1")).rejects.toBeInstanceOf(InternalServerError);
  });

  it("logs every request to JSON Lines without the raw API key", async () => {
    const dir = mkdtempSync(join(tmpdir(), "backstop-model-"));
    const logFile = join(dir, "requests.jsonl");
    provider = await startSandboxModelProvider({ scenario: loadWorld("models"), logFile });
    const c = client(provider);
    await call(c, "model-a", "log-run", "diagnose", "hello");
    await call(c, "judge-mini", "log-run", "judge", "judge me");
    const lines = readFileSync(logFile, "utf8").trim().split("\n");
    expect(lines).toHaveLength(2);
    expect(readFileSync(logFile, "utf8")).not.toContain(API_KEY);
    const first = JSON.parse(lines[0] ?? "");
    expect(first).toMatchObject({
      model: "model-a",
      purpose: "diagnose",
      run_id: "log-run",
      response_status: 200,
    });
    expect(first.headers.authorization).toMatch(/^sha256:[0-9a-f]{12}$/);
    expect(first.body.messages[0].content).toBe("hello");
    expect(provider.requests().map((r) => r.purpose)).toEqual(["diagnose", "judge"]);
  });

  it("lists the scenario's models", async () => {
    provider = await startSandboxModelProvider({
      scenario: loadWorld("models", { models: { script: { "extra-model": {} } } }),
    });
    const ids: string[] = [];
    for await (const m of client(provider).models.list()) ids.push(m.id);
    expect(ids).toEqual(
      expect.arrayContaining(["model-a", "model-b", "model-strong", "judge-mini", "extra-model"]),
    );
  });

  it("rejects bad input: stream, bad metadata, missing key, malformed body", async () => {
    provider = await startSandboxModelProvider({ scenario: loadWorld("models") });
    const c = client(provider);
    await expect(
      c.chat.completions.create({
        model: "model-a",
        messages: [{ role: "user", content: "x" }],
        stream: true,
      }),
    ).rejects.toBeInstanceOf(BadRequestError);
    await expect(
      c.chat.completions.create(
        { model: "model-a", messages: [{ role: "user", content: "x" }] },
        { headers: { "X-TFY-METADATA": "{not json" } },
      ),
    ).rejects.toBeInstanceOf(BadRequestError);
    const noKey = await fetch(`${provider.url}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "model-a", messages: [] }),
    });
    expect(noKey.status).toBe(401);
    expect(((await noKey.json()) as { error: { code: string } }).error.code).toBe("invalid_api_key");
    const bad = await fetch(`${provider.url}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer x" },
      body: "{",
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { type: string } }).error.type).toBe("invalid_request_error");
    const scripted401 = loadWorld("models", { models: { script: truthSteps([{ status: 401 }]) } });
    provider.reset(scripted401);
    await expect(call(c, "model-a", "x")).rejects.toBeInstanceOf(AuthenticationError);
  });

  it("serves a virtual model by falling back inside the provider", async () => {
    const scenario = loadWorld("models", {
      models: { script: { "model-a": { diagnose: [{ status: 503 }] } } },
    });
    provider = await startSandboxModelProvider({
      scenario,
      virtualModels: { "backstop-virtual": ["model-a", "model-b"] },
    });
    const r = await call(client(provider), "backstop-virtual", "v");
    expect(r.response.headers.get("x-tfy-resolved-model")).toBe("model-b");
    expect(r.data.model).toBe("model-b");
  });
});
