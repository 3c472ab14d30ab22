import { readFileSync } from "node:fs";
import { join } from "node:path";
import { WebClient } from "@slack/web-api";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ACTION_APPROVE, escalationMessage } from "../../blocks/index.js";
import { sendBlockAction } from "../../sandbox/slack/index.js";
import {
  type AlertmanagerWebhook,
  INTAKE_LIMITS,
  TRUNCATED_ANNOTATION,
  TRUNCATION_MARKER,
} from "../../src/contracts/alertmanager.js";
import type { PendingApproval } from "../../src/pipeline/ports.js";
import { incidentKeyForAlert, type RunJobData } from "../../src/queue/jobs.js";
import { RunsProducer } from "../../src/queue/runs.js";
import { bearerMatches, checkContentType, decodeUtf8 } from "../../src/slack/alerts.js";
import {
  ALERT_CHANNEL,
  ALERT_TOKEN,
  APPROVER,
  BOT_TOKEN,
  type Bot,
  incident,
  PROPOSED,
  SIGNING_SECRET,
  startBot,
} from "./app-fixture.js";

const FIXTURES = join(import.meta.dirname, "../fixtures/alertmanager");

/** A kubernetes-mixin fixture (test/fixtures/alertmanager/<name>.json). */
function mixin(name: string): AlertmanagerWebhook {
  return JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), "utf8")) as AlertmanagerWebhook;
}

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

/** One firing alert about Deployment `shop/<deployment>` in its own group. */
function deploymentAlert(alertname: string, deployment: string, fingerprint: string): AlertmanagerWebhook {
  const n = notification({ groupKey: `{}:{alertname="${alertname}"}` });
  n.alerts = [
    {
      ...n.alerts[0]!,
      labels: { alertname, namespace: "shop", deployment, job: "kube-state-metrics" },
      fingerprint,
    },
  ];
  return n;
}

