import type { Diagnosis } from "../contracts/diagnosis.js";
import type {
  ActionRecord,
  RunEvent,
  RunEventDataMap,
  RunEventType,
  RunOutcome,
  RunReporter,
} from "../contracts/events.js";
import type { Signals } from "../contracts/signals.js";
import { errorMessage } from "../errors.js";
import { childLogger } from "../log.js";
import { ReceiptRecorder } from "../receipt/chain.js";
import { type SigningKey, signReceipt } from "../receipt/index.js";
import type { Escalation, PendingApproval } from "./ports.js";
import type { RunResult } from "./run.js";

const log = childLogger("pipeline");

/** Totals over a run's model calls: tokens, USD, how many calls and fallbacks. */
export interface RunTotals {
  modelCalls: number;
  fallbacks: number;
  tokens: { input: number; output: number };
  costUsd: number;
}

/** Event types whose data names a workload or an action, so they carry the run's `cluster`. */
const CLUSTER_EVENTS: ReadonlySet<RunEventType> = new Set<RunEventType>([
  "run.started",
  "signals.gathered",
  "gate.action",
  "action.dry_run",
  "action.executed",
  "action.failed",
  "recovery.verified",
  "escalation.opened",
  "approval.decided",
  "ticket.filed",
]);

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
    } else if (type === "model.fallback") {
      this.totals.fallbacks += 1;
    }
    const stamped = this.cluster === null ? data : stampCluster(type, data, this.cluster);
    const event = this.recorder.append(type, stamped);
    if (beforeReport) await beforeReport(event);
    for (const reporter of this.reporters) {
      try {
        await reporter.emit(event);
      } catch (err) {
        log.warn({ err: errorMessage(err), type }, "a run reporter failed; the run goes on");
      }
    }
    return event;
  }
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
  return {
    runId: r.runId,
    agent: r.agent,
    outcome: r.outcome,
    actions: r.actions,
    escalation: r.escalation,
    diagnosis: r.diagnosis,
    receipt: signReceipt(r.runId, ctx.recorder.events(), r.signingKey),
    wallMs,
    pending: r.pending ?? null,
    ...ctx.totals,
  };
}
