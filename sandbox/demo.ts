import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { type Tracer, trace } from "@opentelemetry/api";
import { WebClient } from "@slack/web-api";
import type { Worker } from "bullmq";
import { Redis } from "ioredis";
import { listScenarioFiles, loadScenario } from "../scenarios/schema.js";
import { type ClusterRoster, DEFAULT_CLUSTER_LABEL } from "../src/contracts/cluster.js";
import { BackstopError } from "../src/errors.js";
import { loadPolicy, type Policy } from "../src/guardrails/policy.js";
import { slackFetch } from "../src/http.js";
import { childLogger } from "../src/log.js";
import * as obs from "../src/observability/index.js";
import { loadPrompt } from "../src/prompts/loader.js";
import { createProcessors } from "../src/queue/processors.js";
import { connectionFromUrl, RunsProducer, startRunsWorker } from "../src/queue/runs.js";
import { RunStore } from "../src/queue/store.js";
import type { SigningKey } from "../src/receipt/index.js";
import { createBackstopApp } from "../src/slack/app.js";
import type { SlackSettings } from "../src/slack/config.js";
import type { ConsoleBackend, ConsoleUser, ScenarioInfo } from "./console/backend.js";
import { startConsole } from "./console/server.js";
import { alertRequest, type DemoAlertRequest } from "./demo/alert-request.js";
import { demoBackend } from "./demo/backend.js";
import { clusterView, createDemoFeed } from "./demo/feed.js";
import { ensureRedis } from "./redis.js";
import { sandboxRunWorld } from "./run-world.js";
import { type SandboxSlack, startSandboxSlack } from "./slack/index.js";
import { startSandboxStack } from "./stack.js";

export { alertRequest, type DemoAlertRequest, shellQuote } from "./demo/alert-request.js";

const log = childLogger("demo");

/** The name the demo serves its sandbox cluster under (printed at start; alerts may carry it as `cluster`). */
export const DEMO_CLUSTER = "sandbox";

/** The demo's Slack workspace: one incidents channel, two approvers (on-call) and a developer who is not. */
export const DEMO_CHANNEL = "C0INCIDENTS";
export const DEMO_USERS: ConsoleUser[] = [
  { id: "U0ONCALL", name: "alex (on-call)", approver: true },
  { id: "U0SRELEAD", name: "priya (SRE lead)", approver: true },
  { id: "U0DEV", name: "sam (developer)", approver: false },
];

/** Options of {@link startDemo}. Ports 0 pick free ones; `redisUrl` is REDIS_URL. */
export interface DemoOptions {
  host?: string;
  consolePort?: number;
  redisUrl?: string | undefined;
  scenariosDir: string;
  signingKey: SigningKey;
  policy?: Policy;
  /** Escalations wait this long for a click (ms, default 30 minutes). */
  approvalTimeoutMs?: number;
  /** The built console page (default `dist/console`, made by `npm run build`). */
  staticDir?: string;
  /** The name the demo serves its sandbox cluster under (default `sandbox`); alerts may carry it as `cluster`. */
  clusterName?: string;
  /** The bearer token the alert route expects (`BACKSTOP_ALERT_TOKEN`; default: random, 32 hex digits). */
  alertToken?: string | undefined;
  /** The Slack signing secret the bot verifies requests with (`SLACK_SIGNING_SECRET`; default: random). */
  signingSecret?: string | undefined;
  /** Spans of the demo's runs (default: the OpenTelemetry API's global tracer, a no-op unless registered). */
  tracer?: Tracer;
}

/** A running demo: the console URL, the bot URL, and one `close()` that stops everything it started. */
export interface Demo {
  consoleUrl: string;
  botUrl: string;
  redis: { url: string; source: "env" | "local" | "child" };
  /** The cluster name(s) the demo's Backstop serves. */
  clusters: readonly string[];
  /** The alert route's bearer token and the Slack signing secret in use (given or generated). */
  alertToken: string;
  signingSecret: string;
  /** Fires the first scenario's alert at the bot (what `backstop demo` prints as a curl command). */
  alertRequest: DemoAlertRequest;
  backend: ConsoleBackend;
  close(): Promise<void>;
}

