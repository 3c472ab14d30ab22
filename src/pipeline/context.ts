import type { Diagnosis } from "../contracts/diagnosis.js";
import {
  type ActionRecord,
  RUN_EVENT_TYPES,
  RUN_EVENTS,
  type RunEvent,
  type RunEventDataMap,
  type RunEventType,
  type RunOutcome,
  type RunReporter,
} from "../contracts/events.js";
import type { Signals } from "../contracts/signals.js";
import type { CompletionRequest, ModelRouter } from "../gateway/router.js";
import { childLogger } from "../log.js";
import { ReceiptRecorder } from "../receipt/chain.js";
import { type SigningKey, signReceipt } from "../receipt/index.js";
import type { ActionRunner, Escalation, PendingApproval, SignalsSource, TicketSink } from "./ports.js";
import type { RunResult, RunTiming, RunTotals } from "./types.js";

export type { RunTiming, RunTotals } from "./types.js";

const log = childLogger("pipeline");

/** Event types whose data names a workload or an action, so they carry the run's `cluster` ({@link RUN_EVENTS}). */
const CLUSTER_EVENTS: ReadonlySet<RunEventType> = new Set(
  RUN_EVENT_TYPES.filter((t) => RUN_EVENTS[t].cluster),
);

/**
 * `data` with the run's cluster: `cluster` on every event of {@link CLUSTER_EVENTS}, and on the
 * `action` / `proposed_action` it carries. A copy; `data` is not changed.
 */
function stampCluster<T extends RunEventType>(
  type: T,
  data: RunEventDataMap[T],
  cluster: string,
): RunEventDataMap[T] {
  if (!CLUSTER_EVENTS.has(type)) return data;
  const out: Record<string, unknown> = { ...(data as Record<string, unknown>), cluster };
  for (const key of ["action", "proposed_action"]) {
    const a = out[key];
    if (a && typeof a === "object") out[key] = { ...(a as ActionRecord), cluster };
  }
  return out as RunEventDataMap[T];
}

/**
 * Stages whose time a run measures (ms). `signals` (get_signals + namespaces, Kubernetes API through
 * mcp-infra), `redaction`, `model` (time inside the router, all purposes: calls, fallbacks, retry
 * waits), `judge` (the judge's share of `model`), `quality` (the quality gate, judge included),
 * `action_gate` (the action gate, dry-run included), `dry_run`, `action` (the write), `recovery_watch`,
 * `ticket`, `receipt_signing`.
 */
export type TimedStage =
  | "signals"
  | "redaction"
  | "model"
  | "judge"
  | "quality"
  | "action_gate"
  | "dry_run"
  | "action"
  | "recovery_watch"
  | "ticket"
  | "receipt_signing";

/** Which measured stage an event reports; events not listed take the time since the previous event. */
const EVENT_STAGE: Partial<Record<RunEventType, TimedStage>> = {
  "signals.gathered": "signals",
  "redaction.applied": "redaction",
  "gate.quality": "quality",
  "gate.action": "action_gate",
  "action.dry_run": "dry_run",
  "action.executed": "action",
  "action.failed": "action",
  "recovery.verified": "recovery_watch",
  "ticket.filed": "ticket",
};

const r2 = (ms: number): number => Math.round(ms * 100) / 100;

/**
 * One run's event sink: appends each event to the hash-chained receipt, then hands it to every
 * reporter in order. A reporter that throws is logged and skipped; it never stops the run.
 * With a `cluster`, every event that names a workload or an action carries it (see {@link stampCluster}).
 */
export class RunContext {
  readonly recorder: ReceiptRecorder;
  readonly totals: RunTotals = { modelCalls: 0, fallbacks: 0, tokens: { input: 0, output: 0 }, costUsd: 0 };
  private readonly reporters: readonly RunReporter[];
  /** The cluster the run is on, or null (a run with no cluster, e.g. an old pending approval). */
  readonly cluster: string | null;
  private readonly t0 = performance.now();
  private lastEventAt = this.t0;
  private readonly stageMs = new Map<TimedStage, number>();
  private readonly unreported = new Map<TimedStage, number>();
  private readonly modelCalls: RunTiming["model_calls"] = [];

  /**
   * A fresh chain, or with `prior` the continuation of one (a run resumed after a human decision).
   * @throws BackstopError `receipt.chain` when `prior.events` does not verify.
   */
  constructor(
    runId: string,
    reporters: readonly RunReporter[],
    clock?: () => Date,
    prior?: { events: readonly RunEvent[]; totals: RunTotals },
    cluster?: string | null,
  ) {
    this.cluster = cluster ?? null;
    const base = clock ? { runId, clock } : { runId };
    this.recorder = prior
      ? ReceiptRecorder.resume({ ...base, events: prior.events })
      : new ReceiptRecorder(base);
    if (prior) {
      this.totals = structuredClone(prior.totals);
    }
    this.reporters = reporters;
  }

