import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { WebClient } from "@slack/web-api";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ACTION_APPROVE, ACTION_RECEIPT, ACTION_REJECT } from "../../blocks/index.js";
import { type SandboxSlack, startSandboxSlack } from "../../sandbox/slack/index.js";
import type { RunEvent } from "../../src/contracts/events.js";
import {
  type IncidentThreadStore,
  isTransientSlackError,
  type SlackThread,
  SlackThreadReporter,
} from "../../src/slack/reporter.js";
import { escalatedRun, ROLLBACK, recorder, resolvedRun } from "../blocks/fixtures.js";

/** An in-memory thread store with `SET NX` semantics; `barrier` makes the first N getThread calls wait for each other. */
class MemoryThreads implements IncidentThreadStore {
  readonly map = new Map<string, SlackThread>();
  failGets = 0;
  private waiting: (() => void)[] = [];
  constructor(private barrier = 0) {}

  async getThread(key: string): Promise<SlackThread | null> {
    if (this.failGets > 0) {
      this.failGets -= 1;
      throw new Error("redis down");
    }
    if (this.barrier > 0) {
      this.barrier -= 1;
      await new Promise<void>((resolve) => {
        this.waiting.push(resolve);
        if (this.barrier === 0) for (const w of this.waiting.splice(0)) w();
      });
    }
    return this.map.get(key) ?? null;
  }

  async claimThread(key: string, thread: SlackThread): Promise<boolean> {
    if (this.map.has(key)) return false;
    this.map.set(key, { ...thread });
    return true;
  }
}

/**
 * A switchable gate in front of the sandbox Slack: while `down`, every request gets HTTP 503 (as a Slack
 * outage or a proxy failure would); otherwise requests are forwarded unchanged.
 */
