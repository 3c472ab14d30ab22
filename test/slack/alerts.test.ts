import { WebClient } from "@slack/web-api";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { AlertmanagerWebhook } from "../../scenarios/schema.js";
import { incidentKeyForAlert } from "../../src/queue/jobs.js";
import { RunsProducer } from "../../src/queue/runs.js";
import { bearerMatches } from "../../src/slack/alerts.js";
import { ALERT_CHANNEL, ALERT_TOKEN, BOT_TOKEN, type Bot, incident, startBot } from "./app-fixture.js";

function notification(patch: Partial<AlertmanagerWebhook> = {}): AlertmanagerWebhook {
  return {
    version: "4",
    groupKey: '{}:{alertname="KubePodCrashLooping"}',
    truncatedAlerts: 0,
    status: "firing",
    receiver: "backstop",
    groupLabels: { alertname: "KubePodCrashLooping" },
    commonLabels: { alertname: "KubePodCrashLooping", namespace: "shop", severity: "critical" },
    commonAnnotations: {},
    externalURL: "http://alertmanager:9093",
    alerts: [
      {
        status: "firing",
        labels: {
          alertname: "KubePodCrashLooping",
          namespace: "shop",
          pod: "checkout-7d9f8b6c5d-x2x9k",
          severity: "critical",
        },
        annotations: { summary: "checkout is crash looping" },
        startsAt: "2026-11-21T11:50:00Z",
        endsAt: "0001-01-01T00:00:00Z",
        generatorURL: "http://prometheus:9090/graph",
        fingerprint: "c0ffee0000000001",
      },
    ],
    ...patch,
  };
}

