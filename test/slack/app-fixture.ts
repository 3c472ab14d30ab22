import { generateKeyPairSync, randomUUID } from "node:crypto";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import type { RecordedMessage, SandboxSlack, SendResult } from "../../sandbox/slack/index.js";
import { sendBlockAction, startSandboxSlack } from "../../sandbox/slack/index.js";
import type { ActionRecord } from "../../src/contracts/events.js";
import { setLogLevel } from "../../src/log.js";
import { type DecisionJobData, RUNS_QUEUE, type RunJobData } from "../../src/queue/jobs.js";
import { type QueueConnection, RunsProducer } from "../../src/queue/runs.js";
import { type IncidentRecord, RunStore } from "../../src/queue/store.js";
import { loadSigningKey, ReceiptRecorder, serializeReceipt, signReceipt } from "../../src/receipt/index.js";
import { type BackstopApp, createBackstopApp, type SlackProducer } from "../../src/slack/app.js";
import type { SlackSettings } from "../../src/slack/config.js";

/**
 * A running bot for tests: the sandbox Slack Web API, the real RunsProducer and RunStore on the real
 * Redis at 127.0.0.1:6379 under a unique prefix, and the Bolt app listening on 127.0.0.1:0.
 */

export const BOT_TOKEN = "xoxb-test-backstop";
export const SIGNING_SECRET = "test-signing-secret-0123456789";
export const ALERT_TOKEN = "alert-token-0123456789abcdef";
export const ALERT_CHANNEL = "C0ALERTS";
export const APPROVER = "U0APPROVER";
export const APPROVER2 = "U0APPROVER2";
export const GROUP_MEMBER = "U0GROUPED";
export const STRANGER = "U0STRANGER";
export const APPROVER_GROUP = "S0ONCALL";
export const REDIS: QueueConnection = { host: "127.0.0.1", port: 6379 };

export interface Bot {
  slack: SandboxSlack;
  producer: RunsProducer;
  /** The producer the app got: counts `enqueueDecision` calls. */
  decisionCalls: DecisionJobData[];
  store: RunStore;
  queue: Queue;
  app: BackstopApp;
  settings: SlackSettings;
  url: string;
  eventsUrl: string;
  alertsUrl: string;
  prefix: string;
  jobs(): Promise<{ id: string; name: string; data: unknown }[]>;
  close(): Promise<void>;
}

/** Starts a bot; `overrides` change settings, `producer` replaces the real producer (e.g. one to a dead Redis). */
export async function startBot(
  opts: {
    overrides?: Partial<SlackSettings>;
    producer?: SlackProducer;
    nonces?: string[];
    /** The app's clock (default a fixed 2026-11-21T12:00:00Z); runs that really execute need the real one. */
    clock?: () => Date;
  } = {},
): Promise<Bot> {
  setLogLevel(process.env.LOG_LEVEL ?? "silent");
  const prefix = `bstest-${randomUUID().slice(0, 8)}`;
  const slack = await startSandboxSlack({
    botToken: BOT_TOKEN,
    users: [
      { id: APPROVER, name: "ana" },
      { id: APPROVER2, name: "bo" },
      { id: GROUP_MEMBER, name: "gus" },
      { id: STRANGER, name: "sam" },
    ],
    usergroups: { [APPROVER_GROUP]: [GROUP_MEMBER] },
  });
  const producer = new RunsProducer({ connection: REDIS, prefix });
  const store = new RunStore({ connection: REDIS, prefix });
  const queue = new Queue(RUNS_QUEUE, { connection: REDIS, prefix });
  const decisionCalls: DecisionJobData[] = [];
  const base = opts.producer ?? producer;
  const counted: SlackProducer = {
    enqueueRun: (d: RunJobData) => base.enqueueRun(d),
    addRun: (d: RunJobData) => base.addRun(d),
    get jobKeyPrefix() {
      return base.jobKeyPrefix;
    },
    enqueueDecision: async (d: DecisionJobData) => {
      decisionCalls.push(d);
      await base.enqueueDecision(d);
    },
  };
  const settings: SlackSettings = {
    mode: "http",
    botToken: BOT_TOKEN,
    signingSecret: SIGNING_SECRET,
    botUserId: "U0BACKSTOP",
    botId: "B0BACKSTOP",
    slackApiUrl: slack.apiUrl,
    port: 0,
    host: "127.0.0.1",
    alertChannel: ALERT_CHANNEL,
    alertWebhookToken: ALERT_TOKEN,
    approvers: { users: [APPROVER, APPROVER2], usergroup: APPROVER_GROUP },
    approvalTimeoutMs: 30 * 60_000,
    ...opts.overrides,
  };
  const nonces = [...(opts.nonces ?? [])];
  let n = 0;
  const app = createBackstopApp(settings, {
    producer: counted,
    store,
    newNonce: () => nonces.shift() ?? `n${++n}`,
    clock: opts.clock ?? (() => new Date("2026-11-21T12:00:00.000Z")),
  });
  const { url } = await app.start();
  if (!url) throw new Error("the app did not report its URL");
  return {
    slack,
    producer,
    decisionCalls,
    store,
    queue,
    app,
    settings,
    url,
    eventsUrl: `${url}/slack/events`,
    alertsUrl: `${url}/alerts/alertmanager`,
    prefix,
    async jobs() {
      const all = await queue.getJobs(["waiting", "delayed", "active", "completed", "failed", "prioritized"]);
      return all.map((j) => ({ id: String(j.id), name: j.name, data: j.data }));
    },
    async close() {
      await app.stop();
      await queue.obliterate({ force: true }).catch(() => {});
      await queue.close();
      const redis = new Redis(REDIS);
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length > 0) await redis.del(...keys);
      await redis.quit();
      await producer.close();
      await store.close();
      await slack.close();
    },
  };
}

