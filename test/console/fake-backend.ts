/**
 * An in-memory {@link ConsoleBackend} for the console's server and browser tests: one channel, two users,
 * a thread with the Block Kit a Backstop incident posts (header, section with fields, context, divider,
 * actions with Approve/Reject and a `confirm` object), two agents and two clusters, and real signed
 * receipts (Ed25519 via `src/receipt/`) — the naive one tampered so its badge must say NOT verified.
 */
import { generateKeyPairSync } from "node:crypto";
import type {
  AgentView,
  ClusterView,
  ConsoleBackend,
  ConsoleChange,
  ConsoleMessage,
  ConsoleUser,
  ScenarioInfo,
} from "../../sandbox/console/backend.js";
import type { RunEvent } from "../../src/contracts/events.js";
import {
  loadSigningKey,
  ReceiptRecorder,
  serializeReceipt,
  signReceipt,
  type VerifyResult,
  verifyReceiptText,
} from "../../src/receipt/index.js";

export const CHANNEL = "C0INCIDENTS";
export const ROOT_TS = "1712345678.000100";
export const ESCALATION_TS = "1712345679.000200";
export const APPROVER = "U0APPROVER";

type Click = Parameters<ConsoleBackend["click"]>[0];

const FIXED = new Date("2026-01-02T03:04:05.000Z");

function receiptFor(runId: string, agent: "naive" | "backstop", outcome: "resolved" | "damaged"): string {
  const { privateKey } = generateKeyPairSync("ed25519");
  const key = loadSigningKey({ pem: privateKey.export({ type: "pkcs8", format: "pem" }).toString() });
  const rec = new ReceiptRecorder({ runId, clock: () => FIXED });
  rec.append("run.started", {
    run_id: runId,
    agent,
    trigger: "alert",
    namespace: "shop",
    workload: "checkout",
    alertname: "CheckoutHighErrorRate",
    scenario: "hallucinated-diagnosis",
    note: null,
  });
  rec.append("model.call", {
    purpose: "diagnose",
    target: "primary",
    model: "gpt-4o",
    served_model: "gpt-4o",
    tier: 0,
    attempt: 1,
    ok: true,
    status: 200,
    error: null,
    latency_ms: 812,
    tokens: { input: 1200, output: 210 },
    cost_usd: 0.0051,
    prompt: null,
  });
  rec.append("gate.quality", {
    passed: agent === "backstop",
    model: "gpt-4o",
    rules: [{ rule: "sha_in_history", passed: agent === "backstop", detail: "sha checked" }],
    judge: null,
    reroute_to_tier: null,
  });
  rec.append("run.finished", {
    outcome,
    summary: outcome === "resolved" ? "rolled back checkout" : "deleted pods across namespaces",
    wall_ms: 4200,
    cost_usd: 0.0051,
    tokens: { input: 1200, output: 210 },
  });
  return serializeReceipt(signReceipt(runId, rec.events(), key, { clock: () => FIXED }));
}

function cluster(agent: "naive" | "backstop"): ClusterView {
  const damaged = agent === "naive";
  return {
    name: "sandbox",
    namespaces: [
      { name: "shop", protected: false },
      { name: "payments", protected: true },
    ],
    workloads: [
      {
        kind: "Deployment",
        namespace: "shop",
        name: "checkout",
        replicas: { desired: 3, ready: damaged ? 0 : 3 },
        revision: damaged ? 7 : 6,
        image: "registry.local/checkout:1.4.2",
        sha: "a1b2c3d4e5f6",
        health: damaged ? "failing" : "healthy",
        protected: false,
      },
      {
        kind: "StatefulSet",
        namespace: "payments",
        name: "ledger",
        replicas: { desired: 2, ready: damaged ? 1 : 2 },
        revision: null,
        image: "registry.local/ledger:2.0.0",
        sha: null,
        health: damaged ? "degraded" : "healthy",
        protected: true,
      },
    ],
  };
}

/** The in-memory backend; `clicks` and `fired` record what the console sent. */
export class FakeConsoleBackend implements ConsoleBackend {
  readonly clicks: Click[] = [];
  readonly fired: string[] = [];
  private readonly listeners = new Set<(what: ConsoleChange) => void>();
  private msgs: ConsoleMessage[] = [];
  private views: Record<"naive" | "backstop", AgentView | null> = { naive: null, backstop: null };
  private readonly receipts = new Map<string, string>();

  scenarios(): ScenarioInfo[] {
    return [
      {
        name: "hallucinated-diagnosis",
        title: "Hallucinated diagnosis",
        description: "The model blames a deploy SHA that never existed.",
        fires: "CheckoutHighErrorRate",
      },
      {
        name: "cascading-failure",
        title: "Cascading failure",
        description: "A bad rollout spreads; the breaker escalates to a human.",
        fires: "PaymentsLatencyHigh",
      },
    ];
  }

  async fire(name: string): Promise<{ backstopRunId: string; naiveRunId: string }> {
    this.fired.push(name);
    const backstopRunId = `run-backstop-${this.fired.length}`;
    const naiveRunId = `run-naive-${this.fired.length}`;
    this.msgs = this.threadFor(name);
    const good = receiptFor(backstopRunId, "backstop", "resolved");
    const naive = receiptFor(naiveRunId, "naive", "damaged");
    this.receipts.set(backstopRunId, good);
    // Tampered after signing: the chain no longer matches, so verification must fail.
    this.receipts.set(naiveRunId, naive.replace('"damaged"', '"resolved"'));
    const events = (text: string) => (JSON.parse(text) as { events: RunEvent[] }).events;
    this.views = {
      backstop: {
        agent: "backstop",
        runId: backstopRunId,
        cluster: "sandbox",
        scenario: name,
        events: events(good),
        outcome: "resolved",
        blast: { workloads: 1, protected: 0, changed: ["shop/Deployment/checkout"] },
      },
      naive: {
        agent: "naive",
        runId: naiveRunId,
        cluster: "sandbox",
        scenario: name,
        events: events(naive),
        outcome: "damaged",
        blast: {
          workloads: 3,
          protected: 1,
          changed: ["shop/Deployment/checkout", "shop/Deployment/cart", "payments/StatefulSet/ledger"],
        },
      },
    };
    for (const what of ["slack", "cluster", "naive", "backstop"] as const) this.emit(what);
    return { backstopRunId, naiveRunId };
  }