  /**
   * Appends one typed event to the receipt and reports it. Returns the chained event. `beforeReport`
   * runs after the event is on the chain and before any reporter sees it (e.g. to persist a pending
   * approval before Slack shows its Approve button); if it throws, nothing is reported and it rethrows.
   */
  async emit<T extends RunEventType>(
    type: T,
    data: RunEventDataMap[T],
    beforeReport?: (event: RunEvent<T>) => Promise<void>,
  ): Promise<RunEvent<T>> {
    if (type === "model.call") {
      const d = data as RunEventDataMap["model.call"];
      this.totals.modelCalls += 1;
      this.totals.tokens.input += d.tokens.input;
      this.totals.tokens.output += d.tokens.output;
      this.totals.costUsd += d.cost_usd;
      this.modelCalls.push({
        purpose: d.purpose,
        target: d.target,
        attempt: d.attempt,
        ok: d.ok,
        ms: d.latency_ms,
      });
    } else if (type === "model.fallback") {
      this.totals.fallbacks += 1;
    }
    const nowMs = performance.now();
    const stage = EVENT_STAGE[type];
    let duration = nowMs - this.lastEventAt;
    if (type === "model.call") duration = (data as RunEventDataMap["model.call"]).latency_ms;
    else if (stage && this.unreported.has(stage)) {
      duration = this.unreported.get(stage) ?? duration;
      this.unreported.delete(stage);
    }
    this.lastEventAt = nowMs;
    const stamped = this.cluster === null ? data : stampCluster(type, data, this.cluster);
    const event = this.recorder.append(type, stamped, Math.max(0, Math.round(duration)));
    if (beforeReport) await beforeReport(event);
    for (const reporter of this.reporters) {
      try {
        await reporter.emit(event);
      } catch (err) {
        log.warn({ err, type }, "a run reporter failed; the run goes on");
      }
    }
    return event;
  }

  /**
   * Runs `fn` and adds its wall time to `stage` (also when it throws); the next event of that stage
   * (see `EVENT_STAGE`) carries the time measured since its previous one as `duration_ms`.
   */
  async measure<T>(stage: TimedStage, fn: () => Promise<T>): Promise<T> {
    const t = performance.now();
    try {
      return await fn();
    } finally {
      this.addTime(stage, performance.now() - t);
    }
  }

  /** Adds `ms` to `stage` (see {@link RunContext.measure}). */
  addTime(stage: TimedStage, ms: number): void {
    this.stageMs.set(stage, (this.stageMs.get(stage) ?? 0) + ms);
    this.unreported.set(stage, (this.unreported.get(stage) ?? 0) + ms);
  }

  /**
   * The run's {@link RunTiming} so far. Model time is the router's measured time when the router was
   * wrapped ({@link timedPorts}), else the sum of `model.call` latencies.
   */
  timing(): RunTiming {
    const get = (s: TimedStage) => this.stageMs.get(s) ?? 0;
    const callMs = this.modelCalls.reduce((n, c) => n + c.ms, 0);
    const model = this.stageMs.has("model") ? get("model") : callMs;
    const judge = get("judge");
    const kubernetes = get("signals") + get("dry_run") + get("action");
    const wall = performance.now() - this.t0;
    return {
      wall_ms: r2(wall),
      signals_ms: r2(get("signals")),
      redaction_ms: r2(get("redaction")),
      model_ms: r2(model),
      model_calls: this.modelCalls.map((c) => ({ ...c })),
      quality_rules_ms: r2(Math.max(0, get("quality") - judge)),
      judge_ms: r2(judge),
      action_gate_ms: r2(Math.max(0, get("action_gate") - get("dry_run"))),
      dry_run_ms: r2(get("dry_run")),
      action_ms: r2(get("action")),
      recovery_watch_ms: r2(get("recovery_watch")),
      ticket_ms: r2(get("ticket")),
      receipt_signing_ms: r2(get("receipt_signing")),
      kubernetes_ms: r2(kubernetes),
      own_ms: r2(Math.max(0, wall - model - kubernetes - get("recovery_watch"))),
    };
  }
}

