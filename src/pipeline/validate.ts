import type { Diagnosis } from "../contracts/diagnosis.js";
import type { ActionRecord } from "../contracts/events.js";
import type { Signals } from "../contracts/signals.js";
import { APPROVABLE_RULES, checkActionRules, runActionGate } from "../guardrails/action-gate.js";
import { runQualityGate } from "../guardrails/quality.js";
import type { Diagnosed, ModelIO } from "./diagnose.js";
import { escalateRun, finishRun } from "./record.js";
import { type RunState, type StageDone, spendAnomaly } from "./state.js";
import type { Triaged } from "./triage.js";

/** The validate stage's answer: act on `action`, re-route to a stronger tier, or the run is over. */
export type Validated = { action: ActionRecord } | { reroute: true } | StageDone;

/**
 * Stage 3, validate: the quality gate (deterministic rules and the judge; `gate.quality`), then for a
 * grounded diagnosis that recommends an action the action gate (policy rules and a server-side
 * dry-run; `gate.action`). A failed gate is a `gate_failure` anomaly (and `low_confidence` for a failed
 * confidence rule) and re-routes when `canReroute`, else escalates. A diagnosis that recommends nothing
 * resolves the run. Whatever the verdict, the best action a human could approve is remembered on the
 * state (see {@link rememberCandidate}).
 */
export async function validate(
  state: RunState,
  triaged: Triaged,
  io: ModelIO,
  diagnosed: Diagnosed,
  canReroute: boolean,
): Promise<Validated> {
  const { ctx, out, input, deps, opts } = state;
  const { signals, namespaceLabels } = triaged;
  const { diagnosis, result } = diagnosed;
  const qualityStarted = performance.now();
  const quality = await runQualityGate(
    diagnosis,
    signals,
    { onset: input.onset, alertText: io.evidenceText, judge: io.judge, prompt: deps.prompts.judge },
    opts.quality,
  );
  ctx.addTime("quality", performance.now() - qualityStarted);
  const nextTier = result.target.tier + 1;
  // Whatever the verdict, remember the best action a human could approve: one the hard rules allow.
  rememberCandidate(state, diagnosis, signals, namespaceLabels);
  // The judge's verdict (reason, error) and rule details quote model output: redacted too.
  const judgeVerdict = await out.deep(quality.judge);
  const qualityRules = await out.deep(quality.rules);
  await out.flush(ctx, "judge");
  await ctx.emit("gate.quality", {
    passed: quality.passed,
    model: result.servedModel,
    rules: qualityRules,
    judge: judgeVerdict,
    reroute_to_tier: !quality.passed && canReroute ? nextTier : null,
  });
  if (!quality.passed) {
    const failedRules = quality.rules.filter((r) => !r.passed).map((r) => r.rule);
    if (quality.judge && quality.judge.grounded !== true && !failedRules.includes("judge_grounded")) {
      failedRules.push("judge_grounded");
    }
    state.failedRules = failedRules;
    let tripped = await spendAnomaly(state, "gate_failure", `quality gate failed: ${failedRules.join(", ")}`);
    if (!tripped && quality.rules.some((r) => r.rule === "confidence" && !r.passed)) {
      tripped = await spendAnomaly(state, "low_confidence", `confidence ${diagnosis.confidence}`);
    }
    const list = failedRules.join(", ");
    if (tripped)
      return {
        done: await escalateRun(state, `the diagnosis stayed ungrounded (${list}); anomaly budget spent`),
      };
    if (!canReroute)
      return {
        done: await escalateRun(state, `the diagnosis is ungrounded (${list}) and no stronger model is left`),
      };
    return { reroute: true };
  }

  if (diagnosis.recommended_action.type === "none") {
    return { done: await finishRun(state, "resolved", `No action needed: ${diagnosis.hypothesis}`, null) };
  }

  const gateStarted = performance.now();
  const verdict = await runActionGate(diagnosis, signals, deps.policy, {
    namespaceLabels,
    onset: input.onset,
    dryRun: async (a) => {
      const r = await deps.actions.dryRun(a);
      await ctx.emit("action.dry_run", { action: a, ok: r.ok, error: r.error });
      return r;
    },
  });
  ctx.addTime("action_gate", performance.now() - gateStarted);
  await ctx.emit("gate.action", { passed: verdict.passed, action: verdict.action, rules: verdict.rules });
  if (!verdict.passed || !verdict.action) {
    state.failedRules = verdict.rules.filter((r) => !r.passed).map((r) => r.rule);
    const list = state.failedRules.join(", ");
    const tripped = await spendAnomaly(state, "gate_failure", `action gate failed: ${list}`);
    if (tripped)
      return {
        done: await escalateRun(state, `the proposed action was refused (${list}); anomaly budget spent`),
      };
    if (!canReroute) return { done: await escalateRun(state, `the proposed action was refused (${list})`) };
    return { reroute: true };
  }
  return { action: verdict.action };
}

/**
 * Remembers on `state` the action a human could be asked to approve. Only an action the gate's policy
 * rules accept (hard rules, an earlier healthy rollback target resolved to its revision, a deploy
 * inside the onset window, restart only when unhealthy) on the run's own workload qualifies; one that
 * fails only an approvable rule (an older healthy rollback target) does too, unless a clean one is
 * already on hand.
 */
function rememberCandidate(
  state: RunState,
  d: Diagnosis,
  s: Signals,
  labels: Record<string, Record<string, string>>,
): void {
  if (d.recommended_action.type === "none") return;
  const { namespace, workload } = state.input.target;
  const { rules, action } = checkActionRules(d, s, state.deps.policy, {
    namespaceLabels: labels,
    onset: state.input.onset,
  });
  if (!action || action.namespace !== namespace || action.name !== workload) return;
  const failed = rules.filter((r) => !r.passed).map((r) => r.rule);
  const approvable = (id: string) => (APPROVABLE_RULES as readonly string[]).includes(id);
  if (failed.length === 0) {
    state.candidate = action;
    state.candidateClean = true;
  } else if (failed.every(approvable) && !state.candidateClean) {
    state.candidate = action;
  }
}