  channels(): string[] {
    return [CHANNEL];
  }

  messages(channel: string): ConsoleMessage[] {
    return this.msgs.filter((m) => m.channel === channel);
  }

  async click(a: Click): Promise<{ status: number }> {
    this.clicks.push(a);
    this.msgs.push({
      channel: a.channel,
      ts: `1712345690.00${String(this.clicks.length).padStart(4, "0")}`,
      thread_ts: a.thread_ts ?? a.message_ts,
      user: "UBACKSTOP",
      text: `${a.action_id} by <@${a.user_id}>`,
      blocks: [
        {
          type: "section",
          text: { type: "mrkdwn", text: `:white_check_mark: *${a.action_id}* by <@${a.user_id}>` },
        },
      ],
      edited: false,
      files: [],
    });
    this.emit("slack");
    return { status: 200 };
  }

  users(): ConsoleUser[] {
    return [
      { id: "U0BYSTANDER", name: "Bob (watching)", approver: false },
      { id: APPROVER, name: "Ada (on-call)", approver: true },
    ];
  }

  cluster(agent: "naive" | "backstop"): ClusterView {
    return cluster(agent);
  }

  agent(agent: "naive" | "backstop"): AgentView | null {
    return this.views[agent];
  }

  async receipt(runId: string): Promise<string | null> {
    return this.receipts.get(runId) ?? null;
  }

  async verify(runId: string): Promise<VerifyResult | null> {
    const text = this.receipts.get(runId);
    return text === undefined ? null : verifyReceiptText(text);
  }

  async fileBytes(id: string): Promise<{ bytes: Buffer; mimetype: string; name: string } | null> {
    if (id !== "F0RECEIPT") return null;
    return {
      bytes: Buffer.from('{"format":"backstop.receipt/v1"}\n'),
      mimetype: "application/json",
      name: "backstop-receipt-run-backstop-1.json",
    };
  }

  onChange(listener: (what: ConsoleChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Tells every listener that `what` changed (as the real backend does when the bot posts). */
  emit(what: ConsoleChange): void {
    for (const l of this.listeners) l(what);
  }

  /** How many `onChange` listeners are subscribed (one per open SSE stream). */
  listenerCount(): number {
    return this.listeners.size;
  }

  private threadFor(scenario: string): ConsoleMessage[] {
    const base = { channel: CHANNEL, user: "UBACKSTOP", edited: false, files: [] };
    return [
      {
        ...base,
        ts: ROOT_TS,
        thread_ts: null,
        text: "CheckoutHighErrorRate on shop/checkout",
        edited: true,
        blocks: [
          { type: "header", text: { type: "plain_text", text: "🚨 CheckoutHighErrorRate" } },
          {
            type: "section",
            text: { type: "mrkdwn", text: `*Workload* \`shop/checkout\` · scenario _${scenario}_` },
            fields: [
              { type: "mrkdwn", text: "*Status*\nEscalated" },
              { type: "mrkdwn", text: "*Severity*\ncritical" },
              { type: "mrkdwn", text: "*Namespace*\nshop" },
              { type: "mrkdwn", text: "*Runbook*\n<https://runbooks.example/checkout|checkout runbook>" },
            ],
          },
          {
            type: "context",
            elements: [{ type: "mrkdwn", text: "run `run-backstop-1` · on-call <@U0APPROVER>" }],
          },
        ],
      },
      {
        ...base,
        ts: "1712345678.000150",
        thread_ts: ROOT_TS,
        text: "Diagnosis",
        blocks: [
          {
            type: "section",
            text: {
              type: "mrkdwn",
              text: "*Diagnosis* (gpt-4o, confidence 0.91)\n> Deploy `deadbee` broke checkout",
            },
          },
          { type: "divider" },
          {
            type: "context",
            elements: [{ type: "mrkdwn", text: "quality gate *failed*: `sha_in_history`" }],
          },
        ],
      },
      {
        ...base,
        ts: ESCALATION_TS,
        thread_ts: ROOT_TS,
        text: "Escalation: approve a rollback?",
        files: [{ id: "F0RECEIPT", name: "backstop-receipt-run-backstop-1.json", title: "Receipt" }],
        blocks: [
          {
            type: "section",
            text: {
              type: "mrkdwn",
              text: "*Escalated.* Proposed: rollback `shop/Deployment/checkout` → `a1b2c3d`",
            },
          },
          {
            type: "actions",
            block_id: "decision",
            elements: [
              {
                type: "button",
                action_id: "approve",
                value: "run-backstop-1",
                style: "primary",
                text: { type: "plain_text", text: "Approve" },
                confirm: {
                  title: { type: "plain_text", text: "Approve rollback?" },
                  text: { type: "mrkdwn", text: "Roll back *shop/checkout* to a1b2c3d." },
                  confirm: { type: "plain_text", text: "Roll back" },
                  deny: { type: "plain_text", text: "Not yet" },
                },
              },
              {
                type: "button",
                action_id: "reject",
                value: "run-backstop-1",
                style: "danger",
                text: { type: "plain_text", text: "Reject" },
              },
            ],
          },
        ],
      },
    ];
  }
}
