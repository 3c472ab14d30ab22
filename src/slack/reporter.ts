import {
  decisionMessage,
  escalationMessage,
  eventReply,
  type IncidentStatus,
  type IncidentView,
  incidentRoot,
  receiptMessage,
  stageOf,
  statusOf,
  threadPointer,
} from "../../blocks/index.js";
import type { ActionRecord, RunEvent, RunEventDataMap, RunReporter } from "../contracts/events.js";
import { childLogger } from "../log.js";
import { PassTimer, SerialPasses } from "../serial-passes.js";
import {
  type EscalationMemo,
  nextBatch,
  type Outgoing,
  REPLY_GATHER_MS,
  ROOT_STAGE_INTERVAL_MS,
  type SlackThread,
  type SlackThreadReporterOptions,
  sendToSlack,
} from "./thread-outbox.js";

export {
  type IncidentThreadStore,
  isTransientSlackError,
  REPLY_GATHER_MS,
  ROOT_STAGE_INTERVAL_MS,
  type SlackThread,
  type SlackThreadReporterOptions,
} from "./thread-outbox.js";

/**
 * Posts one run's events into its incident's Slack thread (a {@link RunReporter}; the pipeline stays
 * Slack-free). On the first event it reuses the incident's root message (`getThread`) or posts one
 * (`chat.postMessage` with `incidentRoot`) and claims it (`claimThread`); when another worker claimed
 * first, it uses the winner's thread and turns its own root into a one-line pointer (nothing is deleted).
 * Then, per event: the root is updated in place (`chat.update`) when its status or stage changes, and
 * `eventReply(event)` (when not null) is posted as a thread reply (replies queued together are joined
 * into one message, see `nextBatch`); `escalation.opened` posts
 * `escalationMessage` with Approve/Reject; `approval.decided` also replaces that escalation's buttons with
 * `decisionMessage` when this reporter posted it; the receipt line comes from {@link receiptStored},
 * once the worker has stored the signed receipt.
 *
 * Slack failures never leave {@link emit}: they are logged. Messages that failed for a transient reason
 * (network, HTTP 5xx, 429) stay in an in-order backlog and are retried on the next `emit` (or
 * {@link flush}); permanent `ok: false` errors drop that one message. Emits are serialised.
 */
export class SlackThreadReporter implements RunReporter {
  private readonly opts: SlackThreadReporterOptions;
  private readonly log;
  private threadRef: SlackThread | null = null;
  private status: IncidentStatus = "queued";
  private stage: string | null = null;
  private summary: string | null = null;
  private rootDirty = false;
  /** The root must show a new status or summary: not held back by the stage interval. */
  private rootUrgent = false;
  /** The next pass updates the root whatever the interval (set by flush). */
  private forceRoot = false;
  /** When the root was last posted or updated (epoch ms). */
  private lastRootAt = Number.NEGATIVE_INFINITY;
  private readonly rootTimer = new PassTimer(() => void this.passes.request());
  /** A background pass waiting for the rest of a burst of events (see `replyGatherMs`). */
  private readonly gatherTimer = new PassTimer(() => void this.passes.request());
  /** The first background pass (it opens the thread) was asked for. */
  private opening = false;
  private backlog: Outgoing[] = [];
  private escalationTs: string | null = null;
  private escalation: EscalationMemo | null = null;
  private readonly passes = new SerialPasses(() => this.tryFlush());

  /** See {@link SlackThreadReporterOptions}. Throws nothing; no Slack call happens before the first emit. */
  constructor(opts: SlackThreadReporterOptions) {
    this.opts = opts;
    this.log = childLogger("slack-reporter", { incidentKey: opts.incidentKey, runId: opts.view.runId });
  }

  /** The `ts` of the escalation message (with Approve/Reject) this reporter posted, or null. */
  escalationMessageTs(): string | null {
    return this.escalationTs;
  }

  /**
   * Takes over the escalation message an earlier reporter of this run posted (a run resumed after its
   * decision), so `approval.decided` replaces its buttons — also for a decision no click made (expired).
   */
  adoptEscalation(ts: string, proposedAction: ActionRecord | null): void {
    this.escalationTs = ts;
    this.escalation = { proposedAction };
  }

  /** The incident's thread once known (after the first successful emit), else null. */
  thread(): SlackThread | null {
    return this.threadRef ? { ...this.threadRef } : null;
  }

  /** Messages waiting for Slack to come back (0 when everything was posted or dropped). */
  pending(): number {
    return this.backlog.length + (this.rootDirty ? 1 : 0);
  }

  /** The root's current view (status, stage and summary as the events so far set them). */
  view(): IncidentView {
    return { ...this.opts.view, status: this.status, stage: this.stage, summary: this.summary };
  }