/**
 * Clicks the button `action` (with `value`, e.g. a run id) on `message` in the alert channel as `user`,
 * signed as Slack sends it: in the message's thread (its own ts for a root message), with a fresh
 * response URL and, when `withBlocks`, the message's text and blocks (the bot then finds the clicked
 * button's block there). @throws the `fetch` error when the bot cannot be reached.
 */
export function clickButton(
  bot: Bot,
  click: {
    user: string;
    message: Pick<RecordedMessage, "ts" | "thread_ts" | "text" | "blocks">;
    action: string;
    value: string;
    withBlocks?: boolean;
  },
): Promise<SendResult> {
  const { message } = click;
  return sendBlockAction(bot.eventsUrl, SIGNING_SECRET, {
    user_id: click.user,
    channel_id: ALERT_CHANNEL,
    message_ts: message.ts,
    thread_ts: message.thread_ts ?? message.ts,
    action_id: click.action,
    value: click.value,
    response_url: bot.slack.newResponseUrl(),
    ...(click.withBlocks ? { message: { text: message.text, blocks: message.blocks } } : {}),
  });
}

/** An incident record for `runId` (status `awaiting_approval` unless given). */
export function incident(key: string, runId: string, patch: Partial<IncidentRecord> = {}): IncidentRecord {
  return {
    key,
    runId,
    namespace: "shop",
    workload: "checkout",
    alertname: "KubePodCrashLooping",
    severity: "critical",
    trigger: "alert",
    requestedBy: null,
    channel: ALERT_CHANNEL,
    status: "awaiting_approval",
    stage: "escalate",
    summary: null,
    startedAt: "2026-11-21T11:50:00.000Z",
    resolvedAt: null,
    ...patch,
  };
}

/** A rollback the breaker escalated. */
export const PROPOSED: ActionRecord = {
  type: "rollback",
  namespace: "shop",
  kind: "Deployment",
  name: "checkout",
  to_sha: "a1b2c3d",
} as ActionRecord;

/** A small real signed receipt for `runId`: the exact text `serializeReceipt` writes. */
export function signedReceiptText(runId: string): string {
  const { privateKey } = generateKeyPairSync("ed25519");
  const key = loadSigningKey({ pem: privateKey.export({ type: "pkcs8", format: "pem" }).toString() });
  const clock = () => new Date("2026-11-21T12:00:00.000Z");
  const rec = new ReceiptRecorder({ runId, clock });
  rec.append("run.started", {
    run_id: runId,
    agent: "backstop",
    trigger: "alert",
    namespace: "shop",
    workload: "checkout",
    alertname: "KubePodCrashLooping",
    scenario: null,
    note: null,
  });
  rec.append("run.finished", {
    outcome: "resolved",
    summary: "rolled back checkout",
    wall_ms: 4200,
    cost_usd: 0.004,
    tokens: { input: 1000, output: 200 },
  });
  return serializeReceipt(signReceipt(runId, rec.events(), key, { clock }));
}
