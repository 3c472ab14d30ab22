import { randomUUID } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InMemorySpanExporter, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { WebClient } from "@slack/web-api";
import type { Worker } from "bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sandboxRunWorld } from "../../sandbox/run-world.js";
import { type SandboxSlack, startSandboxSlack } from "../../sandbox/slack/index.js";
import { type SandboxStack, startSandboxStack } from "../../sandbox/stack.js";
import { loadScenario } from "../../scenarios/schema.js";
import type { RunEvent, RunEventDataMap } from "../../src/contracts/events.js";
import { setLogLevel, setLogOutput } from "../../src/log.js";
import {
  type BackstopMetrics,
  createMetrics,
  httpCheck,
  mcpInfraHealthUrl,
  observabilityRoutes,
  observeProcessors,
  observeQueueDepth,
  observeWorker,
  observeWorld,
  redisCheck,
  setupTracing,
  slackCheck,
  startObservabilityServer,
  type Tracing,
} from "../../src/observability/index.js";
import { resolveInPackage } from "../../src/paths.js";
import { loadPrompt } from "../../src/prompts/loader.js";
import { createProcessors } from "../../src/queue/processors.js";
import { RunsProducer, startRunsWorker } from "../../src/queue/runs.js";
import { RunStore } from "../../src/queue/store.js";
import { loadSigningKey, type Receipt } from "../../src/receipt/index.js";
import { type BackstopApp, createBackstopApp } from "../../src/slack/app.js";
import { dropPrefix, REDIS } from "../queue/redis-helpers.js";
import { parseProm, type Sample, total } from "./prom-text.js";

// One real run through the bot and the worker, observed as in production: the bot's and the worker's
// /metrics scraped over HTTP, the run's spans read from an in-memory exporter, its log lines captured.
const BOT_TOKEN = "xoxb-test-observability";
const ALERT_TOKEN = "alert-token-observability-0123";
const CHANNEL = "C0ALERTS";
const scenario = loadScenario(resolveInPackage("scenarios", "model-failover.yaml"));
const prefix = `test-obs-${randomUUID().slice(0, 8)}`;

let stack: SandboxStack;
let slack: SandboxSlack;
let producer: RunsProducer;
let store: RunStore;
let bot: BackstopApp;
let botUrl: string;
let worker: Worker;
let workerServer: { url: string; close(): Promise<void> };
let workerMetrics: BackstopMetrics;
let tracing: Tracing;
const exporter = new InMemorySpanExporter();
const closers: (() => Promise<void>)[] = [];
const logLines: Record<string, unknown>[] = [];
let runId = "";
let events: RunEvent[] = [];

async function scrape(url: string): Promise<{ contentType: string; samples: Sample[] }> {
  const res = await fetch(`${url}/metrics`);
  expect(res.status).toBe(200);
  return { contentType: res.headers.get("content-type") ?? "", samples: parseProm(await res.text()) };
}

