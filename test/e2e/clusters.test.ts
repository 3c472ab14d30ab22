import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ACTION_APPROVE } from "../../blocks/index.js";
import { sendSlashCommand } from "../../sandbox/slack/index.js";
import type { SandboxStack } from "../../sandbox/stack.js";
import type { AlertmanagerWebhook, Scenario } from "../../scenarios/schema.js";
import type { RunEvent } from "../../src/contracts/events.js";
import type { IncidentRecord } from "../../src/queue/store.js";
import { type BotWorld, namedScenario, startBotWorld } from "../fixtures/bot-world.js";
import { until } from "../fixtures/live.js";
import { ALERT_CHANNEL, APPROVER, type Bot, clickButton, SIGNING_SECRET } from "../slack/app-fixture.js";

// Two sandbox clusters (one Kubernetes API each) behind one mcp-infra, the real Bolt app, real Redis and
// the real worker: every alert must act on the cluster its `cluster` label names, and on no other.
const EU = "prod-eu1";
const US = "prod-us1";

/** A scenario file made two-cluster: same namespaces and workloads, `failing` / `healthy` per cluster. */
function twoClusters(name: string, eu: "failing" | "healthy", us: "failing" | "healthy"): Scenario {
  const s = namedScenario(name);
  return {
    ...s,
    clusters: [
      { name: EU, state: eu },
      { name: US, state: us },
    ],
  };
}

let world: BotWorld;
let stack: SandboxStack;
let bot: Bot;

/** The scenario's notification as a new group, each alert labelled `cluster=<cluster>` (or unlabelled). */
function notification(s: Scenario, fingerprint: string, cluster: string | null): AlertmanagerWebhook {
  const webhook = structuredClone(s.alert);
  webhook.groupKey = `${webhook.groupKey}/${fingerprint}`;
  for (const a of webhook.alerts) {
    a.fingerprint = fingerprint;
    if (cluster === null) delete a.labels.cluster;
    else a.labels.cluster = cluster;
  }
  return webhook;
}

async function post(
  webhook: AlertmanagerWebhook,
): Promise<{ status: number; body: Record<string, unknown[]> }> {
  const res = await world.postAlert(webhook);
  return { status: res.status, body: (await res.json()) as Record<string, unknown[]> };
}

const finished = (statuses: string[]) => async (): Promise<IncidentRecord | null> =>
  (await bot.store.recentIncidents(20)).find((i) => statuses.includes(i.status)) ?? null;

const mutated = (cluster: string) =>
  stack.clusters
    .get(cluster)!
    .mutations()
    .filter((m) => m.user === "writer");

/** The run's final receipt: the one whose last event is `run.finished` (an escalation stores one earlier). */
async function receiptEvents(runId: string): Promise<RunEvent[]> {
  return until("the finished receipt", async () => {
    const text = await bot.store.getReceipt(runId);
    const events = text ? (JSON.parse(text) as { events: RunEvent[] }).events : [];
    return events.at(-1)?.type === "run.finished" ? events : null;
  });
}

/** Every receipt event whose data names a workload or an action names `cluster`, and none names another. */
function expectReceiptNames(events: RunEvent[], cluster: string): void {
  const naming = events.filter((e) =>
    [
      "run.started",
      "signals.gathered",
      "gate.action",
      "action.executed",
      "recovery.verified",
      "escalation.opened",
      "approval.decided",
    ].includes(e.type),
  );
  expect(naming.length).toBeGreaterThan(2);
  for (const e of naming) expect((e.data as { cluster?: string }).cluster, e.type).toBe(cluster);
  for (const e of events.filter((x) => x.type === "action.executed" || x.type === "gate.action")) {
    const a = (e.data as { action: { cluster?: string } | null }).action;
    if (a) expect(a.cluster).toBe(cluster);
  }
}

