/**
 * The world of the queue benchmarks (`alert-storm`, `concurrency`): a sandbox stack whose cluster holds
 * `n` copies of `clean-signal`'s alerted workload (`catalog-0` … `catalog-<n-1>` in `shop`) and the
 * sandbox Slack, in their own process (`bench/lib/sandbox-proc.ts`: remote from the bot and the workers,
 * as Slack is in production), BullMQ's `runs` queue and the run store under a fresh Redis prefix, and worker
 * processes (`bench/lib/worker-proc.ts`, forked: a separate Node process each, as in production)
 * that run the real processors against that stack.
 *
 * The scripted diagnosis names the original workload, so the copies' runs are refused by the quality
 * gate, re-route and escalate: every run does the same work, which is what throughput needs.
 */
import { type ChildProcess, fork, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import type { SandboxSlackOptions } from "../../sandbox/slack/index.js";
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
import { procCpuMs } from "./common.js";

export const REDIS: QueueConnection = {
  host: process.env.BENCH_REDIS_HOST ?? "127.0.0.1",
  port: Number(process.env.BENCH_REDIS_PORT ?? 6379),
};
export const CHANNEL = "C0BENCH";
export const BOT_TOKEN = `xoxb-bench-${randomBytes(6).toString("hex")}`;

/**
 * How the forked processes run: with `BENCH_DIST=1`, the compiled `dist/bench/lib/<name>.js` under plain
 * node, as production runs `dist/` (`npm run build` makes it; `npm run bench` builds first); otherwise
 * `bench/lib/<name>.ts` under `--import tsx`, which adds its compiler and source maps to every process's
 * memory. `BENCH_CPU_PROF=<dir>` adds a V8 CPU profile per process (`.cpuprofile`, for Chrome DevTools).
 * @throws Error when `BENCH_DIST=1` and the compiled file is missing.
 */
export function childModule(name: "worker-proc" | "sandbox-proc" | "storm-client"): {
  file: string;
  execArgv: string[];
} {
  const dir = process.env.BENCH_CPU_PROF;
  const prof = dir ? ["--cpu-prof", `--cpu-prof-dir=${dir}`] : [];
  if (process.env.BENCH_DIST === "1") {
    const file = resolveInPackage("dist", "bench", "lib", `${name}.js`);
    if (!existsSync(file))
      throw new Error(`BENCH_DIST=1 but ${file} is missing: run \`npm run build\` first`);
    return { file, execArgv: prof };
  }
  return { file: resolveInPackage("bench", "lib", `${name}.ts`), execArgv: ["--import", "tsx", ...prof] };
}

/**
 * Starts Backstop's own `backstop mcp-infra` command in its own process, as production deploys it
 * (`dist/src/cli/main.js` with `BENCH_DIST=1`, else `src/cli/main.ts` under tsx), reading the sandbox
 * cluster through `kubeconfigFile` (the read-only identity) and its Prometheus at `prometheusUrl`.
 * Resolves with its MCP URL once it prints it; rejects when it exits first.
 */
export async function startMcpInfraProcess(
  kubeconfigFile: string,
  prometheusUrl: string,
): Promise<{ url: string; child: ChildProcess }> {
  const dir = process.env.BENCH_CPU_PROF;
  const prof = dir ? ["--cpu-prof", `--cpu-prof-dir=${dir}`] : [];
  const entry =
    process.env.BENCH_DIST === "1"
      ? [...prof, resolveInPackage("dist", "src", "cli", "main.js")]
      : ["--import", "tsx", ...prof, resolveInPackage("src", "cli", "main.ts")];
  const child = spawn(process.execPath, [...entry, "mcp-infra", "--port", "0"], {
    env: {
      ...process.env,
      LOG_LEVEL: "silent",
      KUBECONFIG: kubeconfigFile,
      BACKSTOP_PROMETHEUS_URL: prometheusUrl,
      BACKSTOP_CLUSTERS: "",
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      out += chunk.toString("utf8");
      const m = /listening on (http:\/\/\S+\/mcp)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once("exit", (code) =>
      reject(new Error(`backstop mcp-infra exited with code ${code}: ${out.trim()}`)),
    );
  });
  return { url, child };
}

/** `dist` when the forked processes run the compiled bench (`BENCH_DIST=1`), else `tsx`. */
export const CHILD_RUNTIME: "dist" | "tsx" = process.env.BENCH_DIST === "1" ? "dist" : "tsx";

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

/** What the sandbox process reads (`BENCH_SANDBOX_CONFIG` names the JSON file): the stack's scenario and the sandbox Slack's options. */
export interface SandboxConfig {
  scenario: Scenario;
  slack: SandboxSlackOptions;
}

/** What the sandbox process reports when it is ready (`bench/lib/sandbox-proc.ts`): its URLs and kubeconfig YAML. */
export interface SandboxReady {
  /** Base URL of the sandbox Slack's Web API (`…/api/`), for the bot's and the workers' Slack clients. */
  slackApiUrl: string;
  infraUrl: string;
  ticketsUrl: string;
  modelsUrl: string;
  /** The writer identity's kubeconfig. */
  kubeconfig: string;
  readonlyKubeconfig: string;
  /** Base URL of the sandbox cluster's Prometheus API. */
  prometheusUrl: string;
}

/** One forked worker process: completed/failed triage jobs it reported, and its peak RSS. */
export interface WorkerHandle {
  /** Per completed triage job: processing ms, ms waited in the queue before a worker took it, and when it was reported (epoch ms). */
  completed: Map<string, { ms: number; waitedMs: number; at: number }>;
  failed: Map<string, string>;
  ready: Promise<void>;
  /** Peak resident set size of the worker process so far (MB). */
  rssPeakMb(): Promise<number>;
  /** CPU time (user + system) the worker process has used so far, ms. */
  cpuMs(): Promise<number>;
  close(): Promise<void>;
}

/** A running fleet: stack, Slack, queue and store under `prefix`; `spawnWorker` forks a worker process. */
export interface Fleet {
  scenario: Scenario;
  /** Base URL of the sandbox Slack's Web API (in the sandbox process), for a bot's `slackApiUrl`. */
  slackApiUrl: string;
  prefix: string;
  producer: RunsProducer;
  store: RunStore;
  spawnWorker(concurrency: number): WorkerHandle;
  /** CPU time (user + system) the sandbox process (cluster, model provider, tickets, Slack) has used so far, ms. */
  sandboxCpuMs(): Promise<number>;
  /** CPU time (user + system) the mcp-infra process has used so far, ms (NaN without /proc). */
  infraCpuMs(): number;
  /** Redis `used_memory` (MB) as INFO reports it (the whole server: shared, so compare deltas). */
  redisUsedMb(): Promise<number>;
  /** CPU time (user + system, ms) the Redis server has used so far, from INFO `used_cpu_*` (shared: compare deltas). */
  redisCpuMs(): Promise<number>;
  close(): Promise<void>;
}

export async function startFleet(n: number, modelMs: number): Promise<Fleet> {
  const scenario = fleetScenario(n, modelMs);
  const dir = mkdtempSync(join(tmpdir(), "backstop-bench-fleet-"));
  const keyPath = join(dir, "key.pem");
  loadSigningKey({ path: keyPath, create: true });
  const sandboxFile = join(dir, "sandbox.json");
  const sandboxConfig: SandboxConfig = {
    scenario,
    slack: {
      botToken: BOT_TOKEN,
      botUserId: "U0BACKSTOP",
      botId: "B0BACKSTOP",
      users: [{ id: "U0ONCALL", name: "oncall" }],
      channels: [{ id: CHANNEL, name: "incidents" }],
    },
  };
  writeFileSync(sandboxFile, JSON.stringify(sandboxConfig));
  const sandboxModule = childModule("sandbox-proc");
  const sandbox = fork(sandboxModule.file, [], {
    execArgv: sandboxModule.execArgv,
    env: { ...process.env, LOG_LEVEL: "silent", BENCH_SANDBOX_CONFIG: sandboxFile },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const urls = await new Promise<SandboxReady>((resolve, reject) => {
    sandbox.once("message", (m: SandboxReady & { type: string }) =>
      m.type === "ready" ? resolve(m) : reject(new Error(`sandbox process said ${m.type}`)),
    );
    sandbox.once("exit", (code) => reject(new Error(`the sandbox process exited with code ${code}`)));
  });
  // mcp-infra in its own process, as deployed (the sandbox process's own copy stays idle).
  const readonlyFile = join(dir, "readonly.kubeconfig");
  writeFileSync(readonlyFile, urls.readonlyKubeconfig);
  const infra = await startMcpInfraProcess(readonlyFile, urls.prometheusUrl);
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
      slackApiUrl: urls.slackApiUrl,
      botToken: BOT_TOKEN,
      kubeconfig: urls.kubeconfig,
      infraUrl: infra.url,
      ticketsUrl: urls.ticketsUrl,
      modelsUrl: urls.modelsUrl,
      keyPath,
      scenario,
    }),
  );
  const children: ChildProcess[] = [infra.child];

  const spawnWorker = (concurrency: number): WorkerHandle => {
    const workerModule = childModule("worker-proc");
    const child = fork(workerModule.file, [], {
      execArgv: workerModule.execArgv,
      env: {
        ...process.env,
        LOG_LEVEL: "silent",
        BENCH_WORKER_CONFIG: configFile,
        BENCH_CONCURRENCY: String(concurrency),
      },
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    children.push(child);
    const completed = new Map<string, { ms: number; waitedMs: number; at: number }>();
    const failed = new Map<string, string>();
    const waiters = new Map<string, (v: { rss_mb?: number; cpu_ms?: number }) => void>();
    const stats = () =>
      new Promise<{ rss_mb?: number; cpu_ms?: number }>((resolve) => {
        const req = randomBytes(4).toString("hex");
        waiters.set(req, (v) => {
          waiters.delete(req);
          resolve(v);
        });
        child.send({ type: "stats", req });
      });
    let readyResolve: () => void = () => undefined;
    let readyReject: (e: Error) => void = () => undefined;
    const ready = new Promise<void>((res, rej) => {
      readyResolve = res;
      readyReject = rej;
    });
    child.on(
      "message",
      (m: {
        type: string;
        id?: string;
        ms?: number;
        waited_ms?: number;
        error?: string;
        rss_mb?: number;
        cpu_ms?: number;
        req?: string;
      }) => {
        if (m.type === "ready") readyResolve();
        else if (m.type === "completed" && m.id)
          completed.set(m.id, { ms: m.ms ?? 0, waitedMs: m.waited_ms ?? 0, at: Date.now() });
        else if (m.type === "failed" && m.id) failed.set(m.id, m.error ?? "failed");
        else if (m.type === "stats" && m.req) waiters.get(m.req)?.(m);
      },
    );
    child.on("exit", (code) => readyReject(new Error(`worker process exited with code ${code}`)));
    return {
      completed,
      failed,
      ready,
      rssPeakMb: async () => (await stats()).rss_mb ?? 0,
      cpuMs: async () => (await stats()).cpu_ms ?? 0,
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
    slackApiUrl: urls.slackApiUrl,
    prefix,
    producer,
    store,
    spawnWorker,
    infraCpuMs: () => procCpuMs(infra.child.pid),
    sandboxCpuMs: () =>
      new Promise<number>((resolve) => {
        const req = randomBytes(4).toString("hex");
        const onMessage = (m: { type: string; req?: string; cpu_ms?: number }) => {
          if (m.type !== "stats" || m.req !== req) return;
          sandbox.off("message", onMessage);
          resolve(m.cpu_ms ?? 0);
        };
        sandbox.on("message", onMessage);
        sandbox.send({ type: "stats", req });
      }),
    async redisUsedMb() {
      const info = await redis.info("memory");
      const m = /used_memory:(\d+)/.exec(info);
      return m ? Number(m[1]) / 1024 / 1024 : Number.NaN;
    },
    async redisCpuMs() {
      const info = await redis.info("cpu");
      const field = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? Number.NaN);
      return (field("used_cpu_user") + field("used_cpu_sys")) * 1000;
    },
    async close() {
      // mcp-infra stops on SIGTERM (and writes its CPU profile when asked to); the rest is killed.
      await stopChild(infra.child, () => infra.child.kill("SIGTERM"), 5_000);
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
      await stopChild(sandbox, () => sandbox.send({ type: "close" }), 10_000);
    },
  };
}

/**
 * Asks `child` to stop (`ask`: a signal or an IPC message) and resolves once it has exited; after
 * `timeoutMs` it is killed (SIGKILL). Resolves at once when it already exited.
 */
export function stopChild(child: ChildProcess, ask: () => void, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once("exit", () => resolve());
    ask();
    setTimeout(() => child.kill("SIGKILL"), timeoutMs).unref();
  });
}

/** Resolves when `done()` is true, polling every 100 ms; rejects after `ms`. */
export async function until(done: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!done()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