beforeAll(async () => {
  stack = await startSandboxStack({ scenario });
  closers.push(() => stack.close());
  slack = await startSandboxSlack({ botToken: BOT_TOKEN, channels: [{ id: CHANNEL, name: "incidents" }] });
  closers.push(() => slack.close());
  producer = new RunsProducer({ connection: REDIS, prefix });
  store = new RunStore({ connection: REDIS, prefix });
  closers.push(async () => {
    await producer.close();
    await store.close();
    await dropPrefix(prefix);
  });
  tracing = setupTracing({ exporter });
  const client = () => new WebClient(BOT_TOKEN, { slackApiUrl: slack.apiUrl, retryConfig: { retries: 0 } });
  const checks = () => {
    const redis = redisCheck(REDIS);
    closers.push(() => redis.close());
    return [redis, slackCheck(client()), httpCheck("mcp_infra", mcpInfraHealthUrl(stack.infraUrl))];
  };

  // The bot: its own registry (as its own process would have), queue depth from its producer.
  const botMetrics = createMetrics();
  observeQueueDepth(producer.bullQueue, botMetrics);
  bot = createBackstopApp(
    {
      mode: "http",
      botToken: BOT_TOKEN,
      signingSecret: "test-signing-secret-observability",
      botUserId: "U0BACKSTOP",
      botId: "B0BACKSTOP",
      slackApiUrl: slack.apiUrl,
      port: 0,
      host: "127.0.0.1",
      alertChannel: CHANNEL,
      alertWebhookToken: ALERT_TOKEN,
      approvers: { users: ["U0APPROVER"] },
      approvalTimeoutMs: 30 * 60_000,
    },
    { producer, store, routes: observabilityRoutes({ metrics: botMetrics, checks: checks() }) },
  );
  botUrl = (await bot.start()).url!;
  closers.push(() => bot.stop());

  // The worker, wired as `backstop worker` wires it.
  workerMetrics = createMetrics();
  const obs = { metrics: workerMetrics, tracer: tracing.tracer };
  const key = loadSigningKey({
    path: join(mkdtempSync(join(tmpdir(), "backstop-obs-")), "key.pem"),
    create: true,
  });
  worker = startRunsWorker({
    connection: REDIS,
    prefix,
    concurrency: 1,
    processors: observeProcessors(
      createProcessors({
        world: observeWorld(sandboxRunWorld(stack, { signingKey: key, recoveryTimeoutMs: 20_000 }), obs),
        slack: client(),
        store,
        producer,
        approvers: ["U0APPROVER"],
        approvalTimeoutMs: 30 * 60_000,
      }),
      obs,
    ),
  });
  observeWorker(worker, workerMetrics);
  observeQueueDepth(producer.bullQueue, workerMetrics);
  closers.push(() => worker.close());
  workerServer = await startObservabilityServer({
    routes: observabilityRoutes({ metrics: workerMetrics, checks: checks() }),
    port: 0,
    host: "127.0.0.1",
  });
  closers.push(() => workerServer.close());

  setLogLevel("info");
  setLogOutput({ write: (line: string) => logLines.push(JSON.parse(line)) });

  // Fire the scenario's alert at the bot, then wait for the run to finish and its job to complete.
  const res = await fetch(`${botUrl}/alerts/alertmanager`, {
    method: "POST",
    headers: { authorization: `Bearer ${ALERT_TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify(scenario.alert),
  });
  expect(res.status).toBe(202);
  const body = (await res.json()) as { queued: { runId: string; incidentKey: string }[] };
  runId = body.queued[0]!.runId;
  const jobId = body.queued[0]!.incidentKey;
  const deadline = Date.now() + 50_000;
  for (;;) {
    const job = await producer.bullQueue.getJob(jobId);
    if (job && (await job.isCompleted())) break;
    if (Date.now() > deadline) throw new Error("the run did not finish");
    await new Promise((r) => setTimeout(r, 100));
  }
  const receipt = await store.getReceipt(runId);
  events = (JSON.parse(receipt!) as Receipt).events;
  setLogOutput(null);
  setLogLevel("warn");
}, 60_000);

afterAll(async () => {
  setLogOutput(null);
  for (const c of closers.reverse()) await c().catch(() => undefined);
  await tracing?.shutdown();
});

const of = <T extends RunEvent["type"]>(type: T) =>
  events.filter((e) => e.type === type).map((e) => e.data as RunEventDataMap[T]);

describe("metrics", () => {
  it("the worker's /metrics counts the run as its receipt tells it", async () => {
    const { contentType, samples } = await scrape(workerServer.url);
    expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    const finished = of("run.finished")[0]!;
    expect(finished.outcome).toBe("resolved");
    expect(total(samples, "backstop_runs_started_total", { trigger: "alert" })).toBe(1);
    expect(total(samples, "backstop_runs_total", { trigger: "alert", outcome: "resolved" })).toBe(1);
    // The run's cluster (the single-cluster default here) labels the run counters.
    const cluster = (of("run.started")[0] as { cluster?: string }).cluster;
    expect(cluster).toBe("default");
    expect(total(samples, "backstop_runs_total", { cluster: "default" })).toBe(1);
    expect(total(samples, "backstop_runs_started_total", { cluster: "default" })).toBe(1);
    expect(total(samples, "backstop_run_duration_seconds_count", { outcome: "resolved" })).toBe(1);
    expect(total(samples, "backstop_run_duration_seconds_sum")).toBeCloseTo(finished.wall_ms / 1000, 3);
    for (const stage of ["triage", "diagnose", "validate", "act", "record"]) {
      expect(total(samples, "backstop_stage_duration_seconds_count", { stage }), stage).toBeGreaterThan(0);
    }

    // Model calls, fallbacks, tokens and cost: exactly what the receipt's events say.
    const calls = of("model.call");
    expect(calls.some((c) => !c.ok)).toBe(true);
    for (const c of calls) {
      const status = c.ok ? "ok" : c.status === null ? expect.any(String) : String(c.status);
      if (typeof status === "string") {
        const n = calls.filter(
          (x) => x.target === c.target && x.purpose === c.purpose && x.ok === c.ok && x.status === c.status,
        ).length;
        expect(
          total(samples, "backstop_model_calls_total", { target: c.target, purpose: c.purpose, status }),
        ).toBe(n);
      }
    }
    expect(total(samples, "backstop_model_calls_total")).toBe(calls.length);
    expect(total(samples, "backstop_model_call_duration_seconds_count")).toBe(calls.length);
    const fallbacks = of("model.fallback");
    expect(fallbacks.length).toBeGreaterThan(0);
    expect(total(samples, "backstop_model_fallbacks_total")).toBe(fallbacks.length);
    const f = fallbacks[0]!;
    expect(
      total(samples, "backstop_model_fallbacks_total", {
        from: f.from,
        to: f.to ?? "none",
        reason: f.reason,
      }),
    ).toBeGreaterThan(0);
    const targets = new Set(calls.map((c) => c.target));
    for (const target of targets) {
      const mine = calls.filter((c) => c.target === target);
      const input = mine.reduce((n, c) => n + c.tokens.input, 0);
      const output = mine.reduce((n, c) => n + c.tokens.output, 0);
      const usd = mine.reduce((n, c) => n + c.cost_usd, 0);
      expect(total(samples, "backstop_model_tokens_total", { target, type: "input" })).toBe(input);
      expect(total(samples, "backstop_model_tokens_total", { target, type: "output" })).toBe(output);
      expect(total(samples, "backstop_model_cost_usd_total", { target })).toBeCloseTo(usd, 9);
    }
    expect(total(samples, "backstop_model_cost_usd_total")).toBeGreaterThan(0);

    // Gates: one sample per rule checked.
    for (const g of of("gate.quality")) {
      for (const r of g.rules) {
        expect(
          total(samples, "backstop_gate_verdicts_total", {
            gate: "quality",
            rule: r.rule,
            result: r.passed ? "pass" : "fail",
          }),
        ).toBeGreaterThan(0);
      }
    }
    const actionGates = of("gate.action");
    expect(total(samples, "backstop_gate_results_total", { gate: "action" })).toBe(actionGates.length);
    expect(total(samples, "backstop_actions_total", { result: "executed" })).toBe(
      of("action.executed").length,
    );
    const redacted = of("redaction.applied").reduce((n, r) => n + r.total, 0);
    expect(total(samples, "backstop_redactions_total")).toBe(redacted);
    expect(total(samples, "backstop_breaker_trips_total")).toBe(of("breaker.tripped").length);

    // The queue: this worker's completed triage job, and the queue's depth read from Redis.
    expect(
      total(samples, "backstop_queue_jobs_total", { queue: "runs", name: "triage", outcome: "completed" }),
    ).toBe(1);
    expect(total(samples, "backstop_queue_job_duration_seconds_count", { name: "triage" })).toBe(1);
    expect(total(samples, "backstop_queue_jobs", { queue: "runs", state: "completed" })).toBe(1);
    expect(total(samples, "backstop_queue_jobs", { queue: "runs", state: "waiting" })).toBe(0);
    // prom-client's process metrics are there too.
    expect(samples.some((s) => s.name === "process_cpu_seconds_total")).toBe(true);
  });

  it("the bot's /metrics serves the queue depth; /healthz and /readyz answer on the bot's port", async () => {
    const { samples } = await scrape(botUrl);
    expect(total(samples, "backstop_queue_jobs", { queue: "runs", state: "completed" })).toBe(1);
    expect((await fetch(`${botUrl}/healthz`)).status).toBe(200);
    const ready = await fetch(`${botUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({
      status: "ready",
      failed: [],
      checks: { redis: { ok: true }, slack: { ok: true }, mcp_infra: { ok: true } },
    });
    expect((await fetch(`${workerServer.url}/readyz`)).status).toBe(200);
  });
});

describe("traces", () => {
  const spans = () => exporter.getFinishedSpans();
  const parentId = (s: ReadableSpan) => s.parentSpanContext?.spanId;

  it("one trace per run: job → run → stages → GenAI model calls, the run id on every span", () => {
    const job = spans().find(
      (s) => s.name === "backstop.job triage" && s.attributes["backstop.run_id"] === runId,
    );
    expect(job).toBeDefined();
    expect(parentId(job!)).toBeUndefined();
    const trace = spans().filter((s) => s.spanContext().traceId === job!.spanContext().traceId);
    for (const s of trace) expect(s.attributes["backstop.run_id"], s.name).toBe(runId);

    const run = trace.find((s) => s.name === "backstop.run")!;
    expect(parentId(run)).toBe(job!.spanContext().spanId);
    expect(run.attributes["backstop.outcome"]).toBe("resolved");
    const stages = trace.filter((s) => s.name.startsWith("backstop.stage "));
    for (const s of stages) expect(parentId(s)).toBe(run.spanContext().spanId);
    const names = stages.map((s) => s.attributes["backstop.stage"]);
    expect(names[0]).toBe("triage");
    expect(names.at(-1)).toBe("record");
    for (const stage of ["diagnose", "validate", "act"]) expect(names).toContain(stage);

    // Model calls: one CLIENT span per HTTP call, GenAI conventions, parented on diagnose or validate.
    const chats = trace.filter((s) => s.name.startsWith("chat "));
    const calls = of("model.call");
    expect(chats).toHaveLength(calls.length);
    const stageOf = new Map(stages.map((s) => [s.spanContext().spanId, s.attributes["backstop.stage"]]));
    for (const c of chats) {
      expect(["diagnose", "validate"]).toContain(stageOf.get(parentId(c)!));
      expect(c.attributes["gen_ai.operation.name"]).toBe("chat");
      expect(c.name).toBe(`chat ${c.attributes["gen_ai.request.model"]}`);
    }
    const ok = chats.filter((c) => c.attributes["error.type"] === undefined);
    expect(ok).toHaveLength(calls.filter((c) => c.ok).length);
    for (const c of ok) {
      expect(c.attributes["gen_ai.response.finish_reasons"]).toEqual(
        expect.arrayContaining([expect.any(String)]),
      );
      expect(c.attributes["gen_ai.usage.input_tokens"]).toBeGreaterThan(0);
    }
    const sumIn = chats.reduce((n, c) => n + Number(c.attributes["gen_ai.usage.input_tokens"]), 0);
    expect(sumIn).toBe(calls.reduce((n, c) => n + c.tokens.input, 0));
    const failed = chats.filter((c) => c.attributes["error.type"] !== undefined);
    expect(failed.length).toBe(calls.filter((c) => !c.ok).length);
    expect(failed.some((c) => /^http_\d{3}$/.test(String(c.attributes["error.type"])))).toBe(true);
  });

  it("never records prompt or reply text", async () => {
    const prompt = await loadPrompt("diagnosis");
    const probe = prompt.system.slice(0, 60);
    for (const s of spans()) {
      for (const [k, v] of Object.entries(s.attributes)) {
        expect(k).not.toMatch(/prompt|completion|content|message/);
        expect(String(v)).not.toContain(probe);
        expect(String(v).length).toBeLessThan(300);
      }
    }
  });
});

describe("logs", () => {
  it("lines written inside the run carry its run id and trace id", () => {
    const job = exporter.getFinishedSpans().find((s) => s.name === "backstop.job triage")!;
    const inRun = logLines.filter((l) => l.part === "actions");
    expect(inRun.length).toBeGreaterThan(0);
    for (const l of inRun) {
      expect(l.run_id).toBe(runId);
      expect(l.trace_id).toBe(job.spanContext().traceId);
    }
  });
});