/**
 * Wraps the pipeline's ports so their time lands in `ctx`'s stages: the signals source → `signals`,
 * the router → `model` (and `judge` for `purpose: "judge"`), the action runner's dry-run, execute and
 * recovery watch → `dry_run`, `action`, `recovery_watch`, the ticket sink → `ticket`. Behaviour is
 * unchanged: every call and error passes through as is.
 */
export function timedPorts<
  D extends {
    signals: SignalsSource;
    router: Pick<ModelRouter, "complete" | "maxTier">;
    actions: ActionRunner;
    tickets?: TicketSink | undefined;
  },
>(ctx: RunContext, deps: D): D {
  const s = deps.signals;
  const r = deps.router;
  const a = deps.actions;
  const t = deps.tickets;
  return {
    ...deps,
    signals: {
      namespaces: () => ctx.measure("signals", () => s.namespaces()),
      getSignals: (ns: string, w: string, win?: string) =>
        ctx.measure("signals", () => s.getSignals(ns, w, win)),
      // Kept when the source has it: without it a run whose alert named a pod, an HPA or a Job
      // would triage that name instead of the workload that owns it.
      ...(s.resolveOwner
        ? {
            resolveOwner: (ns: string, kind: "Pod" | "HorizontalPodAutoscaler" | "Job", name: string) =>
              ctx.measure("signals", () => s.resolveOwner!(ns, kind, name)),
          }
        : {}),
    },
    router: {
      maxTier: () => r.maxTier(),
      complete: async (req: CompletionRequest) => {
        const started = performance.now();
        try {
          return await ctx.measure("model", () => r.complete(req));
        } finally {
          if (req.purpose === "judge") ctx.addTime("judge", performance.now() - started);
        }
      },
    },
    actions: {
      ...(a.wasApplied ? { wasApplied: a.wasApplied.bind(a) } : {}),
      dryRun: (x: ActionRecord) => ctx.measure("dry_run", () => a.dryRun(x)),
      execute: (x: ActionRecord, key: string) => ctx.measure("action", () => a.execute(x, key)),
      waitForRecovery: (ns: string, name: string, o?: { timeoutMs?: number }) =>
        ctx.measure("recovery_watch", () => a.waitForRecovery(ns, name, o)),
    },
    tickets: t
      ? {
          createTicket: (x: Parameters<TicketSink["createTicket"]>[0]) =>
            ctx.measure("ticket", () => t.createTicket(x)),
        }
      : t,
  };
}

/** The `signals.gathered` data for a set of signals and the tool calls that fetched them. */
export function signalsSummary(
  s: Signals,
  toolCalls: RunEventDataMap["signals.gathered"]["tool_calls"],
): RunEventDataMap["signals.gathered"] {
  return {
    namespace: s.namespace,
    workload: s.workload.name,
    pods: s.pods.length,
    unhealthy_pods: s.pods.filter((p) => !p.ready).length,
    revisions: s.rollout_history.length,
    events: s.events.length,
    log_lines: s.logs.reduce((n, l) => n + l.lines.length, 0),
    tool_calls: toolCalls,
  };
}

/**
 * Ends a run: emits `run.finished` (outcome, summary, wall time since `startedMs`, USD rounded to
 * 6 decimals, tokens) — unless it waits for a decision (`pending`), which leaves the chain open — signs
 * the chain with `signingKey` and returns the {@link RunResult}.
 */
export async function endRun(
  ctx: RunContext,
  r: {
    runId: string;
    agent: "backstop" | "naive";
    outcome: RunOutcome;
    summary: string;
    startedMs: number;
    signingKey: SigningKey;
    actions: ActionRecord[];
    escalation: Escalation | null;
    diagnosis: Diagnosis | null;
    pending?: PendingApproval | null;
  },
): Promise<RunResult> {
  const wallMs = Date.now() - r.startedMs;
  if (!r.pending) {
    await ctx.emit("run.finished", {
      outcome: r.outcome,
      summary: r.summary,
      wall_ms: wallMs,
      cost_usd: Math.round(ctx.totals.costUsd * 1e6) / 1e6,
      tokens: { ...ctx.totals.tokens },
    });
  }
  const tSign = performance.now();
  const receipt = signReceipt(r.runId, ctx.recorder.events(), r.signingKey);
  ctx.addTime("receipt_signing", performance.now() - tSign);
  return {
    runId: r.runId,
    agent: r.agent,
    outcome: r.outcome,
    actions: r.actions,
    escalation: r.escalation,
    diagnosis: r.diagnosis,
    receipt,
    wallMs,
    pending: r.pending ?? null,
    timing: ctx.timing(),
    ...ctx.totals,
  };
}
