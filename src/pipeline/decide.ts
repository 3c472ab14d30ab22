import { idempotencyKey } from "../actions/write-path.js";
import type { Diagnosis } from "../contracts/diagnosis.js";
import type { ActionRecord, RuleResult, RunOutcome } from "../contracts/events.js";
import { errorMessage } from "../errors.js";
import { APPROVABLE_RULES, checkActionRules } from "../guardrails/action-gate.js";
import { actAndVerify } from "./act.js";
import { endRun, RunContext, timedPorts } from "./context.js";
import type { PendingApproval } from "./ports.js";
import { describeAction, fileTicket } from "./record.js";
import type { PipelineDeps, RunResult } from "./types.js";

/**
 * A human's answer to an escalation. `expired` is the timeout's answer (treated as a rejection);
 * `withdrawn` means the alert resolved on its own while it waited, so the approval was withdrawn.
 */
export interface Decision {
  decision: "approved" | "rejected" | "expired" | "withdrawn";
  /** Slack user id of the approver, or null for `expired` and `withdrawn`. */
  by: string | null;
  at: Date;
}

/**
 * Continues an escalated run after a decision, on the same hash chain: `approval.decided`, then for an
 * approval the action gate's policy rules again on fresh signals (protected, blast radius, scope,
 * replica bounds, rollback target and deploy window — an approval overrides none of them except the
 * {@link APPROVABLE_RULES}, recorded as overridden), a server-side dry-run, the action through the
 * narrow write path with the run's idempotency key (so the action runs at most once however often this
 * is called), recovery, the ticket and `run.finished`. Rejected or expired: nothing is changed.
 * Never throws for incident-level failures; they end the run as `escalated`.
 */