describe("POST /alerts/alertmanager", () => {
  let bot: Bot;
  beforeEach(async () => {
    bot = await startBot();
  });
  afterEach(async () => {
    await bot.close();
  });

  const post = (
    body: unknown,
    auth: string | null = `Bearer ${ALERT_TOKEN}`,
    url = bot.alertsUrl,
    contentType: string | null = "application/json",
  ) =>
    fetch(url, {
      method: "POST",
      headers: {
        ...(contentType ? { "content-type": contentType } : {}),
        ...(auth ? { authorization: auth } : {}),
      },
      body:
        typeof body === "string"
          ? body
          : body instanceof Uint8Array
            ? new Blob([body as Uint8Array<ArrayBuffer>])
            : JSON.stringify(body),
    });
  const json = async <T = Record<string, unknown>>(res: Response) => (await res.json()) as T;

  it("refuses a missing or wrong bearer token with 401 and queues nothing", async () => {
    for (const auth of [null, "Bearer wrong-token-0123456789", `Basic ${ALERT_TOKEN}`, ALERT_TOKEN]) {
      const res = await post(notification(), auth);
      expect(res.status).toBe(401);
      expect((await json<{ error: string }>(res)).error).toContain("bearer");
    }
    expect(await bot.jobs()).toHaveLength(0);
  });

  it("the same notification three times makes one run; the pod's owner is resolved at run time", async () => {
    const bodies = [];
    for (let i = 0; i < 3; i++) {
      const res = await post(notification());
      expect(res.status).toBe(202);
      bodies.push(
        await json<{ queued: { incidentKey: string; runId: string; deduplicated: boolean }[] }>(res),
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
      target: { namespace: "shop", workload: "checkout-7d9f8b6c5d-x2x9k", kind: "Pod" },
      onset: "2026-11-21T11:50:00Z",
      requestedBy: null,
      slack: { channel: ALERT_CHANNEL, responseUrl: null },
      alert: { groupKey: notification().groupKey, alerts: [{ fingerprint: "c0ffee0000000001" }] },
    });
  });

  it("the same notification sent five times at once makes exactly one run", async () => {
    const n = deploymentAlert("KubeDeploymentRolloutStuck", "checkout", "f00d000000000001");
    const answers = await Promise.all(Array.from({ length: 5 }, () => post(n)));
    expect(answers.map((r) => r.status)).toEqual([202, 202, 202, 202, 202]);
    expect(await bot.jobs()).toHaveLength(1);
  });

  it("a second incident for a workload with an active run joins its thread; no second run", async () => {
    const first = await post(deploymentAlert("KubeDeploymentRolloutStuck", "checkout", "f00d000000000002"));
    const queued = (await json<{ queued: { incidentKey: string; runId: string }[] }>(first)).queued[0]!;
    expect((await bot.jobs()).map((j) => j.id)).toEqual([queued.incidentKey]);
    // The active run has a thread.
    const client = new WebClient(BOT_TOKEN, { slackApiUrl: bot.slack.apiUrl, retryConfig: { retries: 0 } });
    const root = await client.chat.postMessage({ channel: ALERT_CHANNEL, text: "incident root" });
    await bot.store.claimThread(queued.incidentKey, { channel: ALERT_CHANNEL, ts: root.ts! });

    const second = deploymentAlert("KubePodCrashLooping", "checkout", "f00d000000000003");
    for (let i = 0; i < 2; i++) {
      const res = await post(second);
      expect(res.status).toBe(200);
      expect((await json<{ joined: { joined: string; runId: string }[] }>(res)).joined).toEqual([
        expect.objectContaining({ joined: queued.incidentKey, runId: queued.runId }),
      ]);
    }
    expect(await bot.jobs()).toHaveLength(1);
    // One note in the thread, however often Alertmanager re-sends.
    await vi.waitFor(() => expect(bot.slack.thread(ALERT_CHANNEL, root.ts!)).toHaveLength(2));
    await post(notification({ groupKey: "barrier" }));
    const thread = bot.slack.thread(ALERT_CHANNEL, root.ts!);
    expect(thread).toHaveLength(2);
    expect(thread[1]?.text).toContain("KubePodCrashLooping");
    expect(thread[1]?.text).toContain("no second run");

    // Another workload is independent.
    expect(
      (await post(deploymentAlert("KubeDeploymentRolloutStuck", "cart", "f00d000000000004"))).status,
    ).toBe(202);
    // When the run ends, the entry is cleared and the next incident starts a run.
    expect(await bot.store.releaseRun("default/shop/checkout", queued.incidentKey)).toBe(true);
    expect(
      (await post(deploymentAlert("KubeDeploymentReplicasMismatch", "checkout", "f00d000000000005"))).status,
    ).toBe(202);
    expect(await bot.jobs()).toHaveLength(4);
  });

  it("two different alerts for one Deployment arriving at once make exactly one run", async () => {
    const answers = await Promise.all([
      post(deploymentAlert("KubeDeploymentRolloutStuck", "payments", "f00d000000000010")),
      post(deploymentAlert("KubeDeploymentReplicasMismatch", "payments", "f00d000000000011")),
      post(deploymentAlert("KubeDeploymentGenerationMismatch", "payments", "f00d000000000012")),
    ]);
    const bodies = await Promise.all(answers.map((r) => json<{ queued: unknown[]; joined: unknown[] }>(r)));
    expect(bodies.reduce((n, b) => n + b.queued.length, 0)).toBe(1);
    expect(bodies.reduce((n, b) => n + b.joined.length, 0)).toBe(2);
    expect(await bot.jobs()).toHaveLength(1);
  });

  it("two alerts about the same pod join at intake; a different pod waits for run-time resolution", async () => {
    const crash = mixin("KubePodCrashLooping");
    const waiting = mixin("KubeContainerWaiting");
    waiting.alerts[0]!.labels.pod = crash.alerts[0]!.labels.pod!;
    expect((await post(crash)).status).toBe(202);
    const res = await post(waiting);
    expect(res.status).toBe(200);
    expect((await json<{ joined: unknown[] }>(res)).joined).toHaveLength(1);
    // Another pod's owner is unknown until the worker reads it: it is queued, and meets the first at run time.
    const other = mixin("KubePodNotReady");
    expect((await post(other)).status).toBe(202);
    expect(await bot.jobs()).toHaveLength(2);
  });

  it("an alert naming no workload starts no run and is posted to the channel once", async () => {
    const n = mixin("KubeMemoryOvercommit");
    for (let i = 0; i < 2; i++) {
      const res = await post(n);
      expect(res.status).toBe(200);
      const body = await json<{ ignored: { alertname: string; reason: string }[]; queued: unknown[] }>(res);
      expect(body.queued).toEqual([]);
      expect(body.ignored).toEqual([expect.objectContaining({ alertname: "KubeMemoryOvercommit" })]);
    }
    await post(notification({ groupKey: "barrier" }));
    await vi.waitFor(() =>
      expect(bot.slack.messages(ALERT_CHANNEL).filter((m) => m.text.includes("no run"))).toHaveLength(1),
    );
    expect(bot.slack.messages(ALERT_CHANNEL).filter((m) => m.text.includes("started no run"))).toHaveLength(
      1,
    );
    expect((await bot.jobs()).map((j) => (j.data as RunJobData).alert?.groupKey)).toEqual(["barrier"]);
  });

  it("kube-state-metrics' own pod is never the target (KubeHpaMaxedOut, KubeJobFailed)", async () => {
    for (const name of ["KubeHpaMaxedOut", "KubeJobFailed"]) {
      expect((await post(mixin(name))).status).toBe(202);
    }
    const targets = (await bot.jobs()).map((j) => (j.data as RunJobData).target);
    expect(targets).toEqual(
      expect.arrayContaining([
        { namespace: "shop", workload: "checkout-hpa", kind: "HorizontalPodAutoscaler" },
        { namespace: "batch", workload: "db-migrate", kind: "Job" },
      ]),
    );
  });

  it("415 unless the body is JSON; nothing queued", async () => {
    for (const ct of [
      null,
      "text/plain",
      "application/x-www-form-urlencoded",
      "application/json; charset=latin1",
    ]) {
      const res = await post(notification(), `Bearer ${ALERT_TOKEN}`, bot.alertsUrl, ct);
      expect(res.status, String(ct)).toBe(415);
      expect((await json<{ error: string }>(res)).error).toContain("application/json");
    }
    expect(
      (await post(notification(), `Bearer ${ALERT_TOKEN}`, bot.alertsUrl, "Application/JSON; charset=UTF-8"))
        .status,
    ).toBe(202);
    expect(await bot.jobs()).toHaveLength(1);
  });

  it("400 for bytes that are not UTF-8; nothing queued", async () => {
    const text = JSON.stringify(notification());
    const at = text.indexOf("checkout is crash looping");
    for (const bad of [[0xff], [0xc3, 0x28], [0xed, 0xa0, 0x80], [0xc0, 0xaf]]) {
      const bytes = Buffer.concat([
        Buffer.from(text.slice(0, at)),
        Buffer.from(bad),
        Buffer.from(text.slice(at)),
      ]);
      const res = await post(new Uint8Array(bytes));
      expect(res.status).toBe(400);
      expect((await json<{ error: string }>(res)).error).toContain("UTF-8");
    }
    expect(await bot.jobs()).toHaveLength(0);
  });

  it("400 for timestamps that are not RFC 3339, naming the field; nothing queued", async () => {
    const alert = notification().alerts[0]!;
    const cases: [Partial<typeof alert>, string][] = [
      [{ startsAt: "2025-02-30T25:61:00Z" }, "alerts.0.startsAt"],
      [{ startsAt: "not-a-timestamp" }, "alerts.0.startsAt"],
      [{ startsAt: "2025-02-29T10:00:00Z" }, "alerts.0.startsAt"],
      [{ startsAt: undefined }, "alerts.0.startsAt"],
      [{ endsAt: "2026-13-01T00:00:00Z" }, "alerts.0.endsAt"],
    ];
    for (const [patch, field] of cases) {
      const res = await post(notification({ alerts: [{ ...alert, ...patch }] }));
      expect(res.status, JSON.stringify(patch)).toBe(400);
      const { error } = await json<{ error: string }>(res);
      expect(error).toContain(field);
      expect(error).toContain("RFC 3339");
    }
    expect(await bot.jobs()).toHaveLength(0);
    // Alertmanager's zero time for endsAt, and offsets, are valid.
    const ok = notification({
      alerts: [{ ...alert, startsAt: "2026-11-21T12:50:00.123+01:00", endsAt: "0001-01-01T00:00:00Z" }],
    });
    expect((await post(ok)).status).toBe(202);
  });

  it("an alert with an invalid namespace or name is skipped with its reason; 400 when none is left", async () => {
    const base = notification().alerts[0]!;
    const hostile = notification({
      alerts: [
        { ...base, fingerprint: "bad0000000000001", labels: { ...base.labels, namespace: "../../etc" } },
        { ...base, fingerprint: "bad0000000000002", labels: { ...base.labels, namespace: "*" } },
        {
          ...base,
          fingerprint: "bad0000000000003",
          labels: { alertname: "KubeDeploymentRolloutStuck", namespace: "shop", deployment: "../../x" },
        },
      ],
    });
    const res = await post(hostile);
    expect(res.status).toBe(400);
    const body = await json<{ error: string; refused: { fingerprint: string; reason: string }[] }>(res);
    expect(body.error).toContain("every alert was refused");
    expect(body.refused.map((r) => r.fingerprint)).toEqual([
      "bad0000000000001",
      "bad0000000000002",
      "bad0000000000003",
    ]);
    expect(body.refused[0]?.reason).toMatch(
      /alerts\.0\.labels: namespace "\.\.\/\.\.\/etc" is not a valid Kubernetes name/,
    );
    expect(body.refused[2]?.reason).toContain("deployment");
    expect(await bot.jobs()).toHaveLength(0);
    // Noted in the channel.
    await vi.waitFor(() =>
      expect(bot.slack.messages(ALERT_CHANNEL).some((m) => m.text.includes("started no run"))).toBe(true),
    );

    // With one good alert beside them: 202, the good one queued, the bad ones reported.
    const mixed = notification({ alerts: [...hostile.alerts, base] });
    const ok = await post(mixed);
    expect(ok.status).toBe(202);
    const okBody = await json<{ queued: { fingerprint: string }[]; refused: unknown[] }>(ok);
    expect(okBody.queued.map((q) => q.fingerprint)).toEqual([base.fingerprint]);
    expect(okBody.refused).toHaveLength(3);
    expect(await bot.jobs()).toHaveLength(1);
  });

  it("labels over the bounds refuse the alert; annotations are cut before they are queued", async () => {
    const base = notification().alerts[0]!;
    const labels = {
      ...base.labels,
      ...Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`l${i}`, "x"])),
    };
    const res = await post(notification({ alerts: [{ ...base, labels }] }));
    expect(res.status).toBe(400);
    expect(JSON.stringify(await res.json())).toContain(`more than the ${INTAKE_LIMITS.labels} allowed`);
    expect(await bot.jobs()).toHaveLength(0);

    const annotations = {
      description: "d".repeat(50_000),
      ...Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`note${i}`, "y".repeat(100)])),
    };
    const big = await post(
      notification({
        alerts: [{ ...base, annotations, generatorURL: `http://p/graph?g0.expr=${"x".repeat(100_000)}` }],
        commonAnnotations: { description: "c".repeat(50_000) },
      }),
    );
    expect(big.status).toBe(202);
    const [job] = await bot.jobs();
    const queued = (job!.data as RunJobData).alert!;
    const kept = queued.alerts[0]!.annotations;
    expect(kept.description?.slice(-TRUNCATION_MARKER.length)).toBe(TRUNCATION_MARKER);
    expect(Object.keys(kept).length).toBeLessThanOrEqual(INTAKE_LIMITS.annotations + 1);
    expect(kept[TRUNCATED_ANNOTATION]).toContain("dropped");
    const bytes = Object.entries(kept).reduce((n, [k, v]) => n + Buffer.byteLength(k + v), 0);
    expect(bytes).toBeLessThanOrEqual(INTAKE_LIMITS.annotationsTotalBytes + 200);
    expect(queued.alerts[0]!.generatorURL.length).toBe(INTAKE_LIMITS.urlChars);
    expect(queued.commonAnnotations.description!.length).toBeLessThanOrEqual(
      INTAKE_LIMITS.annotationValueBytes,
    );
  });

  it("a malformed notification is a 400 naming the fields, and nothing is queued", async () => {
    const bad = notification();
    const res = await post({
      ...bad,
      version: "3",
      alerts: [
        { ...bad.alerts[0], fingerprint: undefined, labels: { namespace: "shop", deployment: "bad" } },
      ],
    });
    expect(res.status).toBe(400);
    const { error } = await json<{ error: string }>(res);
    expect(error).toContain("version");
    expect(error).toContain("alerts.0.fingerprint");
    const longFp = await post(
      notification({ alerts: [{ ...bad.alerts[0]!, fingerprint: "f".repeat(200) }] }),
    );
    expect(longFp.status).toBe(400);
    expect((await json<{ error: string }>(longFp)).error).toContain("alerts.0.fingerprint");
    expect((await post("{not json")).status).toBe(400);
    expect((await post({ ...bad, alerts: [] })).status).toBe(400);
    expect(await bot.jobs()).toHaveLength(0);
  });

  it("a body over 1 MiB is a 413", async () => {
    const big = notification();
    big.commonAnnotations = { description: "x".repeat(1024 * 1024 + 10) };
    const res = await post(big);
    expect(res.status).toBe(413);
    expect(await bot.jobs()).toHaveLength(0);
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
    const res = await post(resolved);
    expect(res.status).toBe(200);
    expect((await json<{ resolved: { incidentKey: string }[] }>(res)).resolved).toEqual([
      expect.objectContaining({ incidentKey: key }),
    ]);
    await vi.waitFor(() => expect(bot.slack.thread(ALERT_CHANNEL, root.ts!)).toHaveLength(2));
    const reply = bot.slack.thread(ALERT_CHANNEL, root.ts!)[1];
    expect(reply?.text.toLowerCase()).toContain("resolved");
    expect((await bot.store.getIncident(key))?.resolvedAt).toBe("2026-11-21T12:05:00Z");
    expect(await bot.jobs()).toHaveLength(0);
    // A re-sent resolved notification does not post again.
    await post(resolved);
    await post(notification({ groupKey: "other" })); // a barrier: this one is handled after the re-send
    expect(bot.slack.thread(ALERT_CHANNEL, root.ts!)).toHaveLength(2);
  });

  it("a resolved alert awaiting approval withdraws it: buttons replaced, a withdrawn decision, a later click finds it decided", async () => {
    const firing = deploymentAlert("KubeDeploymentRolloutStuck", "checkout", "f00d000000000020");
    const key = incidentKeyForAlert(firing, firing.alerts[0]!, "default");
    const runId = `run-${key}`;
    const client = new WebClient(BOT_TOKEN, { slackApiUrl: bot.slack.apiUrl, retryConfig: { retries: 0 } });
    const root = await client.chat.postMessage({ channel: ALERT_CHANNEL, text: "incident root" });
    const esc = escalationMessage({
      runId,
      reason: "approval needed",
      proposedAction: PROPOSED,
      hypothesis: "bad deploy",
      failedRules: [],
      approvers: [APPROVER],
      expiresAt: "2026-11-21T12:30:00.000Z",
    });
    const escalation = await client.chat.postMessage({ channel: ALERT_CHANNEL, thread_ts: root.ts!, ...esc });
    await bot.store.saveIncident(incident(key, runId));
    await bot.store.claimThread(key, { channel: ALERT_CHANNEL, ts: root.ts! });
    const pending: PendingApproval = {
      runId,
      target: { namespace: "shop", workload: "checkout" },
      reason: "approval needed",
      proposedAction: PROPOSED,
      hypothesis: "bad deploy",
      events: [],
      totals: { cost_usd: 0, tokens: { input: 0, output: 0 } },
      startedAt: "2026-11-21T11:50:00.000Z",
    } as unknown as PendingApproval;
    await bot.store.savePending({
      runId,
      incidentKey: key,
      pending,
      status: "pending",
      expiresAt: "2026-11-21T12:30:00.000Z",
      channel: ALERT_CHANNEL,
      threadTs: root.ts!,
      escalationTs: escalation.ts!,
    });

    const resolved = { ...firing, status: "resolved" as const };
    resolved.alerts = [{ ...firing.alerts[0]!, status: "resolved", endsAt: "2026-11-21T12:05:00Z" }];
    expect((await post(resolved)).status).toBe(200);
    await vi.waitFor(() => expect(bot.decisionCalls).toHaveLength(1));
    expect(bot.decisionCalls[0]).toMatchObject({ runId, decision: "withdrawn", by: null });
    expect((await bot.store.getPending(runId))?.status).toBe("withdrawn");
    await vi.waitFor(() => {
      const msg = bot.slack.thread(ALERT_CHANNEL, root.ts!).find((m) => m.ts === escalation.ts);
      expect(JSON.stringify(msg?.blocks)).toContain("approval withdrawn");
      expect(JSON.stringify(msg?.blocks)).not.toContain(ACTION_APPROVE);
    });
    expect((await bot.jobs()).map((j) => j.name)).toEqual(["decision"]);

    // A later click finds it decided.
    await sendBlockAction(bot.eventsUrl, SIGNING_SECRET, {
      user_id: APPROVER,
      channel_id: ALERT_CHANNEL,
      message_ts: escalation.ts!,
      thread_ts: root.ts!,
      action_id: ACTION_APPROVE,
      value: runId,
      response_url: bot.slack.newResponseUrl({ channel: ALERT_CHANNEL, user: APPROVER }),
      message: esc,
    });
    await vi.waitFor(() =>
      expect(
        bot.slack
          .ephemerals(APPROVER)
          .map((m) => m.text)
          .join("\n"),
      ).toContain("already decided (withdrawn)"),
    );
    expect(bot.decisionCalls).toHaveLength(1);
  });

  it("answers 503 when the queue's Redis is down, so Alertmanager retries; the claim is released", async () => {
    const dead = new RunsProducer({
      connection: { host: "127.0.0.1", port: 1 },
      prefix: "bstest-dead",
      timeoutMs: 500,
    });
    const down = await startBot({ producer: dead });
    try {
      const res = await post(
        deploymentAlert("KubeDeploymentRolloutStuck", "checkout", "f00d000000000030"),
        `Bearer ${ALERT_TOKEN}`,
        down.alertsUrl,
      );
      expect(res.status).toBe(503);
      expect(res.headers.get("retry-after")).toBe("10");
      expect((await json<{ error: string }>(res)).error).toContain("cannot queue");
      expect(await down.store.activeRun("default/shop/checkout")).toBeNull();
      const pod = await post(notification(), `Bearer ${ALERT_TOKEN}`, down.alertsUrl);
      expect(pod.status).toBe(503);
    } finally {
      await down.close();
      await dead.close();
    }
  });
});

describe("intake helpers", () => {
  it("bearerMatches accepts only `Bearer <token>`", () => {
    expect(bearerMatches("Bearer abc", "abc")).toBe(true);
    expect(bearerMatches("bearer abc", "abc")).toBe(true);
    expect(bearerMatches("Bearer abcd", "abc")).toBe(false);
    expect(bearerMatches("abc", "abc")).toBe(false);
    expect(bearerMatches(undefined, "abc")).toBe(false);
    expect(bearerMatches("Bearer ", "")).toBe(false);
  });
  it("checkContentType and decodeUtf8", () => {
    expect(() => checkContentType("application/json")).not.toThrow();
    expect(() => checkContentType("application/json;charset=utf-8")).not.toThrow();
    expect(() => checkContentType("application/jsonp")).toThrow(/application\/json/);
    expect(() => checkContentType(undefined)).toThrow(/application\/json/);
    expect(decodeUtf8(Buffer.from("héllo"))).toBe("héllo");
    expect(() => decodeUtf8(new Uint8Array([0x61, 0xff]))).toThrow(/UTF-8/);
  });
});
