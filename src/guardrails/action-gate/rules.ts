import { type Diagnosis, parseResourceRef, type RecommendedAction } from "../../contracts/diagnosis.js";
import type { ActionRecord, RuleResult } from "../../contracts/events.js";
import type { RolloutRevision, Signals } from "../../contracts/signals.js";
import { canonicalKind, type Policy } from "../policy.js";
import { currentRevision, workloadState } from "../quality/state.js";
import { type NamedRule, namedRule, outcome, runRules } from "../rule-table.js";
import { checkHardRules } from "./hard-rules.js";
import { concreteAction, deployWindow, newestHealthyBefore, rollbackTarget } from "./rollback.js";
import type { ActionGateContext } from "./types.js";

/**
 * A rollback checked against the signals' history: the `current` revision (the one being undone) and
 * the resolved target with how it resolved (see {@link rollbackTarget}).
 */
export interface RollbackFacts {
  current: RolloutRevision;
  target: RolloutRevision | null;
  why: string;
}

/**
 * What every policy rule reads, resolved once before the table runs: the diagnosis and its recommended
 * action `ra`, the signals, the policy and the incident's `onset`; `onWorkload` when `ra` targets the
 * signals' workload (namespace and name); for a rollback on it with a current revision, `rollback`
 * ({@link RollbackFacts}, else null); and the concrete `action` (null for `none`).
 */
export interface ActionRuleContext {
  diagnosis: Diagnosis;
  ra: RecommendedAction;
  signals: Signals;
  policy: Policy;
  onset: Date | undefined;
  onWorkload: boolean;
  rollback: RollbackFacts | null;
  action: ActionRecord | null;
}

type ActionRule = NamedRule<ActionRuleContext>;

/** A rollback's facts, or why it cannot be checked against the history (another workload, no current revision). */
function rollbackFacts(c: ActionRuleContext): { facts: RollbackFacts } | { blocked: string } {
  if (!c.onWorkload) return { blocked: "the rollback targets another workload than the signals' history" };
  return c.rollback ? { facts: c.rollback } : { blocked: "no current revision in the rollout history" };
}

/** `rollback_target`: the target resolves, is earlier than the current revision and is `healthy`. */
const rollbackTargetRule: ActionRule = namedRule("rollback_target", (c) => {
  if (c.ra.type !== "rollback") return outcome(true, `n/a for ${c.ra.type}`);
  const r = rollbackFacts(c);
  if ("blocked" in r) return outcome(false, r.blocked);
  const { current, target, why } = r.facts;
  let fail: string | null = null;
  if (!target) fail = why;
  else if (target.revision >= current.revision || target.sha === current.sha) {
    fail = `${why}, which is not earlier than the current revision ${current.revision}`;
  } else if (target.health !== "healthy") fail = `${why}, whose health is ${target.health} (must be healthy)`;
  return outcome(
    fail === null,
    fail ??
      `${why}: ${target?.sha} deployed ${target?.deployed_at}, healthy, earlier than ${current.revision}`,
  );
});

/** `rollback_newest_healthy`: the target is the newest healthy revision before the current one. */
const rollbackNewestHealthy: ActionRule = namedRule("rollback_newest_healthy", (c) => {
  if (c.ra.type !== "rollback") return outcome(true, `n/a for ${c.ra.type}`);
  const r = rollbackFacts(c);
  if ("blocked" in r) return outcome(false, r.blocked);
  const { current } = r.facts;
  const { ra } = c;
  const newest = newestHealthyBefore(c.signals.rollout_history, current);
  const chosen = c.action?.to_revision;
  const isNewest = newest !== null && chosen === newest.revision;
  return outcome(
    isNewest,
    newest === null
      ? `no healthy revision before the current revision ${current.revision}`
      : isNewest
        ? `revision ${newest.revision} (${newest.sha}) is the newest healthy revision before ${current.revision}`
        : `the newest healthy revision before ${current.revision} is ${newest.revision} (${newest.sha}), not ${chosen ?? "an unresolved target"}${ra.to_sha !== undefined ? ` (to_sha ${ra.to_sha})` : ""}: an older target needs a human's approval`,
  );
});

/** `deploy_within_window`: the deploy a rollback undoes went live within the policy's window before the onset. */
const deployWithinWindow: ActionRule = namedRule("deploy_within_window", (c) => {
  if (c.ra.type !== "rollback") return outcome(true, `n/a for ${c.ra.type}`);
  const r = rollbackFacts(c);
  return "blocked" in r ? outcome(false, r.blocked) : deployWindow(r.facts.current, c.onset, c.policy);
});

