import type { Worker } from "bullmq";
import { afterAll, describe, expect, it } from "vitest";
import type { AlertmanagerWebhook } from "../../scenarios/schema.js";
import { BackstopError, isBackstopError } from "../../src/errors.js";
import {
  incidentKeyForAlert,
  incidentKeyForCommand,
  type RunJobData,
  runIdFor,
} from "../../src/queue/jobs.js";
import {
  closeOnSignals,
  connectionFromUrl,
  type RunProcessors,
  RunsProducer,
  startRunsWorker,
} from "../../src/queue/runs.js";
import { dropPrefix, eventually, REDIS, uniquePrefix } from "./redis-helpers.js";

const prefixes: string[] = [];
const closers: (() => Promise<void>)[] = [];

afterAll(async () => {
  for (const c of closers.reverse()) await c().catch(() => {});
  for (const p of prefixes) await dropPrefix(p);
});

/** A fresh BullMQ prefix (so each test has its own `runs` queue) and a producer on it. */
function setup(): { prefix: string; producer: RunsProducer } {
  const prefix = uniquePrefix("runs");
  prefixes.push(prefix);
  const producer = new RunsProducer({ connection: REDIS, prefix });
  closers.push(() => producer.close());
  return { prefix, producer };
}

function worker(
  prefix: string,
  processors: Partial<RunProcessors>,
  extra: { lockDurationMs?: number; stalledIntervalMs?: number } = {},
): Worker {
  const fail = async () => {
    throw new Error("unexpected job");
  };
  const w = startRunsWorker({
    connection: REDIS,
    prefix,
    concurrency: 2,
    processors: { triage: fail, decision: fail, expire: fail, ...processors },
    ...extra,
  });
  closers.push(() => w.close(true));
  return w;
}

function webhook(fingerprint: string, deployment = "checkout"): AlertmanagerWebhook {
  return {
    version: "4",
    groupKey: '{}/{severity="critical"}:{alertname="KubeDeploymentReplicasMismatch"}',
    truncatedAlerts: 0,
    status: "firing",
    receiver: "backstop",
    groupLabels: { alertname: "KubeDeploymentReplicasMismatch" },
    commonLabels: {},
    commonAnnotations: {},
    externalURL: "http://alertmanager:9093",
    alerts: [
      {
        status: "firing",
        labels: { alertname: "KubeDeploymentReplicasMismatch", namespace: "shop", deployment },
        annotations: { summary: "checkout is not ready" },
        startsAt: "2030-01-01T00:00:00Z",
        endsAt: "0001-01-01T00:00:00Z",
        generatorURL: "",
        fingerprint,
      },
    ],
  };
}

function triageData(incidentKey: string, wh: AlertmanagerWebhook | null = null): RunJobData {
  return {
    runId: runIdFor(incidentKey),
    cluster: "default",
    trigger: wh ? "alert" : "command",
    incidentKey,
    target: { namespace: "shop", workload: "checkout" },
    onset: "2030-01-01T00:00:00.000Z",
    alert: wh,
    note: null,
    requestedBy: wh ? null : "U123",
    slack: { channel: "C0INCIDENTS", responseUrl: null },
  };
}

