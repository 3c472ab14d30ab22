/**
 * The world of the queue benchmarks (`alert-storm`, `concurrency`): a sandbox stack whose cluster holds
 * `n` copies of `clean-signal`'s alerted workload (`catalog-0` … `catalog-<n-1>` in `shop`) in its own
 * process (`bench/lib/sandbox-proc.ts`), the sandbox Slack, BullMQ's `runs` queue and the run store under a fresh Redis prefix, and worker
 * processes (`bench/lib/worker-proc.ts`, forked: a separate Node process each, as in production)
 * that run the real processors against that stack.
 *
 * The scripted diagnosis names the original workload, so the copies' runs are refused by the quality
 * gate, re-route and escalate: every run does the same work, which is what throughput needs.
 */
import { type ChildProcess, fork } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { type SandboxSlack, startSandboxSlack } from "../../sandbox/slack/index.js";
import {
  type AlertmanagerWebhook,
  loadScenario,
  type Scenario,
  ScenarioSchema,
} from "../../scenarios/schema.js";
import { resolveInPackage } from "../../src/paths.js";
import { type QueueConnection, RunsProducer } from "../../src/queue/runs.js";
import { RunStore } from "../../src/queue/store.js";
import { loadSigningKey } from "../../src/receipt/index.js";

export const REDIS: QueueConnection = {
  host: process.env.BENCH_REDIS_HOST ?? "127.0.0.1",
  port: Number(process.env.BENCH_REDIS_PORT ?? 6379),
};
export const CHANNEL = "C0BENCH";
export const BOT_TOKEN = `xoxb-bench-${randomBytes(6).toString("hex")}`;

/**
 * Node flags for the forked processes: `--import tsx`, plus V8 CPU profiles written to the folder named
 * by `BENCH_CPU_PROF` when it is set (one `.cpuprofile` per process, for Chrome DevTools or speedscope).
 */
export function childExecArgv(): string[] {
  const dir = process.env.BENCH_CPU_PROF;
  return ["--import", "tsx", ...(dir ? ["--cpu-prof", `--cpu-prof-dir=${dir}`] : [])];
}

/** `clean-signal` with `n` copies of its workload and every model (judge too) answering after `modelMs`. */
export function fleetScenario(n: number, modelMs: number): Scenario {
  const base = loadScenario(resolveInPackage("scenarios/clean-signal.yaml"));
  const original = base.cluster.workloads.find((w) => w.name === "catalog" && w.namespace === "shop");
  if (!original) throw new Error("clean-signal has no shop/catalog workload");
  const copies = Array.from({ length: n }, (_, i) => ({
    ...structuredClone(original),
    name: `catalog-${i}`,
    labels: { app: `catalog-${i}` },
  }));
  return ScenarioSchema.parse({
    ...base,
    cluster: { ...base.cluster, rollout_seconds: 0, workloads: [...base.cluster.workloads, ...copies] },
    models: {
      ...base.models,
      chain: base.models.chain.map((t) => ({ ...t, latency_ms: modelMs })),
      judge: { ...base.models.judge, latency_ms: modelMs },
    },
  });
}

/** The Alertmanager notification of group `g` (workload `catalog-<g>`), re-send `k`, with 1–3 pod alerts. */
export function groupNotification(scenario: Scenario, g: number, k: number): AlertmanagerWebhook {
  const first = scenario.alert.alerts[0]!;
  const workload = `catalog-${g}`;
  const pods = 1 + (k % 3);
  return {
    ...scenario.alert,
    groupKey: `{}/{severity="critical"}:{alertname="KubePodCrashLooping", deployment="${workload}"}`,
    groupLabels: { alertname: "KubePodCrashLooping", deployment: workload },
    commonLabels: { alertname: "KubePodCrashLooping", namespace: "shop", deployment: workload },
    alerts: Array.from({ length: pods }, (_, p) => ({
      ...first,
      status: "firing" as const,
      labels: {
        alertname: "KubePodCrashLooping",
        namespace: "shop",
        deployment: workload,
        pod: `${workload}-5d9c7b-${p}`,
        severity: "critical",
      },
      fingerprint: `${g.toString(16).padStart(4, "0")}${p}`,
    })),
  };
}

/** One forked worker process: completed/failed triage jobs it reported, and its peak RSS. */
export interface WorkerHandle {
  completed: Map<string, { ms: number; at: number }>;
  failed: Map<string, string>;
  ready: Promise<void>;
  /** Peak resident set size of the worker process so far (MB). */
  rssPeakMb(): Promise<number>;
  close(): Promise<void>;
}

/** A running fleet: stack, Slack, queue and store under `prefix`; `spawnWorker` forks a worker process. */
export interface Fleet {
  scenario: Scenario;
  slack: SandboxSlack;
  prefix: string;
  producer: RunsProducer;
  store: RunStore;
  spawnWorker(concurrency: number): WorkerHandle;
  /** Redis `used_memory` (MB) as INFO reports it (the whole server: shared, so compare deltas). */
  redisUsedMb(): Promise<number>;
  close(): Promise<void>;
}