/** `restart_needs_unhealthy`: a restart needs an unhealthy pod or fewer ready replicas than desired. */
const restartNeedsUnhealthy: ActionRule = namedRule("restart_needs_unhealthy", (c) => {
  if (c.ra.type !== "restart") return outcome(true, `n/a for ${c.ra.type}`);
  const w = c.signals.workload;
  const st = workloadState(c.signals);
  const short = w.replicas.ready < w.replicas.desired;
  const ok = c.onWorkload && (st.unhealthyPods.length > 0 || short);
  return outcome(
    ok,
    !c.onWorkload
      ? "the restart targets another workload than the signals'"
      : ok
        ? `${st.unhealthyPods.length} unhealthy pod(s), ${w.replicas.ready}/${w.replicas.desired} ready`
        : `every pod is ready (${w.replicas.ready}/${w.replicas.desired}); a restart would only disturb`,
  );
});

/** `action_matches_evidence`: the action's target is the suspected resource and the signals' workload. */
const actionMatchesEvidence: ActionRule = namedRule("action_matches_evidence", (c) => {
  const { ra, diagnosis: d } = c;
  const w = c.signals.workload;
  const ref = parseResourceRef(d.suspected_resource);
  const target = `${ra.namespace}/${canonicalKind(ra.kind)}/${ra.name}`;
  const sameAsSuspected =
    ref !== null &&
    ref.namespace === ra.namespace &&
    ref.name === ra.name &&
    ref.kind.toLowerCase() === ra.kind.toLowerCase();
  const sameAsSignals = c.onWorkload && w.kind.toLowerCase() === ra.kind.toLowerCase();
  return outcome(
    sameAsSuspected && sameAsSignals,
    sameAsSuspected && sameAsSignals
      ? `${target} is the suspected resource and the signals' workload`
      : `${target} ≠ ${sameAsSuspected ? `signals' workload ${w.namespace}/${w.kind}/${w.name}` : `suspected ${d.suspected_resource}`}`,
  );
});

/** The policy rules after the hard ones, in the order the gate runs and a receipt lists them. */
export const ACTION_RULE_TABLE: readonly ActionRule[] = [
  rollbackTargetRule,
  rollbackNewestHealthy,
  deployWithinWindow,
  restartNeedsUnhealthy,
  actionMatchesEvidence,
];

/**
 * All policy rules over a diagnosis' recommended action (the hard rules of {@link checkHardRules}, then
 * {@link ACTION_RULE_TABLE}):
 * - `rollback_target`: for rollback, the target (`to_sha`, or the newest earlier healthy revision when
 *   absent) is in `rollout_history`, EARLIER than the current revision (lower revision number, another
 *   SHA), and its health is `healthy` (`unknown` fails closed). Resolves `to_sha`/`to_revision`.
 * - `rollback_newest_healthy`: for rollback, the target is the NEWEST healthy revision before the
 *   current (failing) one ({@link newestHealthyBefore}); an older one fails here and is at most a
 *   proposal a human approves (`APPROVABLE_RULES`).
 * - `deploy_within_window`: for rollback, the current revision (the deploy being undone) went live
 *   no more than `policy.rollback.max_deploy_age_before_onset` before `ctx.onset` and no later than
 *   2 min after it; otherwise the deploy did not start this incident and a rollback is not the fix.
 * - `restart_needs_unhealthy`: for restart, some pod is not ready / crashing, or ready < desired.
 * - `action_matches_evidence`: the action's `namespace/kind/name` equals `suspected_resource` and the
 *   signals' workload (kind case-insensitive).
 * Returns the rules and the concrete action (null for `none`). Pure; never throws.
 */
export function checkActionRules(
  d: Diagnosis,
  s: Signals,
  policy: Policy,
  ctx: ActionGateContext,
): { rules: RuleResult[]; action: ActionRecord | null } {
  const ra = d.recommended_action;
  const w = s.workload;
  const onWorkload = ra.namespace === w.namespace && ra.name === w.name;
  const hard = checkHardRules(ra, policy, {
    namespaceLabels: ctx.namespaceLabels,
    ...(onWorkload ? { currentReplicas: w.replicas.desired, actualKind: w.kind } : {}),
  });
  const current = ra.type === "rollback" && onWorkload ? currentRevision(s.rollout_history) : null;
  const rollback = current ? { current, ...rollbackTarget(s.rollout_history, current, ra.to_sha) } : null;
  const action = concreteAction(ra, canonicalKind(ra.kind), rollback);
  const rules = runRules(ACTION_RULE_TABLE, {
    diagnosis: d,
    ra,
    signals: s,
    policy,
    onset: ctx.onset,
    onWorkload,
    rollback,
    action,
  });
  return { rules: [...hard, ...rules], action };
}