export async function resumeAfterDecision(
  pending: PendingApproval,
  decision: Decision,
  deps: PipelineDeps,
): Promise<RunResult> {
  const started = Date.parse(pending.startedAt);
  const ctx = new RunContext(
    pending.runId,
    deps.reporters,
    deps.clock,
    { events: pending.events, totals: pending.totals },
    pending.cluster ?? null,
  );
  deps = timedPorts(ctx, deps);
  const proposed = pending.proposedAction;
  const input = {
    runId: pending.runId,
    cluster: pending.cluster ?? null,
    trigger: "alert" as const,
    target: pending.target,
    onset: new Date(started),
    alert: null,
  };
  const actions: (typeof action)[] = [];
  await ctx.emit("approval.decided", {
    decision: decision.decision,
    by: decision.by,
    at: decision.at.toISOString(),
  });

  const finish = async (outcome: RunOutcome, summary: string): Promise<RunResult> => {
    await fileTicket(ctx, deps.tickets, input, outcome, summary, null, actions);
    return endRun(ctx, {
      runId: pending.runId,
      agent: "backstop",
      outcome,
      summary,
      startedMs: started,
      signingKey: deps.signingKey,
      actions,
      escalation: null,
      diagnosis: null,
    });
  };

  if (decision.decision !== "approved") {
    const why =
      decision.decision === "expired"
        ? "no decision before the approval timeout"
        : decision.decision === "withdrawn"
          ? "the alert resolved on its own; approval withdrawn"
          : `rejected by ${decision.by}`;
    return finish(
      "escalated",
      `Escalated, ${why}: nothing was changed (${describeAction(proposed)} was proposed).`,
    );
  }

  // One key per approved proposal, whatever the gate resolves it to: a retried decision job that finds
  // it on the workload knows the action already ran, and only watches the recovery again.
  const key = idempotencyKey(pending.runId, proposed);
  if (await deps.actions.wasApplied?.(proposed.namespace, proposed.name, key).catch(() => false)) {
    actions.push(proposed);
    const recovery = await deps.actions.waitForRecovery(proposed.namespace, proposed.name, {
      timeoutMs: deps.options?.recoveryTimeoutMs ?? 120_000,
    });
    await ctx.emit("recovery.verified", {
      ok: recovery.ok,
      workload: `${proposed.namespace}/${proposed.kind}/${proposed.name}`,
      ready: recovery.ready,
      desired: recovery.desired,
      waited_ms: recovery.waited_ms,
    });
    return recovery.ok
      ? finish(
          "resolved",
          `Approved by ${decision.by}: ${describeAction(proposed)} (applied by an earlier attempt).`,
        )
      : finish(
          "escalated",
          `Approved by ${decision.by}: ${describeAction(proposed)} was applied, but it did not recover.`,
        );
  }

  // An approval still passes the action gate's policy rules — the hard rules, the rollback target,
  // restart only when unhealthy — on what the cluster looks like now. Only the dry-run is left to run.
  let rules: RuleResult[];
  let action: ActionRecord = proposed;
  try {
    const [signals, namespaces] = await Promise.all([
      deps.signals.getSignals(proposed.namespace, proposed.name, deps.options?.window ?? "15m"),
      deps.signals.namespaces(),
    ]);
    const checked = checkActionRules(asDiagnosis(pending), signals, deps.policy, {
      namespaceLabels: Object.fromEntries(namespaces.map((n) => [n.name, n.labels])),
      onset: new Date(pending.onset ?? pending.startedAt),
    });
    // The human approved exactly this action, so the rules an approval may override (an older healthy
    // rollback target) are recorded as overridden; every other rule must still pass.
    rules = checked.rules.map((r) =>
      !r.passed && (APPROVABLE_RULES as readonly string[]).includes(r.rule)
        ? { rule: r.rule, passed: true, detail: `overridden by ${decision.by}'s approval: ${r.detail}` }
        : r,
    );
    if (checked.action) action = checked.action;
  } catch (err) {
    await ctx.emit("gate.action", {
      passed: false,
      action: proposed,
      rules: [{ rule: "signals_available", passed: false, detail: errorMessage(err) }],
    });
    return finish(
      "escalated",
      `Approved, but the workload could not be read (${errorMessage(err)}); nothing was changed.`,
    );
  }
  const dry = rules.every((r) => r.passed) ? await deps.actions.dryRun(action) : null;
  if (dry) {
    await ctx.emit("action.dry_run", { action, ok: dry.ok, error: dry.error });
    rules.push({
      rule: "server_dry_run",
      passed: dry.ok,
      detail: dry.ok ? "dry-run accepted" : (dry.error ?? "refused"),
    });
  }
  const passed = rules.every((r) => r.passed);
  await ctx.emit("gate.action", { passed, action, rules });
  if (!passed) {
    const failed = rules.filter((r) => !r.passed).map((r) => r.rule);
    return finish(
      "escalated",
      `Approved, but the action gate refused it (${failed.join(", ")}); nothing was changed.`,
    );
  }

  const acted = await actAndVerify(
    ctx,
    deps.actions,
    pending.runId,
    action,
    deps.options?.recoveryTimeoutMs ?? 120_000,
    key,
  );
  if (acted.ok || acted.stage !== "execute") actions.push(action);
  if (!acted.ok) return finish("escalated", `Approved by ${decision.by}, but ${acted.reason}.`);
  return finish(
    "resolved",
    `Approved by ${decision.by}: ${describeAction(action)}; ${acted.ready}/${acted.desired} ready.`,
  );
}

/** The approved action as the recommendation the action gate's rules read (the target is the suspect). */
function asDiagnosis(p: PendingApproval): Diagnosis {
  const a = p.proposedAction;
  return {
    hypothesis: p.hypothesis ?? p.reason,
    suspected_resource: `${a.namespace}/${a.kind}/${a.name}`,
    suspected_deploy_sha: null,
    confidence: 1,
    evidence: [],
    recommended_action: {
      type: a.type === "delete" ? "none" : a.type,
      namespace: a.namespace,
      kind: a.kind,
      name: a.name,
      ...(a.to_sha !== undefined ? { to_sha: a.to_sha } : {}),
      ...(a.replicas !== undefined ? { replicas: a.replicas } : {}),
    },
  };
}