beforeAll(async () => {
  world = await startBotWorld({
    scenario: twoClusters("clean-signal", "failing", "healthy"),
    bot: { overrides: { clusters: { names: [EU, US], label: "cluster" } } },
  });
  ({ stack, bot } = world);
  world.startWorker({ concurrency: 2 });
});

afterAll(async () => {
  await world?.close();
});

describe("two clusters behind one Backstop", () => {
  it("the sandbox starts one Kubernetes API per cluster, failing in one and healthy in the other", () => {
    expect(stack.clusterNames).toEqual([EU, US]);
    expect(stack.clusters.get(EU)!.url).not.toBe(stack.clusters.get(US)!.url);
    const health = (c: string) =>
      stack.clusters
        .get(c)!
        .snapshot()
        .workloads.find((w) => w.name === "catalog")?.health;
    expect(health(EU)).not.toBe("healthy");
    expect(health(US)).toBe("healthy");
  });

  for (const [failing, other] of [
    [EU, US],
    [US, EU],
  ] as const) {
    it(`an alert from ${failing} acts on ${failing} only; receipt, thread and ticket name it`, async () => {
      const s = twoClusters(
        "clean-signal",
        failing === EU ? "failing" : "healthy",
        failing === US ? "failing" : "healthy",
      );
      await world.reset(s);
      const res = await post(notification(s, `fp-${failing}`, failing));
      expect(res.status).toBe(202);
      expect(res.body.refused).toEqual([]);
      const incident = await until("resolved", finished(["resolved", "escalated", "failed"]));
      expect(incident.status).toBe("resolved");
      expect(incident.cluster).toBe(failing);
      expect(incident.runId).toContain(failing);
      // Each cluster's own mutation log: the rollback happened where the alert came from, nowhere else.
      expect(mutated(failing).map((m) => `${m.namespace}/${m.name}`)).toEqual(["shop/catalog"]);
      expect(mutated(other)).toEqual([]);

      expectReceiptNames(await receiptEvents(incident.runId), failing);
      const root = bot.slack.messages(ALERT_CHANNEL).find((m) => m.thread_ts === null)!;
      expect(JSON.stringify(root.blocks)).toContain(failing);
      expect(JSON.stringify(root.blocks)).not.toContain(other);
      const ticket = await until("the ticket", async () => stack.tickets.issues()[0]);
      expect(ticket.title).toContain(`${failing}/shop/catalog`);
      expect(ticket.description).toContain(`Cluster: ${failing}`);
    });
  }

  it("an alert from an unknown cluster, or without the label, starts no run and says why in the channel", async () => {
    const s = twoClusters("clean-signal", "failing", "healthy");
    await world.reset(s);
    const before = (await bot.jobs()).length;

    // Every alert refused: a 400 (Alertmanager does not retry it), naming why, and a note in the channel.
    const unknown = await post(notification(s, "fp-unknown", "prod-ap1"));
    expect(unknown.status).toBe(400);
    expect(unknown.body.refused).toMatchObject([{ cluster: "prod-ap1" }]);
    const unknownNote = await until("the unknown-cluster note", async () =>
      bot.slack.messages(ALERT_CHANNEL).find((m) => JSON.stringify(m.blocks).includes("prod-ap1")),
    );
    expect(JSON.stringify(unknownNote.blocks)).toContain(`${EU}, ${US}`);

    const unlabelled = await post(notification(s, "fp-nolabel", null));
    expect(unlabelled.status).toBe(400);
    expect(unlabelled.body.refused).toMatchObject([{ cluster: null }]);
    const noLabelNote = await until("the no-label note", async () =>
      bot.slack.messages(ALERT_CHANNEL).find((m) => JSON.stringify(m.blocks).includes("no `cluster` label")),
    );
    expect(JSON.stringify(noLabelNote.blocks)).toContain(`${EU}, ${US}`);

    // In a mixed notification the served cluster's alert runs and the other is refused (202).
    const mixed = notification(s, "fp-mixed", EU);
    const stranger = structuredClone(mixed.alerts[0]!);
    stranger.fingerprint = "fp-mixed-2";
    stranger.labels.cluster = "prod-ap1";
    mixed.alerts.push(stranger);
    const both = await post(mixed);
    expect(both.status).toBe(202);
    expect(both.body.queued).toHaveLength(1);
    expect(both.body.refused).toMatchObject([{ fingerprint: "fp-mixed-2", cluster: "prod-ap1" }]);
    await until("the mixed run to end", finished(["resolved", "escalated", "failed"]));
    expect(mutated(US)).toEqual([]);

    expect((await bot.jobs()).length).toBe(before + 1);
  });

  it("/backstop triage needs the cluster when two are served, and refuses one it does not serve", async () => {
    const before = (await bot.jobs()).length;
    for (const [text, expected] of [
      ["triage shop/catalog", "serves 2 clusters"],
      ["triage prod-ap1/shop/catalog", "does not serve cluster"],
    ] as const) {
      const res = await sendSlashCommand(bot.eventsUrl, SIGNING_SECRET, {
        text,
        user_id: APPROVER,
        channel_id: ALERT_CHANNEL,
        response_url: bot.slack.newResponseUrl({ channel: ALERT_CHANNEL, user: APPROVER }),
      });
      expect(res.status).toBe(200);
      expect((JSON.parse(res.body) as { text: string }).text).toContain(expected);
    }
    const ok = await sendSlashCommand(bot.eventsUrl, SIGNING_SECRET, {
      text: `triage ${US}/shop/catalog`,
      user_id: APPROVER,
      channel_id: ALERT_CHANNEL,
      response_url: bot.slack.newResponseUrl({ channel: ALERT_CHANNEL, user: APPROVER }),
    });
    expect((JSON.parse(ok.body) as { text: string }).text).toContain(`in cluster ${US}`);
    const job = await until("the queued command", async () =>
      (await bot.jobs()).find((j) => j.id.startsWith(`cmd-${US}-shop-catalog-`)),
    );
    expect(job.data).toMatchObject({ cluster: US, target: { namespace: "shop", workload: "catalog" } });
    expect((await bot.jobs()).length).toBe(before + 1);
    await until("the command's run to end", finished(["resolved", "escalated", "failed"]));
  });

  it("an approval acts on the run's cluster, not on the other cluster's failing workload of the same name", async () => {
    // Both clusters have shop/orders failing. The run is prod-us1's (the second cluster, so a
    // "first cluster" default would be wrong); the click must roll back prod-us1's orders only.
    const s = twoClusters("cascading-failure", "failing", "failing");
    await world.reset(s);
    const res = await post(notification(s, "fp-approve", US));
    expect(res.status).toBe(202);
    const incident = await until("awaiting approval", finished(["awaiting_approval"]));
    expect(incident.cluster).toBe(US);
    const pending = await bot.store.getPending(incident.runId);
    expect(pending?.pending.cluster).toBe(US);
    const escalation = await until("the escalation message", async () =>
      bot.slack.messages(ALERT_CHANNEL).find((m) => JSON.stringify(m.blocks).includes(ACTION_APPROVE)),
    );
    expect(JSON.stringify(escalation.blocks)).toContain(US);
    const click = await clickButton(bot, {
      user: APPROVER,
      message: escalation,
      action: ACTION_APPROVE,
      value: incident.runId,
      withBlocks: true,
    });
    expect(click.status).toBe(200);
    const done = await until("the decision to finish", async () => {
      const i = await bot.store.getIncident(incident.key);
      return i && i.status !== "awaiting_approval" ? i : null;
    });
    expect(done.status).toBe("resolved");
    expect(mutated(US).map((m) => `${m.namespace}/${m.name}`)).toEqual(["shop/orders"]);
    expect(mutated(EU)).toEqual([]);
    const events = await receiptEvents(incident.runId);
    expectReceiptNames(events, US);
    expect(events.some((e) => e.type === "approval.decided")).toBe(true);
  });
});