describe("job keys", () => {
  it("gives one alert the same ':'-free key on every re-send, another workload another key", () => {
    const a = webhook("5f1c2a");
    const key = incidentKeyForAlert(a, a.alerts[0]!, "default");
    expect(key).toMatch(/^am-default-[0-9a-f]{32}$/);
    expect(incidentKeyForAlert(webhook("5f1c2a"), webhook("5f1c2a").alerts[0]!, "default")).toBe(key);
    // Another pod's alert about the same workload (another fingerprint) is the same incident.
    const samePodGroup = webhook("77aa00");
    expect(incidentKeyForAlert(samePodGroup, samePodGroup.alerts[0]!, "default")).toBe(key);
    const b = webhook("77aa00", "cart");
    expect(incidentKeyForAlert(b, b.alerts[0]!, "default")).not.toBe(key);
    // Firing again after it resolved (a new startsAt) is a new incident.
    const refired = webhook("5f1c2a");
    refired.alerts[0]!.startsAt = "2030-01-02T00:00:00Z";
    expect(incidentKeyForAlert(refired, refired.alerts[0]!, "default")).not.toBe(key);
    // An alert that names no workload is keyed by its fingerprint.
    const bare = webhook("99bb11");
    bare.alerts[0]!.labels = { alertname: "Watchdog" };
    const bare2 = webhook("99bb12");
    bare2.alerts[0]!.labels = { alertname: "Watchdog" };
    expect(incidentKeyForAlert(bare, bare.alerts[0]!, "default")).not.toBe(
      incidentKeyForAlert(bare2, bare2.alerts[0]!, "default"),
    );
    // The same alert from another cluster is another incident, and its key names that cluster.
    const other = incidentKeyForAlert(a, a.alerts[0]!, "prod-us1");
    expect(other).toMatch(/^am-prod-us1-[0-9a-f]{32}$/);
    expect(other.slice(-32)).not.toBe(key.slice(-32));
    expect(runIdFor(key)).toBe(runIdFor(key));
  });

  it("makes command keys and run ids without ':'", () => {
    const key = incidentKeyForCommand("prod-eu1", "shop", "check:out/x", "trig:1");
    expect(key).toBe("cmd-prod-eu1-shop-check-out-x-trig-1");
    expect(runIdFor(key)).not.toContain(":");
  });

  it("parses Redis URLs and refuses others", () => {
    expect(connectionFromUrl("redis://127.0.0.1:6380/2")).toEqual({ host: "127.0.0.1", port: 6380, db: 2 });
    expect(connectionFromUrl("rediss://default:p%40ss@redis.example:6390")).toEqual({
      host: "redis.example",
      port: 6390,
      username: "default",
      password: "p@ss",
      tls: {},
    });
    expect(connectionFromUrl("redis://:secret@localhost")).toEqual({
      host: "localhost",
      port: 6379,
      password: "secret",
    });
    for (const bad of ["http://x:1", "not a url", "redis://host/db1"]) {
      expect(() => connectionFromUrl(bad)).toThrow(BackstopError);
    }
  });
});

describe("RunsProducer", () => {
  it("queues one job for re-sends of the same alert, and two for different workloads", async () => {
    const { producer } = setup();
    const wh = webhook("fp-one");
    const key = incidentKeyForAlert(wh, wh.alerts[0]!, "default");
    expect(await producer.enqueueRun(triageData(key, wh))).toEqual({ jobId: key, deduplicated: false });
    expect(await producer.enqueueRun(triageData(key, wh))).toEqual({ jobId: key, deduplicated: true });
    const other = webhook("fp-two", "cart");
    const key2 = incidentKeyForAlert(other, other.alerts[0]!, "default");
    expect((await producer.enqueueRun(triageData(key2, other))).deduplicated).toBe(false);
    const counts = await producer.bullQueue.getJobCounts(
      "waiting",
      "active",
      "delayed",
      "completed",
      "failed",
    );
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(2);
    const job = await producer.bullQueue.getJob(key);
    expect(job?.opts.attempts).toBe(3);
    expect(job?.opts.backoff).toEqual({ type: "exponential", delay: 1000 });
  });

  it("refuses invalid job data and ids with ':' before touching Redis", async () => {
    const { producer } = setup();
    await expect(
      producer.enqueueRun({ ...triageData("cmd-x"), target: { namespace: "", workload: "w" } }),
    ).rejects.toSatisfy((e) => isBackstopError(e, "input.invalid_job"));
    await expect(producer.enqueueRun(triageData("am:bad"))).rejects.toSatisfy((e) =>
      isBackstopError(e, "input.invalid_job"),
    );
    await expect(producer.scheduleExpiry("run:x", 100)).rejects.toSatisfy((e) =>
      isBackstopError(e, "input.invalid_job"),
    );
    await expect(producer.scheduleExpiry("run-x", -1)).rejects.toSatisfy((e) =>
      isBackstopError(e, "input.invalid_job"),
    );
  });

  it("fails fast with queue.unavailable when Redis is unreachable", async () => {
    const producer = new RunsProducer({ connection: { host: "127.0.0.1", port: 1 }, timeoutMs: 500 });
    closers.push(() => producer.close());
    await expect(producer.enqueueRun(triageData("cmd-down"))).rejects.toSatisfy((e) =>
      isBackstopError(e, "queue.unavailable"),
    );
    await expect(
      producer.enqueueDecision({
        runId: "run-x",
        decision: "approved",
        by: "U1",
        at: "2030-01-01T00:00:00Z",
      }),
    ).rejects.toSatisfy((e) => isBackstopError(e, "queue.unavailable"));
  });
});

