import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { type Tracer, trace } from "@opentelemetry/api";
import { WebClient } from "@slack/web-api";
import type { Worker } from "bullmq";
import { Redis } from "ioredis";
import { listScenarioFiles, loadScenario, type Scenario } from "../scenarios/schema.js";
import { type ClusterRoster, DEFAULT_CLUSTER_LABEL, selectCluster } from "../src/contracts/cluster.js";
import type { RunEvent, RunOutcome, RunReporter } from "../src/contracts/events.js";
import { BackstopError, errorMessage } from "../src/errors.js";
import { loadPolicy, type Policy } from "../src/guardrails/policy.js";
import { childLogger } from "../src/log.js";
import {
  createMetrics,
  httpCheck,
  mcpInfraHealthUrl,
  observabilityRoutes,
  observeProcessors,
  observeQueueDepth,
  observeWorker,
  observeWorld,
  redisCheck,
  slackCheck,
  TRACER_NAME,
} from "../src/observability/index.js";
import { targetFromAlert, targetFromWebhook } from "../src/pipeline/target.js";
import { loadPrompt } from "../src/prompts/loader.js";
import { activeRunKey } from "../src/queue/admit.js";
import { incidentKeyForAlert, runIdFor } from "../src/queue/jobs.js";
import { createProcessors } from "../src/queue/processors.js";
import { connectionFromUrl, RunsProducer, startRunsWorker } from "../src/queue/runs.js";
import { RunStore } from "../src/queue/store.js";
import { type SigningKey, verifyReceiptText } from "../src/receipt/index.js";
import { createBackstopApp } from "../src/slack/app.js";
import type { SlackSettings } from "../src/slack/config.js";
import type {
  AgentView,
  ClusterView,
  ConsoleBackend,
  ConsoleChange,
  ConsoleMessage,
  ConsoleUser,
  ScenarioInfo,
} from "./console/backend.js";
import { startConsole } from "./console/server.js";
import { blastRadius, runScenarioAgent } from "./harness.js";
import { ensureRedis } from "./redis.js";
import { sandboxRunWorld } from "./run-world.js";
import { type SandboxSlack, sendBlockAction, startSandboxSlack } from "./slack/index.js";
import { type SandboxStack, startSandboxStack } from "./stack.js";

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

/** A ready HTTP request that fires an Alertmanager notification at the demo's bot, and the same as `curl`. */
export interface DemoAlertRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
  /** A shell command line (POSIX quoting) that sends exactly this request with curl. */
  curl: string;
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

interface AgentState {
  runId: string;
  scenario: string;
  events: RunEvent[];
  outcome: AgentView["outcome"];
  receipt: string | null;
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
    for (const c of closers.splice(0).reverse())
      await c().catch((err) => log.warn({ err: errorMessage(err) }, "close failed"));
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
    const metrics = createMetrics();
    const tracer = opts.tracer ?? trace.getTracer(TRACER_NAME);
    observeQueueDepth(producer.bullQueue, metrics);
    const redisReady = redisCheck(connection);
    closers.push(() => redisReady.close());
    const routes = observabilityRoutes({
      metrics,
      checks: [
        redisReady,
        slackCheck(new WebClient(botToken, { slackApiUrl: slack.apiUrl, retryConfig: { retries: 0 } })),
        httpCheck("mcp_infra", mcpInfraHealthUrl(backstopWorld.infraUrl)),
      ],
    });
    const bot = createBackstopApp(settings, { producer, store, routes });
    const { url: botUrl } = await bot.start();
    if (!botUrl) throw new BackstopError("demo.bot", "the bot did not report its URL");
    closers.push(() => bot.stop());

    // What the console shows, kept in memory and fed by reporters.
    const listeners = new Set<(what: ConsoleChange) => void>();
    const changed = (what: ConsoleChange) => {
      for (const l of listeners) l(what);
    };
    const state: { backstop: AgentState | null; naive: AgentState | null; fires: number } = {
      backstop: null,
      naive: null,
      fires: 0,
    };
    const follow = (agent: "backstop" | "naive", runId: string, scenario: string): RunReporter => ({
      emit(event: RunEvent) {
        const s = state[agent];
        if (!s || s.runId !== runId || s.scenario !== scenario) return;
        s.events.push(event);
        if (event.type === "escalation.opened") s.outcome = "awaiting_approval";
        if (event.type === "approval.decided") s.outcome = "running";
        if (event.type === "run.finished") s.outcome = (event.data as { outcome: RunOutcome }).outcome;
        changed(agent);
      },
    });