/**
 * Starts the whole product on loopback against the sandbox: two sandbox worlds (cluster, model provider,
 * tickets, mcp-infra — one for Backstop, one for the naive agent so their damage does not mix), the
 * sandbox Slack, Redis (see `ensureRedis`), the Bolt app, the BullMQ worker and the web console.
 * Firing a scenario resets both worlds, runs the naive agent on its copy and sends the scenario's
 * Alertmanager notification to the bot, which queues Backstop's run exactly as in production.
 * @throws BackstopError `demo.redis` when no Redis can be found or started; parts already started are stopped.
 */
export async function startDemo(opts: DemoOptions): Promise<Demo> {
  const host = opts.host ?? "127.0.0.1";
  const policy = opts.policy ?? loadPolicy();
  const closers: (() => Promise<void>)[] = [];
  const closeAll = async () => {
    for (const c of closers.splice(0).reverse()) await c().catch((err) => log.warn({ err }, "close failed"));
  };
  try {
    const files = listScenarioFiles(opts.scenariosDir);
    if (files.length === 0)
      throw new BackstopError("demo.scenarios", `no scenario files in ${opts.scenariosDir}`);
    const byName = new Map(files.map((f) => [basename(f).replace(/\.ya?ml$/, ""), f]));
    const first = loadScenario(byName.get("hallucinated-diagnosis") ?? files[0]!);
    const scenarios: ScenarioInfo[] = [...byName.entries()].map(([name, file]) => {
      const s = loadScenario(file);
      return { name, title: s.title, description: s.description, fires: s.fires };
    });

    const redis = await ensureRedis(opts.redisUrl);
    closers.push(() => redis.stop());
    const connection = connectionFromUrl(redis.url);
    const prefix = `bsdemo-${randomBytes(4).toString("hex")}`;

    const clusterName = opts.clusterName ?? DEMO_CLUSTER;
    const backstopWorld = await startSandboxStack({ scenario: first, host, clusterName });
    closers.push(() => backstopWorld.close());
    const roster: ClusterRoster = { names: backstopWorld.clusterNames, label: DEFAULT_CLUSTER_LABEL };
    const naiveWorld = await startSandboxStack({ scenario: first, host, clusterName });
    closers.push(() => naiveWorld.close());

    const botToken = `xoxb-demo-${randomBytes(8).toString("hex")}`;
    const signingSecret = opts.signingSecret || randomBytes(16).toString("hex");
    const alertToken = opts.alertToken || randomBytes(16).toString("hex");
    const slack: SandboxSlack = await startSandboxSlack({
      host,
      botToken,
      botUserId: "U0BACKSTOP",
      botId: "B0BACKSTOP",
      users: DEMO_USERS.map((u) => ({ id: u.id, name: u.name })),
      channels: [{ id: DEMO_CHANNEL, name: "incidents" }],
    });
    closers.push(() => slack.close());

    const producer = new RunsProducer({ connection, prefix });
    const store = new RunStore({ connection, prefix });
    closers.push(async () => {
      await producer.bullQueue.obliterate({ force: true }).catch(() => undefined);
      await producer.close();
      await store.close();
      const r = new Redis({ ...connection, lazyConnect: true, maxRetriesPerRequest: 1 });
      const keys = await r.keys(`${prefix}:*`).catch(() => [] as string[]);
      if (keys.length > 0) await r.del(...keys).catch(() => undefined);
      await r.quit().catch(() => undefined);
    });

    const approvers = DEMO_USERS.filter((u) => u.approver).map((u) => u.id);
    const approvalTimeoutMs = opts.approvalTimeoutMs ?? 30 * 60_000;
    const settings: SlackSettings = {
      mode: "http",
      botToken,
      signingSecret,
      botUserId: "U0BACKSTOP",
      botId: "B0BACKSTOP",
      slackApiUrl: slack.apiUrl,
      port: 0,
      host,
      alertChannel: DEMO_CHANNEL,
      alertWebhookToken: alertToken,
      approvers: { users: approvers },
      approvalTimeoutMs,
      clusters: roster,
    };
    // Observed as in production: /metrics, /healthz, /readyz on the bot's port; spans per run.
    const metrics = obs.createMetrics();
    const tracer = opts.tracer ?? trace.getTracer(obs.TRACER_NAME);
    obs.observeQueueDepth(producer.bullQueue, metrics);
    const redisReady = obs.redisCheck(connection);
    closers.push(() => redisReady.close());
    const routes = obs.observabilityRoutes({
      metrics,
      checks: [
        redisReady,
        obs.slackCheck(
          new WebClient(botToken, {
            slackApiUrl: slack.apiUrl,
            retryConfig: { retries: 0 },
            fetch: slackFetch(),
          }),
        ),
        obs.httpCheck("mcp_infra", obs.mcpInfraHealthUrl(backstopWorld.infraUrl)),
      ],
    });
    const bot = createBackstopApp(settings, { producer, store, routes });
    const { url: botUrl } = await bot.start();
    if (!botUrl) throw new BackstopError("demo.bot", "the bot did not report its URL");
    closers.push(() => bot.stop());

    // What the console shows, kept in memory and fed by reporters.
    const feed = createDemoFeed();
    const { changed, follow } = feed;

    const signingKey = opts.signingKey;
    const prompts = { diagnosis: await loadPrompt("diagnosis"), judge: await loadPrompt("judge") };
    const runWorld = sandboxRunWorld(backstopWorld, {
      signingKey,
      policy,
      prompts,
      recoveryTimeoutMs: 30_000,
      reporters: (runId) => [follow("backstop", runId, backstopWorld.scenario.name)],
    });
    // Closed after the worker (closers run in reverse): pooled MCP clients outlive each run.
    closers.push(() => runWorld.close?.() ?? Promise.resolve());
    const worker: Worker = startRunsWorker({
      connection,
      prefix,
      concurrency: 2,
      processors: obs.observeProcessors(
        createProcessors({
          world: obs.observeWorld(runWorld, { metrics, tracer }),
          slack: new WebClient(botToken, {
            slackApiUrl: slack.apiUrl,
            retryConfig: { retries: 0 },
            timeout: 10_000,
            fetch: slackFetch(),
          }),
          store,
          producer,
          approvers,
          approvalTimeoutMs,
        }),
        { tracer },
      ),
    });
    obs.observeWorker(worker, metrics);
    closers.push(() => worker.close());

    const offSlack = slack.on("message", () => changed("slack"));
    closers.push(async () => offSlack());
    // The clusters change on their own (rollouts): tell the console when a snapshot differs.
    const lastSnap = { backstop: "", naive: "" };
    const poll = setInterval(() => {
      for (const agent of ["backstop", "naive"] as const) {
        const snap = JSON.stringify(clusterView(agent === "backstop" ? backstopWorld : naiveWorld));
        if (snap !== lastSnap[agent]) {
          lastSnap[agent] = snap;
          changed("cluster");
        }
      }
    }, 500);
    closers.push(async () => clearInterval(poll));

    const receiptsDir = mkdtempSync(join(tmpdir(), "backstop-demo-receipts-"));
    const backend = demoBackend({
      scenarios,
      byName,
      backstopWorld,
      naiveWorld,
      slack,
      store,
      roster,
      botUrl,
      alertToken,
      signingSecret,
      signingKey,
      policy,
      prompts,
      receiptsDir,
      channel: DEMO_CHANNEL,
      users: DEMO_USERS,
      feed,
    });

    const web = await startConsole({
      backend,
      host,
      port: opts.consolePort ?? 0,
      ...(opts.staticDir ? { staticDir: opts.staticDir } : {}),
    });
    closers.push(() => web.close());
    return {
      consoleUrl: web.url,
      botUrl,
      redis: { url: redis.url, source: redis.source },
      clusters: backstopWorld.clusterNames,
      alertToken,
      signingSecret,
      alertRequest: alertRequest(`${botUrl}/alerts/alertmanager`, alertToken, first.alert),
      backend,
      close: closeAll,
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
