/**
 * A benchmark worker process (forked by `bench/lib/fleet.ts`): the real `runs` queue worker and
 * processors over the fleet's sandbox stack, which lives in the parent. Reads its configuration from the
 * JSON file named by `BENCH_WORKER_CONFIG` and `BENCH_CONCURRENCY`; reports over IPC: `ready`, each
 * triage job `completed` (with its processing ms and the ms it waited in the queue) or `failed`, and on request (`stats`) its peak RSS
 * (MB, sampled every 100 ms) and CPU time so far (ms). `{type: "close"}` closes the worker and exits.
 */
import { readFileSync } from "node:fs";
import { KubeConfig } from "@kubernetes/client-node";
import { LogLevel, WebClient } from "@slack/web-api";
import { ScenarioSchema } from "../../scenarios/schema.js";
import { WritePath } from "../../src/actions/index.js";
import { toModelTarget } from "../../src/contracts/model-target.js";
import { ModelRouter } from "../../src/gateway/index.js";
import { loadPolicy } from "../../src/guardrails/policy.js";
import { slackFetch } from "../../src/http.js";
import { setLogLevel } from "../../src/log.js";
import {
  connectInfra,
  connectNotify,
  type InfraClient,
  leaseAll,
  McpClientPool,
  type NotifyClient,
} from "../../src/mcp/index.js";
import { loadPrompt } from "../../src/prompts/loader.js";
import { createProcessors } from "../../src/queue/processors.js";
import { RunsProducer, startRunsWorker } from "../../src/queue/runs.js";
import { RunStore } from "../../src/queue/store.js";
import type { RunWorld } from "../../src/queue/world.js";
import { loadSigningKey } from "../../src/receipt/index.js";
import { processStats } from "./common.js";

setLogLevel("silent");
const cfgFile = process.env.BENCH_WORKER_CONFIG;
if (!cfgFile || !process.send) {
  console.error("worker-proc: run by bench/lib/fleet.ts (needs BENCH_WORKER_CONFIG and an IPC channel)");
  process.exit(2);
}
const cfg = JSON.parse(readFileSync(cfgFile, "utf8")) as {
  redis: { host: string; port: number };
  prefix: string;
  slackApiUrl: string;
  botToken: string;
  kubeconfig: string;
  infraUrl: string;
  ticketsUrl: string;
  modelsUrl: string;
  keyPath: string;
  scenario: unknown;
};
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? "8");
const send = (m: unknown) => process.send?.(m);

let rssPeak = process.memoryUsage.rss();
const sampler = setInterval(() => {
  rssPeak = Math.max(rssPeak, process.memoryUsage.rss());
}, 100);

const scenario = ScenarioSchema.parse(cfg.scenario);
const writer = new KubeConfig();
writer.loadFromString(cfg.kubeconfig);
const actions = new WritePath({ kubeConfig: writer, pollIntervalMs: 100 });
const policy = loadPolicy();
const prompts = { diagnosis: await loadPrompt("diagnosis"), judge: await loadPrompt("judge") };
const signingKey = loadSigningKey({ path: cfg.keyPath });
// One router for every run, built as the production world builds it (src/queue/world.ts) from the
// scenario's chain pointed at the sandbox provider; nothing of sandbox/ is loaded into this process.
const toTarget = (t: (typeof scenario.models.chain)[number]) =>
  toModelTarget({ ...t, base_url: cfg.modelsUrl }, "sandbox-key");
const router = new ModelRouter({
  mode: "chain",
  targets: scenario.models.chain.map(toTarget),
  judge: toTarget(scenario.models.judge),
  dailyBudgetUsd: scenario.models.daily_budget_usd,
});
// Pooled MCP clients leased per run, as the production world does (src/queue/world.ts).
const infraPool = new McpClientPool<InfraClient>(() => connectInfra(cfg.infraUrl));
const notifyPool = new McpClientPool<NotifyClient>(() => connectNotify(cfg.ticketsUrl));
const world: RunWorld = {
  recoveryTimeoutMs: 30_000,
  signalsWindow: "15m",
  async open() {
    const { clients, release } = await leaseAll({
      infra: { pool: infraPool, key: "default" },
      notify: { pool: notifyPool, key: "tickets" },
    });
    return {
      deps: {
        signals: clients.infra,
        router,
        actions,
        tickets: clients.notify,
        policy,
        prompts,
        signingKey,
      },
      reporters: [],
      close: async () => release(),
    };
  },
};
const store = new RunStore({ connection: cfg.redis, prefix: cfg.prefix });
const producer = new RunsProducer({ connection: cfg.redis, prefix: cfg.prefix });
const worker = startRunsWorker({
  connection: cfg.redis,
  prefix: cfg.prefix,
  concurrency,
  processors: createProcessors({
    world,
    slack: new WebClient(cfg.botToken, {
      slackApiUrl: cfg.slackApiUrl,
      retryConfig: { retries: 0 },
      logLevel: LogLevel.ERROR,
      fetch: slackFetch(),
      timeout: 10_000,
    }),
    store,
    producer,
    approvers: ["U0ONCALL"],
    approvalTimeoutMs: 30 * 60_000,
  }),
});
worker.on("completed", (job) => {
  if (job.name === "triage")
    send({
      type: "completed",
      id: job.id,
      ms: (job.finishedOn ?? Date.now()) - (job.processedOn ?? Date.now()),
      waited_ms: (job.processedOn ?? Date.now()) - job.timestamp,
    });
});
worker.on("failed", (job, err) => {
  if (job?.name === "triage" && job.attemptsMade >= (job.opts.attempts ?? 1))
    send({ type: "failed", id: job.id, error: err.message });
});
await worker.waitUntilReady();
send({ type: "ready" });

process.on("message", async (m: { type: string; req?: string }) => {
  if (m.type === "stats") send({ type: "stats", req: m.req, ...processStats(rssPeak) });
  if (m.type === "close") {
    clearInterval(sampler);
    await worker.close().catch(() => undefined);
    await Promise.all([infraPool.close(), notifyPool.close()]);
    await producer.close().catch(() => undefined);
    await store.close().catch(() => undefined);
    process.exit(0);
  }
});
// The parent is gone (crashed or killed): stop rather than linger.
process.on("disconnect", () => process.exit(0));