describe("runs worker", () => {
  it("runs a triage job and shows setStage as the job's progress", async () => {
    const { prefix, producer } = setup();
    const seen: { id: string; attemptsMade: number; runId: string }[] = [];
    worker(prefix, {
      triage: async (data, job) => {
        seen.push({ id: job.id, attemptsMade: job.attemptsMade, runId: data.runId });
        await job.setStage("signals.gathered");
        await job.setStage("diagnosis.parsed");
        return "ok";
      },
    });
    await producer.enqueueRun(triageData("cmd-shop-checkout-1"));
    const job = await eventually(async () => {
      const state = await producer.bullQueue.getJobState("cmd-shop-checkout-1");
      return state === "completed" ? await producer.bullQueue.getJob("cmd-shop-checkout-1") : undefined;
    });
    expect(job.progress).toEqual({ stage: "diagnosis.parsed" });
    expect(job.returnvalue).toBe("ok");
    expect(seen).toEqual([{ id: "cmd-shop-checkout-1", attemptsMade: 0, runId: "run-cmd-shop-checkout-1" }]);
  });

  it("fails invalid job data at once, without retries (UnrecoverableError)", async () => {
    const { prefix, producer } = setup();
    let calls = 0;
    worker(prefix, {
      triage: async () => {
        calls += 1;
      },
    });
    await producer.bullQueue.add(
      "triage",
      { runId: "run-x", trigger: "pager" },
      { jobId: "bad-1", attempts: 3 },
    );
    await producer.bullQueue.add("reboot", { runId: "run-x" }, { jobId: "bad-2", attempts: 3 });
    for (const id of ["bad-1", "bad-2"]) {
      const job = await eventually(async () => {
        const state = await producer.bullQueue.getJobState(id);
        return state === "failed" ? await producer.bullQueue.getJob(id) : undefined;
      });
      expect(job.attemptsMade).toBe(1);
    }
    expect(calls).toBe(0);
  });

  it("does not retry a processor's input.* BackstopError", async () => {
    const { prefix, producer } = setup();
    let calls = 0;
    worker(prefix, {
      triage: async () => {
        calls += 1;
        throw new BackstopError("input.invalid_incident", "no such workload");
      },
    });
    await producer.enqueueRun(triageData("cmd-perm"));
    const job = await eventually(async () => {
      const state = await producer.bullQueue.getJobState("cmd-perm");
      return state === "failed" ? await producer.bullQueue.getJob("cmd-perm") : undefined;
    });
    expect(job.failedReason).toContain("no such workload");
    expect(calls).toBe(1);
  });

  it("retries a transient error with the same run id, and the retry sees attemptsMade", async () => {
    const { prefix, producer } = setup();
    const attempts: { attemptsMade: number; runId: string }[] = [];
    worker(prefix, {
      triage: async (data, job) => {
        attempts.push({ attemptsMade: job.attemptsMade, runId: data.runId });
        if (attempts.length === 1) throw new Error("ECONNRESET from the model gateway");
        return "recovered";
      },
    });
    await producer.enqueueRun(triageData("cmd-transient"));
    const job = await eventually(async () => {
      const state = await producer.bullQueue.getJobState("cmd-transient");
      return state === "completed" ? await producer.bullQueue.getJob("cmd-transient") : undefined;
    });
    expect(job.returnvalue).toBe("recovered");
    expect(attempts).toEqual([
      { attemptsMade: 0, runId: "run-cmd-transient" },
      { attemptsMade: 1, runId: "run-cmd-transient" },
    ]);
  });

  it("recovers a job whose worker died mid-run (stalled) and completes it on another worker", async () => {
    const { prefix, producer } = setup();
    let started!: () => void;
    const startedP = new Promise<void>((r) => {
      started = r;
    });
    const first = worker(
      prefix,
      {
        triage: async (_d, job) => {
          await job.setStage("signals.gathered");
          started();
          return new Promise(() => {}); // hangs: this worker "dies" here
        },
      },
      { lockDurationMs: 800, stalledIntervalMs: 300 },
    );
    await producer.enqueueRun(triageData("cmd-stall"));
    await startedP;
    await first.close(true);
    const seen: number[] = [];
    worker(
      prefix,
      {
        triage: async (_d, job) => {
          seen.push(job.attemptsMade);
          return "second worker";
        },
      },
      { lockDurationMs: 800, stalledIntervalMs: 300 },
    );
    const job = await eventually(async () => {
      const state = await producer.bullQueue.getJobState("cmd-stall");
      return state === "completed" ? await producer.bullQueue.getJob("cmd-stall") : undefined;
    }, 15_000);
    expect(job.returnvalue).toBe("second worker");
    expect(seen).toEqual([1]);
  });
});