  /**
   * Renders one event into the thread. Never throws (a Slack outage must not stop a run); failures are
   * logged and what could not be posted is retried on the next call.
   *
   * The event is rendered at once (in call order) and posted by the next flush pass; passes run one at
   * a time, so events that arrive while a pass is talking to Slack are posted by it or by the one pass
   * after it, and the root is updated once for all the stage changes between two passes (chat.update
   * is rate limited per app, Tier 3: https://docs.slack.dev/apis/web-api/rate-limits). The promise
   * resolves when a pass that includes this event is done, so awaiting it means "posted, or held
   * back for a retry". A run need not wait for it: see {@link background}.
   */
  emit(event: RunEvent): Promise<void> {
    this.render(event);
    return this.passes.request().then(() => undefined);
  }

  /** Retries the backlog now (e.g. at the end of a job). Resolves true when nothing is left. Never throws. */
  flush(): Promise<boolean> {
    this.forceRoot = true;
    this.gatherTimer.cancel();
    return this.passes.request();
  }

  /**
   * This reporter as one the run does not wait for: `emit` renders and queues the event and returns at
   * once, so Slack's latency and rate limits never slow the pipeline. The caller must {@link flush}
   * (bounded) before the run's job ends, as the worker's `settle` does.
   */
  background(): RunReporter {
    return {
      emit: (event: RunEvent) => {
        this.render(event);
        this.passAfterGather();
      },
    };
  }

  /** Applies and queues one event. Never throws: a rendering failure is logged and the event skipped. */
  private render(event: RunEvent): void {
    try {
      this.apply(event);
      this.enqueue(event);
    } catch (err) {
      this.log.error({ err, type: event.type }, "could not render a run event for Slack");
    }
  }

  /**
   * A pass once `replyGatherMs` has passed since the first event not yet sent (one timer at a time;
   * never keeps Node alive). The run's first event opens the thread at once: join notes, resolved-alert
   * notes and a pending approval's `threadTs` look the incident's thread up while the run goes on.
   */
  private passAfterGather(): void {
    const ms = this.opts.replyGatherMs ?? REPLY_GATHER_MS;
    if (ms <= 0 || (this.threadRef === null && !this.opening)) {
      this.opening = true;
      void this.passes.request();
      return;
    }
    this.gatherTimer.start(ms);
  }

  private apply(event: RunEvent): void {
    const status = statusOf(event, this.status);
    const stage = stageOf(event) ?? this.stage;
    if (event.type === "run.finished") {
      this.summary = (event.data as RunEventDataMap["run.finished"]).summary;
      this.rootDirty = true;
      this.rootUrgent = true;
    }
    if (status !== this.status) this.rootUrgent = true;
    if (status !== this.status || stage !== this.stage) this.rootDirty = true;
    this.status = status;
    this.stage = stage;
  }

  private enqueue(event: RunEvent): void {
    if (event.type === "escalation.opened") {
      const d = event.data as RunEventDataMap["escalation.opened"];
      const at = Date.parse(event.at);
      const expiresAt = new Date((Number.isFinite(at) ? at : Date.now()) + this.opts.approvalTimeoutMs);
      this.push({
        op: "post",
        what: event.type,
        msg: escalationMessage({
          runId: this.opts.view.runId,
          reason: d.reason,
          proposedAction: d.proposed_action,
          hypothesis: d.context.hypothesis,
          failedRules: d.context.failed_rules,
          approvers: this.opts.approvers,
          expiresAt: expiresAt.toISOString(),
        }),
        escalation: true,
      });
      this.escalation = { proposedAction: d.proposed_action };
      return;
    }
    const reply = eventReply(event);
    if (reply) this.push({ op: "post", what: event.type, msg: reply });
    if (event.type === "approval.decided" && this.escalation) {
      const d = event.data as RunEventDataMap["approval.decided"];
      this.push({
        op: "update",
        what: "escalation.decided",
        ts: null,
        msg: decisionMessage({
          runId: this.opts.view.runId,
          decision: d.decision,
          by: d.by,
          at: d.at,
          proposedAction: this.escalation.proposedAction,
        }),
      });
    }
  }

  /**
   * Queues the receipt line (`receiptMessage`: head hash, event count, key id, a download button) once
   * the run's signed receipt is stored, so the thread never offers a receipt that does not exist (a
   * run whose signing failed after `run.finished`). Posted by the next pass or {@link flush}. Never throws.
   */
  receiptStored(receipt: { headHash: string; events: number; keyId: string }): void {
    this.push({
      op: "post",
      what: "receipt",
      msg: receiptMessage({ runId: this.opts.view.runId, ...receipt }),
    });
  }

