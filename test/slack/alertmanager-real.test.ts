import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import type { Scenario } from "../../scenarios/schema.js";
import type { IncidentRecord } from "../../src/queue/store.js";
import { type BackstopApp, createBackstopApp } from "../../src/slack/app.js";
import { type BotWorld, namedScenario, startBotWorld } from "../fixtures/bot-world.js";
import { freePort, until } from "../fixtures/live.js";
import { ALERT_CHANNEL, ALERT_TOKEN, type Bot } from "./app-fixture.js";

/**
 * Debian's real `prometheus-alertmanager` in front of the real bot (Bolt app, real Redis, real BullMQ
 * worker, sandbox world): alerts posted to Alertmanager's API reach the bot through its webhook receiver
 * with bearer credentials; one run per group; the resolved notification lands in the incident's thread;
 * a notification that failed with a 5xx while the bot was down is retried and makes exactly one run.
 */

function findAlertmanager(): string | undefined {
  for (const candidate of [process.env.ALERTMANAGER_BIN, "prometheus-alertmanager", "alertmanager"]) {
    if (!candidate) continue;
    try {
      execFileSync(candidate, ["--version"], { stdio: "ignore" });
      return candidate;
    } catch {
      // next candidate
    }
  }
  return undefined;
}

const amBin = findAlertmanager();
if (!amBin && process.env.CI === "true") {
  throw new Error(
    "prometheus-alertmanager is not installed: .ci/run must install it (apt-get install prometheus-alertmanager)",
  );
}
if (!amBin)
  console.warn("alertmanager-real.test.ts skipped: install Debian's prometheus-alertmanager to run it");

/** Polls `pick` every 150 ms for up to `ms` (default 60 s): see {@link until}. */
const waitFor = <T>(what: string, pick: () => Promise<T | null | undefined | false>, ms = 60_000) =>
  until(what, pick, ms, 150);

interface AmAlert {
  labels: Record<string, string>;
  annotations?: Record<string, string>;
  startsAt?: string;
  endsAt?: string;
  generatorURL?: string;
}