describe("approval expiry", () => {
  it("runs a delayed expire job after its delay", async () => {
    const { prefix, producer } = setup();
    const expired: string[] = [];
    worker(prefix, {
      expire: async (d) => {
        expired.push(d.runId);
      },
    });
    await producer.scheduleExpiry("run-e1", 200);
    expect(await producer.bullQueue.getJobState("expire-run-e1")).toBe("delayed");
    await eventually(async () => (expired.length > 0 ? true : undefined));
    expect(expired).toEqual(["run-e1"]);
  });

  it("cancelExpiry removes the delayed job so it never runs", async () => {
    const { prefix, producer } = setup();
    const expired: string[] = [];
    await producer.scheduleExpiry("run-e2", 300);
    await producer.cancelExpiry("run-e2");
    expect(await producer.bullQueue.getJob("expire-run-e2")).toBeUndefined();
    // A marker job scheduled later than the cancelled one proves the worker was running past its time.
    await producer.scheduleExpiry("run-marker", 500);
    worker(prefix, {
      expire: async (d) => {
        expired.push(d.runId);
      },
    });
    await eventually(async () => (expired.includes("run-marker") ? true : undefined));
    expect(expired).toEqual(["run-marker"]);
  });

  it("queues one decision job per run", async () => {
    const { prefix, producer } = setup();
    const decisions: string[] = [];
    const d = { runId: "run-d1", decision: "approved" as const, by: "U1", at: "2030-01-01T00:00:00Z" };
    await producer.enqueueDecision(d);
    await producer.enqueueDecision({ ...d, decision: "rejected", by: "U2" });
    worker(prefix, {
      decision: async (x) => {
        decisions.push(`${x.decision}:${x.by}`);
      },
    });
    await eventually(async () => (decisions.length > 0 ? true : undefined));
    const job = await eventually(async () => {
      const state = await producer.bullQueue.getJobState("decision-run-d1");
      return state === "completed" ? await producer.bullQueue.getJob("decision-run-d1") : undefined;
    });
    expect(job.data.decision).toBe("approved");
    expect(decisions).toEqual(["approved:U1"]);
  });
});

describe("shutdown", () => {
  it("closes the worker (waiting for its running job) when the signal arrives, once", async () => {
    const { prefix, producer } = setup();
    let finish!: () => void;
    let started!: () => void;
    const startedP = new Promise<void>((r) => {
      started = r;
    });
    const w = worker(prefix, {
      triage: () => {
        started();
        return new Promise((r) => {
          finish = () => r("finished");
        });
      },
    });
    await producer.enqueueRun(triageData("cmd-shutdown"));
    await startedP;
    const closed = new Promise<void>((resolve) => {
      const off = closeOnSignals([w], {
        signals: ["SIGUSR2"],
        onClosed: () => {
          off();
          resolve();
        },
      });
    });
    process.emit("SIGUSR2", "SIGUSR2");
    process.emit("SIGUSR2", "SIGUSR2");
    setTimeout(() => finish(), 100);
    await closed;
    expect(w.closing).toBeTruthy();
    expect(await producer.bullQueue.getJobState("cmd-shutdown")).toBe("completed");
    expect(process.listenerCount("SIGUSR2")).toBe(0);
  });
});