  private push(o: Outgoing): void {
    this.backlog.push(o);
    const max = this.opts.maxBacklog ?? 200;
    while (this.backlog.length > max) {
      const dropped = this.backlog.shift();
      this.log.warn(
        { what: dropped?.what },
        "Slack unreachable for too long; dropped the oldest thread update",
      );
    }
  }

  /** The root now shows the current view (or Slack refused it for good): nothing is due. */
  private rootShown(): void {
    this.rootDirty = false;
    this.rootUrgent = false;
    this.lastRootAt = Date.now();
    this.rootTimer.cancel();
  }

  /** One pass: open the thread, update the root, post the backlog in order. Stops at a transient error. */
  private async tryFlush(): Promise<boolean> {
    // A flush() asked for the root before this pass started; one asked for later forces the next pass,
    // and a pass that stopped early leaves the request for the next one.
    const force = this.forceRoot;
    this.forceRoot = false;
    const done = await this.pass(force);
    if (!done && force) this.forceRoot = true;
    return done;
  }

  private async pass(force: boolean): Promise<boolean> {
    try {
      if (!this.threadRef && !(await this.openThread())) return false;
      const thread = this.threadRef!;
      if (this.rootDirty) {
        const interval = this.opts.rootStageIntervalMs ?? ROOT_STAGE_INTERVAL_MS;
        const wait = this.rootUrgent || force ? 0 : this.lastRootAt + interval - Date.now();
        if (wait > 0) this.rootTimer.start(wait);
        else {
          const ok = await sendToSlack(this.log, "root", () =>
            this.opts.client.chat.update({
              channel: thread.channel,
              ts: thread.ts,
              ...incidentRoot(this.view()),
            }),
          );
          if (ok === "retry") return false;
          this.rootShown();
        }
      }
      while (this.backlog.length > 0) {
        const { count, out: o } = nextBatch(this.backlog);
        const ok = await sendToSlack(this.log, o.what, async () => {
          if (o.op === "update") {
            const ts = o.ts ?? this.escalationTs;
            // The escalation message was never posted (Slack refused it): there are no buttons to replace.
            if (ts === null) return null;
            return this.opts.client.chat.update({ channel: thread.channel, ts, ...o.msg });
          }
          const res = await this.opts.client.chat.postMessage({
            channel: thread.channel,
            thread_ts: thread.ts,
            ...o.msg,
          });
          if (o.escalation && typeof res.ts === "string") this.escalationTs = res.ts;
          return res;
        });
        if (ok === "retry") return false;
        this.backlog.splice(0, count);
      }
      return true;
    } catch (err) {
      this.log.warn({ err }, "could not reach the incident thread; will retry on the next event");
      return false;
    }
  }

  /**
   * Finds or creates the incident's root. Returns false when Slack or the store could not be reached
   * (logged; the next emit tries again). Throws nothing.
   */
  private async openThread(): Promise<boolean> {
    const { client, threads, incidentKey } = this.opts;
    let existing: SlackThread | null;
    try {
      existing = await threads.getThread(incidentKey);
    } catch (err) {
      this.log.warn({ err }, "could not read the incident's thread; will retry");
      return false;
    }
    if (existing) {
      // An earlier run's root: show this run at once.
      this.threadRef = existing;
      this.rootDirty = true;
      this.rootUrgent = true;
      return true;
    }
    let mine: SlackThread;
    try {
      const res = await client.chat.postMessage({ channel: this.opts.channel, ...incidentRoot(this.view()) });
      if (typeof res.ts !== "string") throw new Error("chat.postMessage answered without a ts");
      mine = { channel: typeof res.channel === "string" ? res.channel : this.opts.channel, ts: res.ts };
    } catch (err) {
      this.log.warn({ err }, "could not post the incident's root message; will retry");
      return false;
    }
    this.rootShown();
    let won = true;
    try {
      won = await threads.claimThread(incidentKey, mine);
    } catch (err) {
      this.log.warn({ err }, "could not record the incident's thread; using this root");
    }
    if (won) {
      this.threadRef = mine;
      return true;
    }
    let winner: SlackThread | null = null;
    try {
      winner = await threads.getThread(incidentKey);
    } catch (err) {
      this.log.warn({ err }, "lost the thread claim and could not read the winner's");
    }
    if (!winner || (winner.channel === mine.channel && winner.ts === mine.ts)) {
      this.threadRef = mine;
      return true;
    }
    this.threadRef = winner;
    this.rootDirty = true;
    this.rootUrgent = true;
    await sendToSlack(this.log, "orphan-root", () =>
      client.chat.update({ channel: mine.channel, ts: mine.ts, ...threadPointer(this.opts.view) }),
    );
    return true;
  }
}