export async function startFleet(n: number, modelMs: number): Promise<Fleet> {
  const scenario = fleetScenario(n, modelMs);
  const dir = mkdtempSync(join(tmpdir(), "backstop-bench-fleet-"));
  const keyPath = join(dir, "key.pem");
  loadSigningKey({ path: keyPath, create: true });
  const scenarioFile = join(dir, "scenario.json");
  writeFileSync(scenarioFile, JSON.stringify(scenario));
  const sandbox = fork(resolveInPackage("bench/lib/sandbox-proc.ts"), [], {
    execArgv: childExecArgv(),
    env: { ...process.env, LOG_LEVEL: "silent", BENCH_SANDBOX_SCENARIO: scenarioFile },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const urls = await new Promise<{
    infraUrl: string;
    ticketsUrl: string;
    modelsUrl: string;
    kubeconfig: string;
  }>((resolve, reject) => {
    sandbox.once(
      "message",
      (m: { type: string; infraUrl: string; ticketsUrl: string; modelsUrl: string; kubeconfig: string }) =>
        m.type === "ready" ? resolve(m) : reject(new Error(`sandbox process said ${m.type}`)),
    );
    sandbox.once("exit", (code) => reject(new Error(`the sandbox process exited with code ${code}`)));
  });
  const slack = await startSandboxSlack({
    botToken: BOT_TOKEN,
    botUserId: "U0BACKSTOP",
    botId: "B0BACKSTOP",
    users: [{ id: "U0ONCALL", name: "oncall" }],
    channels: [{ id: CHANNEL, name: "incidents" }],
  });
  const prefix = `bench-${randomBytes(4).toString("hex")}`;
  const producer = new RunsProducer({ connection: REDIS, prefix });
  const store = new RunStore({ connection: REDIS, prefix });
  const redis = new Redis({ ...REDIS, lazyConnect: true, maxRetriesPerRequest: 1 });
  const configFile = join(dir, "worker.json");
  writeFileSync(
    configFile,
    JSON.stringify({
      redis: REDIS,
      prefix,
      slackApiUrl: slack.apiUrl,
      botToken: BOT_TOKEN,
      kubeconfig: urls.kubeconfig,
      infraUrl: urls.infraUrl,
      ticketsUrl: urls.ticketsUrl,
      modelsUrl: urls.modelsUrl,
      keyPath,
      scenario,
    }),
  );
  const children: ChildProcess[] = [];

  const spawnWorker = (concurrency: number): WorkerHandle => {
    const child = fork(resolveInPackage("bench/lib/worker-proc.ts"), [], {
      execArgv: childExecArgv(),
      env: {
        ...process.env,
        LOG_LEVEL: "silent",
        BENCH_WORKER_CONFIG: configFile,
        BENCH_CONCURRENCY: String(concurrency),
      },
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    children.push(child);
    const completed = new Map<string, { ms: number; at: number }>();
    const failed = new Map<string, string>();
    const waiters = new Map<string, (v: number) => void>();
    let readyResolve: () => void = () => undefined;
    let readyReject: (e: Error) => void = () => undefined;
    const ready = new Promise<void>((res, rej) => {
      readyResolve = res;
      readyReject = rej;
    });
    child.on(
      "message",
      (m: { type: string; id?: string; ms?: number; error?: string; rss_mb?: number; req?: string }) => {
        if (m.type === "ready") readyResolve();
        else if (m.type === "completed" && m.id) completed.set(m.id, { ms: m.ms ?? 0, at: Date.now() });
        else if (m.type === "failed" && m.id) failed.set(m.id, m.error ?? "failed");
        else if (m.type === "rss" && m.req) waiters.get(m.req)?.(m.rss_mb ?? 0);
      },
    );
    child.on("exit", (code) => readyReject(new Error(`worker process exited with code ${code}`)));
    return {
      completed,
      failed,
      ready,
      rssPeakMb: () =>
        new Promise<number>((resolve) => {
          const req = randomBytes(4).toString("hex");
          waiters.set(req, resolve);
          child.send({ type: "rss", req });
        }),
      close: () =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null) return resolve();
          child.once("exit", () => resolve());
          child.send({ type: "close" });
          setTimeout(() => child.kill("SIGKILL"), 15_000).unref();
        }),
    };
  };

  return {
    scenario,
    slack,
    prefix,
    producer,
    store,
    spawnWorker,
    async redisUsedMb() {
      const info = await redis.info("memory");
      const m = /used_memory:(\d+)/.exec(info);
      return m ? Number(m[1]) / 1024 / 1024 : Number.NaN;
    },
    async close() {
      for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
      await producer.bullQueue.obliterate({ force: true }).catch(() => undefined);
      await producer.close().catch(() => undefined);
      await store.close().catch(() => undefined);
      // Drop everything under the prefix (SCAN, never KEYS).
      let cursor = "0";
      do {
        const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
        cursor = next;
        if (keys.length > 0) await redis.del(...keys);
      } while (cursor !== "0");
      await redis.quit().catch(() => undefined);
      await slack.close().catch(() => undefined);
      await new Promise<void>((resolve) => {
        if (sandbox.exitCode !== null) return resolve();
        sandbox.once("exit", () => resolve());
        sandbox.send({ type: "close" });
        setTimeout(() => sandbox.kill("SIGKILL"), 10_000).unref();
      });
    },
  };
}

/** Resolves when `done()` is true, polling every 100 ms; rejects after `ms`. */
export async function until(done: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!done()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