async function startGate(
  target: string,
): Promise<{ url: string; setDown(d: boolean): void; close(): Promise<void> }> {
  let down = false;
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (down) {
      res.writeHead(503, { "content-type": "text/plain" }).end("upstream unavailable");
      return;
    }
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (typeof v === "string" && k !== "host" && k !== "content-length") headers[k] = v;
    }
    const upstream = await fetch(new URL(req.url ?? "/", target), {
      method: req.method ?? "POST",
      headers,
      ...(chunks.length > 0 ? { body: Buffer.concat(chunks) } : {}),
    });
    const body = Buffer.from(await upstream.arrayBuffer());
    res.writeHead(upstream.status, {
      "content-type": upstream.headers.get("content-type") ?? "application/json",
    });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    setDown: (d) => {
      down = d;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const TOKEN = "xoxb-test-reporter";
const CHANNEL = "C0INCIDENTS";
let sb: SandboxSlack;

beforeAll(async () => {
  sb = await startSandboxSlack({ botToken: TOKEN });
});
afterAll(async () => {
  await sb.close();
});
beforeEach(() => sb.reset());

const client = (apiUrl = sb.apiUrl) =>
  new WebClient(TOKEN, { slackApiUrl: apiUrl, retryConfig: { retries: 0 }, timeout: 5000 });

function reporter(
  threads: MemoryThreads,
  opts: {
    key?: string;
    runId?: string;
    apiUrl?: string;
    rootStageIntervalMs?: number;
    replyGatherMs?: number;
  } = {},
) {
  return new SlackThreadReporter({
    client: client(opts.apiUrl),
    channel: CHANNEL,
    incidentKey: opts.key ?? "am-shop-checkout",
    threads,
    view: {
      runId: opts.runId ?? "run-1",
      alertname: "CheckoutErrors",
      severity: "critical",
      namespace: "shop",
      workload: "checkout",
      trigger: "alert",
      requestedBy: null,
      startedAt: "2026-05-01T10:00:00.000Z",
    },
    approvers: ["U0APPROVER"],
    approvalTimeoutMs: 30 * 60_000,
    // Every stage on the root unless a test looks at the interval.
    rootStageIntervalMs: opts.rootStageIntervalMs ?? 0,
    ...(opts.replyGatherMs !== undefined ? { replyGatherMs: opts.replyGatherMs } : {}),
  });
}

const blockTypes = (m: { blocks: unknown[] }) => m.blocks.map((b) => (b as { type: string }).type);
const json = (m: { blocks: unknown[] }) => JSON.stringify(m.blocks);

async function emitAll(r: SlackThreadReporter, events: RunEvent[]): Promise<void> {
  for (const e of events) await r.emit(e);
}

/** What the worker hands `receiptStored` for a finished run's events (its head is the last event). */
function receiptOf(events: RunEvent[]): { headHash: string; events: number; keyId: string } {
  const head = events[events.length - 1]!;
  return { headHash: head.hash, events: head.seq + 1, keyId: "0123456789abcdef" };
}

describe("SlackThreadReporter", () => {
  it("posts one root, updates it in place and threads a reply per stage, then the receipt", async () => {
    const threads = new MemoryThreads();
    const r = reporter(threads);
    const events = resolvedRun();
    await emitAll(r, events);
    // run.finished alone offers no receipt: the worker says when the signed receipt is stored.
    expect(sb.messages(CHANNEL).some((m) => m.text.startsWith("Receipt for run"))).toBe(false);
    r.receiptStored(receiptOf(events));
    expect(await r.flush()).toBe(true);

    const thread = r.thread();
    expect(thread).not.toBeNull();
    expect(threads.map.get("am-shop-checkout")).toEqual(thread);
    const top = sb.messages(CHANNEL).filter((m) => m.thread_ts === null);
    expect(top).toHaveLength(1);
    const root = top[0]!;
    expect(root.ts).toBe(thread!.ts);
    expect(root.edited).toBe(true);
    expect(blockTypes(root)[0]).toBe("header");
    expect(json(root)).toContain(":white_check_mark: shop/checkout");
    expect(json(root)).toContain("*Status*\\nResolved");
    expect(json(root)).toContain("4/4 ready");

    const replies = sb.thread(CHANNEL, root.ts).slice(1);
    const heads = replies.map((m) => m.text.split(":")[0]);
    expect(heads).toEqual([
      "Signals for shop/checkout",
      "Redaction",
      "Fallback gpt-small → claude-mid",
      "Diagnosis from claude-mid (82%)",
      "Quality gate PASS",
      "Action gate PASS",
      "Action executed",
      "Recovered",
      "Ticket filed",
      "Run finished",
      "Receipt for run run-1",
    ]);
    const receipt = replies[replies.length - 1]!;
    expect(json(receipt)).toContain(ACTION_RECEIPT);
    expect(json(receipt)).toContain(events[events.length - 1]!.hash);
    expect(json(receipt)).toContain("13 events");
    expect(json(receipt)).toContain("0123456789abcdef");
    expect(r.pending()).toBe(0);
    // The root is only updated when the status or stage changes, not once per event.
    const updates = sb.calls().filter((c) => c.method === "chat.update");
    expect(updates.length).toBeGreaterThanOrEqual(4);
    expect(updates.length).toBeLessThan(events.length);
  });

  it("escalation: Approve/Reject buttons, then the decision replaces them and is posted", async () => {
    const threads = new MemoryThreads();
    const r = reporter(threads, { runId: "run-2" });
    const events = escalatedRun("run-2");
    await emitAll(r, events);
    const root = sb.messages(CHANNEL).find((m) => m.thread_ts === null)!;
    expect(json(root)).toContain(":raised_hand: shop/checkout");
    const esc = sb.thread(CHANNEL, root.ts).find((m) => blockTypes(m).includes("actions"))!;
    expect(json(esc)).toContain(ACTION_APPROVE);
    expect(json(esc)).toContain(ACTION_REJECT);
    expect(json(esc)).toContain('"value":"run-2"');
    expect(json(esc)).toContain("<@U0APPROVER>");

    const rec = recorder("run-2");
    for (const e of events) rec.add(e.type, e.data as never);
    await r.emit(
      rec.add("approval.decided", { decision: "rejected", by: "U0APPROVER", at: "2026-05-01T10:05:00.000Z" }),
    );

    const after = sb.thread(CHANNEL, root.ts);
    const updatedEsc = after.find((m) => m.ts === esc.ts)!;
    expect(updatedEsc.edited).toBe(true);
    expect(blockTypes(updatedEsc)).not.toContain("actions");
    expect(json(updatedEsc)).toContain("*Rejected* by <@U0APPROVER>");
    expect(after[after.length - 1]!.text).toContain("Decision: rejected");
    const rootNow = sb.messages(CHANNEL).find((m) => m.ts === root.ts)!;
    expect(json(rootNow)).toContain(":no_entry_sign: shop/checkout");
  });

  it("a later run of the same incident (resume after a decision) reuses the thread", async () => {
    const threads = new MemoryThreads();
    await emitAll(reporter(threads, { runId: "run-2" }), escalatedRun("run-2"));
    const root = sb.messages(CHANNEL).find((m) => m.thread_ts === null)!;
    const second = reporter(threads, { runId: "run-2" });
    const rec = recorder("run-2");
    const d = rec.add("approval.decided", {
      decision: "approved",
      by: "U0APPROVER",
      at: "2026-05-01T10:05:00.000Z",
    });
    await second.emit(d);
    await second.emit(
      rec.add("action.executed", { action: { ...ROLLBACK }, idempotency_key: "k", revision: 5 }),
    );
    expect(second.thread()).toEqual({ channel: CHANNEL, ts: root.ts });
    expect(sb.messages(CHANNEL).filter((m) => m.thread_ts === null)).toHaveLength(1);
    const texts = sb.thread(CHANNEL, root.ts).map((m) => m.text);
    expect(texts.some((t) => t.startsWith("Decision: approved"))).toBe(true);
    expect(texts.some((t) => t.startsWith("Action executed"))).toBe(true);
    expect(json(sb.messages(CHANNEL).find((m) => m.ts === root.ts)!)).toContain(":hammer_and_wrench:");
  });

  it("two workers racing on one incident end in one thread; the loser's root becomes a pointer", async () => {
    const threads = new MemoryThreads(2);
    const a = reporter(threads, { runId: "run-a" });
    const b = reporter(threads, { runId: "run-b" });
    const [ea, eb] = [resolvedRun("run-a"), resolvedRun("run-b")];
    await Promise.all([a.emit(ea[0]!), b.emit(eb[0]!)]);
    expect(a.thread()).toEqual(b.thread());
    await a.emit(ea[1]!);
    await b.emit(eb[1]!);
    const tops = sb.messages(CHANNEL).filter((m) => m.thread_ts === null);
    expect(tops).toHaveLength(2);
    const winner = tops.find((m) => m.ts === a.thread()!.ts)!;
    const loser = tops.find((m) => m.ts !== winner.ts)!;
    expect(loser.edited).toBe(true);
    expect(json(loser)).toContain("followed in its existing thread");
    expect(sb.thread(CHANNEL, winner.ts).slice(1)).toHaveLength(2);
    expect(sb.thread(CHANNEL, loser.ts).slice(1)).toHaveLength(0);
    expect(sb.calls().some((c) => c.method === "chat.delete")).toBe(false);
  });

  it("a Slack outage never throws out of emit; the backlog is posted in order when Slack is back", async () => {
    const gate = await startGate(sb.url);
    try {
      gate.setDown(true);
      const threads = new MemoryThreads();
      const r = reporter(threads, { apiUrl: `${gate.url}api/` });
      const events = resolvedRun();
      await expect(r.emit(events[0]!)).resolves.toBeUndefined();
      await expect(r.emit(events[1]!)).resolves.toBeUndefined();
      await expect(r.emit(events[2]!)).resolves.toBeUndefined();
      expect(r.thread()).toBeNull();
      expect(r.pending()).toBe(3); // two replies and the root
      expect(sb.messages(CHANNEL)).toHaveLength(0);

      gate.setDown(false);
      await r.emit(events[3]!); // model.call: no reply of its own, but it flushes
      expect(r.pending()).toBe(0);
      const root = sb.messages(CHANNEL).find((m) => m.thread_ts === null)!;
      // The two replies held back go out together, in order, as one message.
      const held = sb.thread(CHANNEL, root.ts).slice(1);
      expect(held).toHaveLength(1);
      expect(held[0]!.text.split("\n").map((t) => t.split(":")[0])).toEqual([
        "Signals for shop/checkout",
        "Redaction",
      ]);
      expect(held[0]!.blocks.some((b) => (b as { type: string }).type === "divider")).toBe(true);

      gate.setDown(true);
      await r.emit(events[4]!);
      expect(r.pending()).toBe(1); // the fallback reply (same stage as model.call: no root update)
      gate.setDown(false);
      expect(await r.flush()).toBe(true);
      expect(sb.thread(CHANNEL, root.ts).slice(1)).toHaveLength(2);
    } finally {
      await gate.close();
    }
  });

  it("a burst of events (nobody waits) posts the same blocks in order in fewer messages and root updates", async () => {
    // The same run twice: once waiting for each emit, once firing every event at once.
    const one = reporter(new MemoryThreads(), { key: "am-one", runId: "run-1" });
    const run = resolvedRun();
    await emitAll(one, run);
    one.receiptStored(receiptOf(run));
    await one.flush();
    const sequentialUpdates = sb.calls().filter((c) => c.method === "chat.update").length;
    const sequential = sb.thread(CHANNEL, one.thread()!.ts).slice(1);
    sb.reset();

    const burst = reporter(new MemoryThreads(), { key: "am-two", runId: "run-1" });
    const events = resolvedRun();
    const emitted = events.map((e) => burst.emit(e));
    burst.receiptStored(receiptOf(events));
    await Promise.all(emitted);
    await burst.flush();
    expect(burst.pending()).toBe(0);
    const replies = sb.thread(CHANNEL, burst.thread()!.ts).slice(1);
    // Replies queued together share a message (a divider between them); nothing is lost or reordered.
    expect(replies.length).toBeLessThan(sequential.length);
    const content = (ms: { blocks: unknown[] }[]) =>
      ms.flatMap((m) => m.blocks).filter((b) => (b as { type: string }).type !== "divider");
    expect(content(replies)).toEqual(content(sequential));
    // The receipt (it has a button) stays a message of its own, and is still the last.
    expect(replies.at(-1)!.text).toBe(sequential.at(-1)!.text);
    for (const m of replies) expect(m.blocks.length).toBeLessThanOrEqual(50);
    const updates = sb.calls().filter((c) => c.method === "chat.update").length;
    expect(updates).toBeLessThan(sequentialUpdates);
    // The root still ends on the run's last state.
    const root = sb.messages(CHANNEL).find((m) => m.thread_ts === null)!;
    expect(json(root)).toContain("*Status*\\nResolved");
  });

  it("background(): emit returns before Slack answers; flush() posts everything, also after an outage", async () => {
    const gate = await startGate(sb.url);
    try {
      gate.setDown(true);
      const r = reporter(new MemoryThreads(), { apiUrl: `${gate.url}api/` });
      const bg = r.background();
      const run = resolvedRun();
      for (const e of run) expect(bg.emit(e)).toBeUndefined();
      r.receiptStored(receiptOf(run));
      expect(await r.flush()).toBe(false);
      expect(sb.messages(CHANNEL)).toHaveLength(0);
      gate.setDown(false);
      expect(await r.flush()).toBe(true);
      const replies = sb.thread(CHANNEL, r.thread()!.ts).slice(1);
      expect(replies.map((m) => m.text.split(":")[0]).at(-1)).toBe("Receipt for run run-1");
      // Eleven replies, held back together, go out joined: the receipt (with its button) alone.
      expect(
        replies
          .map((m) => m.text)
          .join("\n")
          .split("\n").length,
      ).toBeGreaterThanOrEqual(11);
      expect(replies.length).toBeLessThan(11);
    } finally {
      await gate.close();
    }
  });

  it("background(): events that follow each other within replyGatherMs go out as one message", async () => {
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    const replies = async (gatherMs: number, key: string) => {
      const r = reporter(new MemoryThreads(), { key, replyGatherMs: gatherMs });
      const bg = r.background();
      const events = resolvedRun().filter((e) => e.type !== "run.finished");
      for (const e of events) {
        bg.emit(e);
        await sleep(5);
      }
      if (gatherMs > 100) {
        // The first event opened the thread at once; its replies wait for the window to end.
        for (let i = 0; i < 25 && r.thread() === null; i++) await sleep(10);
        expect(r.thread()).not.toBeNull();
        expect(sb.thread(CHANNEL, r.thread()!.ts).slice(1)).toHaveLength(0);
      }
      for (let i = 0; i < 200 && (r.pending() > 0 || r.thread() === null); i++) await sleep(10);
      expect(r.pending()).toBe(0);
      return sb.thread(CHANNEL, r.thread()!.ts).slice(1);
    };
    const oneByOne = await replies(0, "am-one-by-one");
    sb.reset();
    const gathered = await replies(400, "am-gathered");
    expect(oneByOne.length).toBeGreaterThan(5);
    expect(gathered.length).toBeLessThan(oneByOne.length);
    // The same replies, in the same order, only joined.
    const lines = (ms: { text: string }[]) => ms.flatMap((m) => m.text.split("\n"));
    expect(lines(gathered)).toEqual(lines(oneByOne));
  });

  it("a decision emitted before its escalation was posted still replaces the buttons", async () => {
    const r = reporter(new MemoryThreads(), { runId: "run-2" });
    const events = escalatedRun("run-2");
    const rec = recorder("run-2");
    for (const e of events) rec.add(e.type, e.data as never);
    const decided = rec.add("approval.decided", {
      decision: "rejected",
      by: "U0APPROVER",
      at: "2026-05-01T10:05:00.000Z",
    });
    await Promise.all([...events, decided].map((e) => r.emit(e)));
    const thread = sb.thread(CHANNEL, r.thread()!.ts);
    const esc = thread.find((m) => json(m).includes("*Rejected* by <@U0APPROVER>"))!;
    expect(esc.edited).toBe(true);
    expect(blockTypes(esc)).not.toContain("actions");
    expect(thread.some((m) => json(m).includes(ACTION_APPROVE))).toBe(false);
  });

  it("a stage change alone waits for the root's interval; a status change, the timer and flush() do not", async () => {
    const updates = () => sb.calls().filter((c) => c.method === "chat.update").length;
    const every = reporter(new MemoryThreads(), { key: "am-every" });
    await emitAll(every, resolvedRun());
    const perStage = updates();
    const finalRoot = sb.messages(CHANNEL).find((m) => m.thread_ts === null)!;
    sb.reset();

    const held = reporter(new MemoryThreads(), { key: "am-held", rootStageIntervalMs: 60_000 });
    const events = resolvedRun();
    await emitAll(held, events);
    const heldUpdates = updates();
    expect(heldUpdates).toBeGreaterThan(0); // status changes still show at once
    expect(heldUpdates).toBeLessThan(perStage);
    expect(await held.flush()).toBe(true);
    const root = sb.messages(CHANNEL).find((m) => m.thread_ts === null)!;
    expect(root.blocks).toEqual(finalRoot.blocks);

    // A held-back stage shows when the interval ends, without another event.
    sb.reset();
    const timed = reporter(new MemoryThreads(), { key: "am-timed", rootStageIntervalMs: 50 });
    // Up to recovery.verified (status "acting"), then ticket.filed: a new stage with the same status.
    const ticket = events.findIndex((e) => e.type === "ticket.filed");
    await emitAll(timed, events.slice(0, ticket + 1));
    const before = updates();
    await new Promise((r) => setTimeout(r, 300));
    expect(updates()).toBeGreaterThan(before);
    expect(timed.pending()).toBe(0);
  });

  it("a failing thread store is logged and retried on the next event", async () => {
    const threads = new MemoryThreads();
    threads.failGets = 1;
    const r = reporter(threads);
    const events = resolvedRun();
    await expect(r.emit(events[1]!)).resolves.toBeUndefined();
    expect(r.thread()).toBeNull();
    await r.emit(events[2]!);
    expect(r.thread()).not.toBeNull();
    // Both replies, the held-back one first, in one message.
    const replies = sb.thread(CHANNEL, r.thread()!.ts).slice(1);
    expect(replies.map((m) => m.text.split("\n").map((t) => t.split(":")[0]))).toEqual([
      ["Signals for shop/checkout", "Redaction"],
    ]);
  });

  it("a permanent Slack refusal (unknown channel) is logged and never throws out of emit", async () => {
    const strict = await startSandboxSlack({ botToken: TOKEN, channels: [{ id: "C0OTHER", name: "other" }] });
    try {
      const r = reporter(new MemoryThreads(), { apiUrl: strict.apiUrl });
      await expect(r.emit(resolvedRun()[1]!)).resolves.toBeUndefined();
      expect(r.thread()).toBeNull();
      expect(strict.messages()).toHaveLength(0);
    } finally {
      await strict.close();
    }
  });
});

describe("isTransientSlackError", () => {
  it("tells a refused call (ok:false) from an unreachable Slack, with real WebClient errors", async () => {
    const strict = await startSandboxSlack({ botToken: TOKEN, channels: [{ id: "C0OTHER", name: "other" }] });
    const gate = await startGate(strict.url);
    try {
      const refused = await client(strict.apiUrl)
        .chat.postMessage({ channel: "C0NOPE", text: "x" })
        .catch((e: unknown) => e);
      expect((refused as { data?: { error?: string } }).data?.error).toBe("channel_not_found");
      expect(isTransientSlackError(refused)).toBe(false);
      gate.setDown(true);
      const unavailable = await client(`${gate.url}api/`)
        .chat.postMessage({ channel: "C0OTHER", text: "x" })
        .catch((e: unknown) => e);
      expect(isTransientSlackError(unavailable)).toBe(true);
      expect(isTransientSlackError(new Error("boom"))).toBe(false);
      expect(isTransientSlackError(null)).toBe(false);
    } finally {
      await gate.close();
      await strict.close();
    }
  });
});