    const signingKey = opts.signingKey;
    const prompts = { diagnosis: await loadPrompt("diagnosis"), judge: await loadPrompt("judge") };
    const worker: Worker = startRunsWorker({
      connection,
      prefix,
      concurrency: 2,
      processors: observeProcessors(
        createProcessors({
          world: observeWorld(
            sandboxRunWorld(backstopWorld, {
              signingKey,
              policy,
              prompts,
              recoveryTimeoutMs: 30_000,
              reporters: (runId) => [follow("backstop", runId, backstopWorld.scenario.name)],
            }),
            { metrics, tracer },
          ),
          slack: new WebClient(botToken, {
            slackApiUrl: slack.apiUrl,
            retryConfig: { retries: 0 },
            timeout: 10_000,
          }),
          store,
          producer,
          approvers,
          approvalTimeoutMs,
        }),
        { tracer },
      ),
    });
    observeWorker(worker, metrics);
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
    const backend: ConsoleBackend = {
      scenarios: () => scenarios,
      async fire(name) {
        const file = byName.get(name);
        if (!file) throw new BackstopError("demo.unknown_scenario", `no scenario named ${name}`);
        const scenario: Scenario = loadScenario(file);
        state.fires += 1;
        backstopWorld.reset(scenario);
        naiveWorld.reset(scenario);
        slack.reset();
        changed("slack");
        changed("cluster");

        // Backstop: the scenario's Alertmanager notification, as a new incident (its own group).
        const nonce = randomBytes(8).toString("hex");
        const webhook = structuredClone(scenario.alert);
        webhook.groupKey = `${webhook.groupKey}/demo-${nonce}`;
        for (const a of webhook.alerts) a.fingerprint = nonce;
        // The console follows the run of the notification's primary workload (its first firing alert);
        // the other alerts of the group get threads of their own, as they would in Slack.
        const { target } = targetFromWebhook(webhook);
        const primary = webhook.alerts.find((a) => {
          const t = targetFromAlert(a);
          return a.status === "firing" && t?.namespace === target.namespace && t.workload === target.workload;
        });
        if (!primary)
          throw new BackstopError("demo.fire", `${scenario.name}: no firing alert names a workload`);
        const picked = selectCluster(primary.labels, roster);
        if (!("cluster" in picked))
          throw new BackstopError("demo.fire", `${scenario.name}: ${picked.reason}`);
        const backstopRunId = runIdFor(incidentKeyForAlert(webhook, primary, picked.cluster));
        // The world was just reset, so a run still open from an earlier fire (e.g. awaiting approval)
        // is about a world that no longer exists: free its workloads so this fire starts a run of its
        // own instead of joining that one (one run per workload, per cluster).
        for (const a of webhook.alerts) {
          const t = targetFromAlert(a);
          if (!t) continue;
          const key = activeRunKey(picked.cluster, t);
          const holder = await store.activeRun(key);
          if (holder) await store.releaseRun(key, holder);
        }
        state.backstop = {
          runId: backstopRunId,
          scenario: scenario.name,
          events: [],
          outcome: "running",
          receipt: null,
        };
        const res = await fetch(`${botUrl}/alerts/alertmanager`, {
          method: "POST",
          headers: { authorization: `Bearer ${alertToken}`, "content-type": "application/json" },
          body: JSON.stringify(webhook),
        });
        const body = (await res.json().catch(() => ({}))) as { queued?: { runId: string }[] };
        if (res.status >= 300 || !body.queued?.some((q) => q.runId === backstopRunId)) {
          throw new BackstopError(
            "demo.fire",
            `the bot refused the alert: HTTP ${res.status} ${JSON.stringify(body)}`,
          );
        }

        // The naive agent, on its own copy of the world, in the background.
        let naiveRunId = "";
        const started = new Promise<string>((resolve) => {
          void runScenarioAgent(naiveWorld, scenario, "naive", {
            signingKey,
            receiptsDir,
            policy,
            prompts,
            reporters: (_agent, runId) => {
              naiveRunId = runId;
              state.naive = { runId, scenario: scenario.name, events: [], outcome: "running", receipt: null };
              resolve(runId);
              return [follow("naive", runId, scenario.name)];
            },
          })
            .then(({ report }) => {
              if (state.naive?.runId !== report.run_id) return;
              state.naive.outcome = report.outcome;
              state.naive.receipt = readFileSync(report.receipt, "utf8");
              changed("naive");
            })
            .catch((err) => log.warn({ err: errorMessage(err) }, "the naive agent's run failed"));
        });
        naiveRunId = await started;
        return { backstopRunId, naiveRunId };
      },
      channels: () => [DEMO_CHANNEL],
      messages: (channel): ConsoleMessage[] =>
        slack
          .messages(channel)
          .filter((m) => m.ephemeral_to === null)
          .map((m) => ({
            channel: m.channel,
            ts: m.ts,
            thread_ts: m.thread_ts,
            user: m.user,
            text: m.text,
            blocks: m.blocks,
            edited: m.edited,
            files: m.files,
          })),
      async click(a) {
        const message = slack.messages(a.channel).find((m) => m.ts === a.message_ts);
        const r = await sendBlockAction(`${botUrl}/slack/events`, signingSecret, {
          user_id: a.user_id,
          channel_id: a.channel,
          message_ts: a.message_ts,
          ...(a.thread_ts ? { thread_ts: a.thread_ts } : {}),
          action_id: a.action_id,
          value: a.value,
          response_url: slack.newResponseUrl({
            channel: a.channel,
            user: a.user_id,
            message_ts: a.message_ts,
          }),
          ...(message ? { message: { text: message.text, blocks: message.blocks } } : {}),
        });
        return { status: r.status };
      },
      users: () => DEMO_USERS,
      cluster: (agent) => clusterView(agent === "backstop" ? backstopWorld : naiveWorld),
      agent(agent): AgentView | null {
        const s = state[agent];
        if (!s) return null;
        const blast = blastRadius(agent === "backstop" ? backstopWorld : naiveWorld, policy);
        return {
          agent,
          runId: s.runId,
          cluster: runCluster(s.events),
          scenario: s.scenario,
          events: [...s.events],
          outcome: s.outcome,
          blast,
        };
      },
      async receipt(runId) {
        if (state.naive?.runId === runId) return state.naive.receipt;
        return store.getReceipt(runId);
      },
      async verify(runId) {
        const text = await backend.receipt(runId);
        return text === null ? null : verifyReceiptText(text);
      },
      async fileBytes(id) {
        const f = slack.files().find((x) => x.id === id);
        return f ? { bytes: f.bytes, mimetype: f.mimetype, name: f.name } : null;
      },
      onChange(listener) {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
    };

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

/** Quotes `s` for a POSIX shell: inside single quotes, each `'` becomes `'\''`. */
export function shellQuote(s: string): string {
  return `'${s.replaceAll("'", "'\\''")}'`;
}

/**
 * The request Alertmanager's webhook receiver would send (`POST`, `Authorization: Bearer <token>`,
 * JSON body of version 4), and the same as a curl command line.
 */
export function alertRequest(url: string, token: string, webhook: unknown): DemoAlertRequest {
  const body = JSON.stringify(webhook);
  const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
  const curl = [
    "curl -sS -X POST",
    shellQuote(url),
    ...Object.entries(headers).map(([k, v]) => `-H ${shellQuote(`${k}: ${v}`)}`),
    `--data-binary ${shellQuote(body)}`,
  ].join(" ");
  return { url, headers, body, curl };
}

/** A sandbox cluster as the console shows it. */
/** The cluster a run's `run.started` event names, or null. */
function runCluster(events: readonly RunEvent[]): string | null {
  const started = events.find((e) => e.type === "run.started");
  const c = (started?.data as { cluster?: unknown } | undefined)?.cluster;
  return typeof c === "string" ? c : null;
}

function clusterView(stack: SandboxStack): ClusterView {
  const snap = stack.cluster.snapshot();
  return {
    name: stack.clusterNames[0]!,
    namespaces: snap.namespaces.map((n) => ({ name: n.name, protected: n.protected })),
    workloads: snap.workloads.map((w) => ({
      kind: w.kind,
      namespace: w.namespace,
      name: w.name,
      replicas: { desired: w.replicas.desired, ready: w.replicas.ready },
      revision: w.revision,
      image: w.image,
      sha: w.sha,
      health: w.health,
      protected: w.protected,
    })),
  };
}
