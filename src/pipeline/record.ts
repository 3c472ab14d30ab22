import type { Diagnosis } from "../contracts/diagnosis.js";
import type { ActionRecord, RunOutcome } from "../contracts/events.js";
import { errorMessage } from "../errors.js";
import { endRun, type RunContext } from "./context.js";
import type { Escalation, PendingApproval, TicketSink } from "./ports.js";
import { OutputRedactor } from "./sanitize.js";
import type { RunState } from "./state.js";
import type { RunInput, RunResult } from "./types.js";

/**
 * Stage 5, record: ends a run with `outcome`. The summary and any escalation reason are redacted
 * first (they quote model output and router errors). An escalation emits `escalation.opened`; with
 * `awaitApproval` and a proposed action the run stays open (`pending`, persisted through `onPending`
 * before any reporter sees the escalation; no ticket, no `run.finished`). Otherwise the ticket is
 * filed and the run ends signed (see `endRun`).
 */
export async function finishRun(
  state: RunState,
  outcome: RunOutcome,
  rawSummary: string,
  rawEscalation: Escalation | null,
): Promise<RunResult> {
  const { ctx, out, input, opts, deps } = state;
  const summary = await out.text(rawSummary);
  const escalation = rawEscalation
    ? { ...rawEscalation, reason: await out.text(rawEscalation.reason) }
    : null;
  await out.flush(ctx, escalation ? "escalation" : "summary");
  if (escalation) {
    let pending: PendingApproval | null = null;
    await ctx.emit(
      "escalation.opened",
      {
        reason: escalation.reason,
        proposed_action: escalation.proposedAction,
        context: {
          hypothesis: escalation.diagnosis?.hypothesis ?? null,
          failed_rules: escalation.failedRules,
        },
      },
      async () => {
        if (!opts.awaitApproval || !escalation.proposedAction) return;
        pending = {
          runId: input.runId,
          ...(input.cluster ? { cluster: input.cluster } : {}),
          target: input.target,
          reason: escalation.reason,
          proposedAction: escalation.proposedAction,
          hypothesis: escalation.diagnosis?.hypothesis ?? null,
          events: [...ctx.recorder.events()],
          totals: structuredClone(ctx.totals),
          startedAt: new Date(state.startedMs).toISOString(),
          onset: Number.isNaN(input.onset.getTime()) ? null : input.onset.toISOString(),
        };
        // Persisted before any reporter shows the escalation, so a click can never find nothing.
        await opts.onPending?.(pending);
      },
    );
    if (pending) return endRun(ctx, { ...ending(state, outcome, summary, escalation), pending });
  }
  await fileTicket(ctx, deps.tickets, input, outcome, summary, state.lastDiagnosis, state.actions);
  return endRun(ctx, ending(state, outcome, summary, escalation));
}

function ending(state: RunState, outcome: RunOutcome, summary: string, escalation: Escalation | null) {
  return {
    runId: state.input.runId,
    agent: "backstop" as const,
    outcome,
    summary,
    startedMs: state.startedMs,
    signingKey: state.deps.signingKey,
    actions: state.actions,
    escalation,
    diagnosis: state.lastDiagnosis,
  };
}

/** Ends the run as `escalated` for `reason`, proposing the run's candidate action (if any) to a human. */
export function escalateRun(state: RunState, reason: string): Promise<RunResult> {
  return finishRun(state, "escalated", `Escalated to a human: ${reason}`, {
    reason,
    proposedAction: state.candidate,
    diagnosis: state.lastDiagnosis,
    failedRules: state.failedRules,
  });
}

/** `rollback shop/Deployment/checkout to 3f9c2a1`, for summaries and tickets. */
export function describeAction(a: ActionRecord): string {
  const ref = `${a.namespace}/${a.kind}/${a.name}`;
  if (a.type === "rollback") return `rollback ${ref} to ${a.to_sha ?? `revision ${a.to_revision}`}`;
  if (a.type === "scale") return `scale ${ref} to ${a.replicas}`;
  return `${a.type} ${ref}`;
}

/**
 * Files the run's ticket through `tickets` (none: a no-op) and emits `ticket.filed`. The summary and
 * hypothesis pass the output redactor again. A ticket that cannot be filed is recorded as a
 * `breaker.anomaly` (`tool_error`, no cost); this never throws for a sink failure.
 */
export async function fileTicket(
  ctx: RunContext,
  tickets: TicketSink | undefined,
  input: RunInput,
  outcome: RunOutcome,
  summary: string,
  diagnosis: Diagnosis | null,
  actions: ActionRecord[],
): Promise<void> {
  if (!tickets) return;
  // The cluster leads the title and the body: the same namespace/workload exists in every cluster.
  const where = input.cluster ? `${input.cluster}/` : "";
  // What came from a model (summary, hypothesis) passes the redactor again, in full, before the title
  // cuts it: idempotent when the run already redacted it, and a safety net for any caller that did not.
  const out = new OutputRedactor();
  const safeSummary = await out.text(summary);
  const hypothesis = diagnosis ? await out.text(diagnosis.hypothesis) : null;
  await out.flush(ctx, "ticket");
  const body = [
    ...(input.cluster ? [`Cluster: ${input.cluster}`] : []),
    `Outcome: ${outcome}`,
    safeSummary,
    diagnosis ? `Hypothesis: ${hypothesis} (confidence ${diagnosis.confidence})` : "No grounded diagnosis.",
    actions.length > 0 ? `Actions: ${actions.map(describeAction).join("; ")}` : "Actions: none",
    `Receipt head: ${ctx.recorder.headHash()}`,
    `Run: ${input.runId}`,
  ].join("\n\n");
  try {
    const t = await tickets.createTicket({
      title: `[${outcome}] ${where}${input.target.namespace}/${input.target.workload}: ${hypothesis?.slice(0, 80) ?? "incident"}`,
      description: body,
      labels: ["backstop", outcome, ...(input.cluster ? [`cluster:${input.cluster}`] : [])],
    });
    await ctx.emit("ticket.filed", { id: t.id, url: t.url, tool: "create_issue" });
  } catch (err) {
    await ctx.emit("breaker.anomaly", {
      kind: "tool_error",
      cost: 0,
      spent: 0,
      budget: 0,
      detail: `ticket not filed: ${errorMessage(err)}`,
    });
  }
}