describe.skipIf(!amBin)("the real Alertmanager in front of the bot", () => {
  let world: BotWorld;
  let bot: Bot;
  let am: ChildProcess;
  let amUrl: string;
  let dir: string;
  let botPort: number;
  let restarted: BackstopApp | null = null;
  let amLog = "";
  let scenario: Scenario;

  beforeAll(async () => {
    scenario = namedScenario("clean-signal");
    botPort = await freePort();
    dir = mkdtempSync(join(tmpdir(), "backstop-am-"));
    world = await startBotWorld({ scenario, bot: { overrides: { port: botPort } }, dir });
    bot = world.bot;
    world.startWorker({ concurrency: 2, lockDurationMs: 30_000, stalledIntervalMs: 500 });

    const config = {
      route: {
        receiver: "backstop",
        group_by: ["alertname", "namespace"],
        group_wait: "1s",
        group_interval: "2s",
        repeat_interval: "1h",
      },
      receivers: [
        {
          name: "backstop",
          webhook_configs: [
            {
              url: `http://127.0.0.1:${botPort}/alerts/alertmanager`,
              send_resolved: true,
              http_config: { authorization: { type: "Bearer", credentials: ALERT_TOKEN } },
            },
          ],
        },
      ],
    };
    writeFileSync(join(dir, "alertmanager.yml"), stringify(config));
    mkdirSync(join(dir, "data"));
    const amPort = await freePort();
    amUrl = `http://127.0.0.1:${amPort}`;
    am = spawn(
      amBin!,
      [
        `--config.file=${join(dir, "alertmanager.yml")}`,
        `--storage.path=${join(dir, "data")}`,
        `--web.listen-address=127.0.0.1:${amPort}`,
        "--cluster.listen-address=",
        "--log.level=debug",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    am.stderr?.on("data", (b: Buffer) => {
      amLog = (amLog + b.toString()).slice(-20_000);
    });
    await waitFor(
      "alertmanager ready",
      async () => (await fetch(`${amUrl}/-/ready`).catch(() => null))?.ok ?? false,
      30_000,
    );
  }, 90_000);

  afterAll(async () => {
    am?.kill("SIGTERM");
    await restarted?.stop().catch(() => undefined);
    await world?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const post = async (alerts: AmAlert[]) => {
    const res = await fetch(`${amUrl}/api/v2/alerts`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(alerts),
    });
    expect(res.status, await res.text()).toBe(200);
  };

  /** Alertmanager's own counters: webhook requests sent, and those that failed. */
  const amRequests = async (): Promise<{ total: number; failed: number }> => {
    const text = await (await fetch(`${amUrl}/metrics`)).text();
    const read = (name: string) =>
      Number(new RegExp(`^${name}\\{integration="webhook"\\} (\\d+)`, "m").exec(text)?.[1] ?? "0");
    return {
      total: read("alertmanager_notification_requests_total"),
      failed: read("alertmanager_notification_requests_failed_total"),
    };
  };
  const delivered = async () => {
    const r = await amRequests();
    return r.total - r.failed;
  };
  const incidentsFor = async (alertname: string): Promise<IncidentRecord[]> =>
    (await bot.store.recentIncidents(100)).filter((i) => i.alertname === alertname);
  /** Runs queued for the worker (BullMQ jobs other than decisions and expiries), seen as soon as the bot answers. */
  const runJobs = async () => (await bot.jobs()).filter((j) => j.name !== "decision" && j.name !== "expire");
  /** Incident threads in the alert channel: one root message per run. */
  const threads = () => bot.slack.messages(ALERT_CHANNEL).filter((m) => m.thread_ts === null);

  const podAlert = (alertname: string, pod: string, patch: Partial<AmAlert> = {}): AmAlert => {
    const labels = scenario.alert.alerts[0]!.labels;
    return {
      labels: {
        alertname,
        namespace: labels.namespace!,
        deployment: labels.deployment!,
        container: labels.container ?? labels.deployment!,
        pod,
        severity: "warning",
      },
      annotations: {
        summary: "Pod is crash looping.",
        description: `Pod ${pod} is in waiting state (CrashLoopBackOff).`,
      },
      generatorURL: "http://prometheus.test/graph",
      ...patch,
    };
  };

  it("one run per group; a changed group re-sent is the same run; the resolution lands in the thread", async () => {
    const name = "KubePodCrashLooping";
    const startsAt = new Date(Date.now() - 10 * 60_000).toISOString();
    const pods = ["catalog-84d6b9f7c5-aaaaa", "catalog-84d6b9f7c5-bbbbb"];
    await post(pods.map((p) => podAlert(name, p, { startsAt })));

    const incident = await waitFor("the run to finish", async () => {
      const [i] = await incidentsFor(name);
      const done = ["awaiting_approval", "resolved", "escalated", "rejected", "failed"];
      return i && done.includes(i.status) && (await bot.store.getThread(i.key)) ? i : null;
    });
    expect(await incidentsFor(name)).toHaveLength(1);

    // A third pod alert changes the group: Alertmanager sends the whole group again.
    const before = await delivered();
    await post([...pods, "catalog-84d6b9f7c5-ccccc"].map((p) => podAlert(name, p, { startsAt })));
    await waitFor("the re-sent group to reach the bot", async () => (await delivered()) > before);
    expect(await incidentsFor(name)).toHaveLength(1);
    expect(threads()).toHaveLength(1);
    expect(await runJobs()).toHaveLength(1);

    // Resolve every alert of the group: Alertmanager sends the resolved notification (send_resolved).
    const thread = (await bot.store.getThread(incident.key))!;
    const seen = new Set(bot.slack.thread(thread.channel, thread.ts).map((m) => m.ts));
    const endsAt = new Date(Date.now() - 1000).toISOString();
    await post([...pods, "catalog-84d6b9f7c5-ccccc"].map((p) => podAlert(name, p, { startsAt, endsAt })));
    const reply = await waitFor("the resolved reply in the thread", async () =>
      bot.slack
        .thread(thread.channel, thread.ts)
        .find((m) => !seen.has(m.ts) && /alertmanager/i.test(m.text) && /resolved/i.test(m.text)),
    );
    expect(reply.thread_ts).toBe(thread.ts);
    expect((await bot.store.getIncident(incident.key))?.resolvedAt).toBeTruthy();
    expect(await incidentsFor(name)).toHaveLength(1);
    expect(threads()).toHaveLength(1);
  }, 120_000);

  it("a notification that got a 5xx while the bot was down is retried once it is back, and makes one run", async () => {
    const name = "KubeDeploymentReplicasMismatch";
    const startsAt = new Date(Date.now() - 5 * 60_000).toISOString();
    // The bot stops; its port answers 503 (as the load balancer in front of a stopped bot would).
    await bot.app.stop();
    let refused = 0;
    const down: Server = createServer((req, res) => {
      req.resume();
      refused++;
      res.writeHead(503, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: "bot down" }));
    });
    await new Promise<void>((r) => down.listen(botPort, "127.0.0.1", () => r()));
    const failedBefore = (await amRequests()).failed;
    await post([podAlert(name, "catalog-84d6b9f7c5-aaaaa", { startsAt })]);
    await waitFor(
      "Alertmanager to meet the 503",
      async () => refused > 0 && (await amRequests()).failed > failedBefore,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\nalertmanager log:\n${amLog}`);
    });
    expect(await incidentsFor(name)).toHaveLength(0);

    // The bot starts again on the same port, with the same queue and store.
    down.closeAllConnections();
    await new Promise<void>((r) => down.close(() => r()));
    restarted = createBackstopApp(bot.settings, { producer: bot.producer, store: bot.store });
    await restarted.start();

    const [incident] = await waitFor("the retried notification to start a run", async () => {
      const list = await incidentsFor(name);
      return list.length > 0 ? list : null;
    });
    expect(incident!.workload).toBe(scenario.alert.alerts[0]!.labels.deployment);

    // A further notification of the same group (one more pod) still makes no second run.
    const before = await delivered();
    await post(
      ["catalog-84d6b9f7c5-aaaaa", "catalog-84d6b9f7c5-bbbbb"].map((p) => podAlert(name, p, { startsAt })),
    );
    await waitFor("the next notification to reach the bot", async () => (await delivered()) > before);
    expect(await incidentsFor(name)).toHaveLength(1);
    await waitFor("the run's thread", async () => threads().length === 2);
    expect(threads()).toHaveLength(2); // the first test's incident and this one
    expect(await runJobs()).toHaveLength(2);
  }, 120_000);
});