describe("POST /alerts/alertmanager", () => {
  let bot: Bot;
  beforeAll(async () => {
    bot = await startBot();
  });
  afterAll(async () => {
    await bot.close();
  });

  const post = (body: unknown, auth: string | null = `Bearer ${ALERT_TOKEN}`, url = bot.alertsUrl) =>
    fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", ...(auth ? { authorization: auth } : {}) },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });

  it("refuses a missing or wrong bearer token with 401 and queues nothing", async () => {
    for (const auth of [null, "Bearer wrong-token-0123456789", `Basic ${ALERT_TOKEN}`, ALERT_TOKEN]) {
      const res = await post(notification(), auth);
      expect(res.status).toBe(401);
      expect(((await res.json()) as { error: string }).error).toContain("bearer");
    }
    expect(await bot.jobs()).toHaveLength(0);
  });

  it("the same notification three times makes one run", async () => {
    const bodies = [];
    for (let i = 0; i < 3; i++) {
      const res = await post(notification());
      expect(res.status).toBe(202);
      bodies.push(
        (await res.json()) as { queued: { incidentKey: string; runId: string; deduplicated: boolean }[] },
      );
    }
    const key = incidentKeyForAlert(notification(), notification().alerts[0]!, "default");
    expect(bodies.map((b) => b.queued.map((q) => q.deduplicated))).toEqual([[false], [true], [true]]);
    expect(bodies.every((b) => b.queued[0]?.incidentKey === key && b.queued[0]?.runId === `run-${key}`)).toBe(
      true,
    );
    const jobs = await bot.jobs();
    expect(jobs).toHaveLength(1);
    expect(jobs[0]?.id).toBe(key);
    expect(jobs[0]?.data).toMatchObject({
      trigger: "alert",
      incidentKey: key,
      target: { namespace: "shop", workload: "checkout" },
      onset: "2026-11-21T11:50:00Z",
      requestedBy: null,
      slack: { channel: ALERT_CHANNEL, responseUrl: null },
      alert: { groupKey: notification().groupKey, alerts: [{ fingerprint: "c0ffee0000000001" }] },
    });
  });

  it("a new fingerprint in the same group is a new run; alerts naming no workload are ignored", async () => {
    const before = (await bot.jobs()).length;
    const res = await post(
      notification({
        alerts: [
          {
            ...notification().alerts[0]!,
            fingerprint: "c0ffee0000000002",
            labels: { namespace: "shop", deployment: "cart" },
          },
          {
            ...notification().alerts[0]!,
            fingerprint: "c0ffee0000000003",
            labels: { alertname: "Watchdog" },
          },
        ],
      }),
    );
    expect(res.status).toBe(202);
    const body = (await res.json()) as {
      queued: unknown[];
      ignored: { fingerprint: string; alertname: string }[];
    };
    expect(body.queued).toHaveLength(1);
    expect(body.ignored).toEqual([
      expect.objectContaining({ fingerprint: "c0ffee0000000003", alertname: "Watchdog" }),
    ]);
    expect((await bot.jobs()).length).toBe(before + 1);
  });

  it("a malformed notification is a 400 naming the fields, and nothing is queued", async () => {
    const before = (await bot.jobs()).length;
    const bad = notification();
    const res = await post({
      ...bad,
      version: "3",
      alerts: [
        { ...bad.alerts[0], fingerprint: undefined, labels: { namespace: "shop", deployment: "bad" } },
      ],
    });
    expect(res.status).toBe(400);
    const { error } = (await res.json()) as { error: string };
    expect(error).toContain("version");
    expect(error).toContain("alerts.0.fingerprint");
    expect((await post("{not json")).status).toBe(400);
    expect((await post({ ...bad, alerts: [] })).status).toBe(400);
    expect((await bot.jobs()).length).toBe(before);
  });

  it("a body over 1 MiB is a 413", async () => {
    const big = notification();
    big.commonAnnotations = { description: "x".repeat(1024 * 1024 + 10) };
    const res = await post(big);
    expect(res.status).toBe(413);
  });

  it("a resolved alert is noted in its incident's thread and starts no run", async () => {
    const resolved = notification({
      status: "resolved",
      alerts: [{ ...notification().alerts[0]!, status: "resolved", endsAt: "2026-11-21T12:05:00Z" }],
    });
    const key = incidentKeyForAlert(resolved, resolved.alerts[0]!, "default");
    const client = new WebClient(BOT_TOKEN, { slackApiUrl: bot.slack.apiUrl, retryConfig: { retries: 0 } });
    const root = await client.chat.postMessage({ channel: ALERT_CHANNEL, text: "incident root" });
    await bot.store.saveIncident(incident(key, `run-${key}`, { status: "resolved" }));
    await bot.store.claimThread(key, { channel: ALERT_CHANNEL, ts: root.ts! });
    const before = (await bot.jobs()).length;
    const res = await post(resolved);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { resolved: { incidentKey: string }[] }).resolved).toEqual([
      expect.objectContaining({ incidentKey: key }),
    ]);
    await vi.waitFor(() => expect(bot.slack.thread(ALERT_CHANNEL, root.ts!)).toHaveLength(2));
    const reply = bot.slack.thread(ALERT_CHANNEL, root.ts!)[1];
    expect(reply?.text.toLowerCase()).toContain("resolved");
    expect((await bot.store.getIncident(key))?.resolvedAt).toBe("2026-11-21T12:05:00Z");
    expect((await bot.jobs()).length).toBe(before);
    // A re-sent resolved notification does not post again.
    await post(resolved);
    await post(notification({ groupKey: "other" })); // a barrier: this one is handled after the re-send
    expect(bot.slack.thread(ALERT_CHANNEL, root.ts!)).toHaveLength(2);
  });

  it("answers 503 when the queue's Redis is down, so Alertmanager retries", async () => {
    const dead = new RunsProducer({
      connection: { host: "127.0.0.1", port: 1 },
      prefix: "bstest-dead",
      timeoutMs: 500,
    });
    const down = await startBot({ producer: dead });
    try {
      const res = await post(notification(), `Bearer ${ALERT_TOKEN}`, down.alertsUrl);
      expect(res.status).toBe(503);
      expect(res.headers.get("retry-after")).toBe("10");
      expect(((await res.json()) as { error: string }).error).toContain("cannot queue");
    } finally {
      await down.close();
      await dead.close();
    }
  });
});

describe("bearerMatches", () => {
  it("accepts only `Bearer <token>`", () => {
    expect(bearerMatches("Bearer abc", "abc")).toBe(true);
    expect(bearerMatches("bearer abc", "abc")).toBe(true);
    expect(bearerMatches("Bearer abcd", "abc")).toBe(false);
    expect(bearerMatches("abc", "abc")).toBe(false);
    expect(bearerMatches(undefined, "abc")).toBe(false);
    expect(bearerMatches("Bearer ", "")).toBe(false);
  });
});
