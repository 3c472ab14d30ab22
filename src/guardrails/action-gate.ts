/**
 * The action gate: may the action a diagnosis recommends run through the write path? Policy rules
 * (stable ids below), then a server-side dry-run. "A wrong model output must never become a
 * destructive action": every rule fails closed when it lacks the facts to decide.
 *
 * Rule ids, in order: `type_allowed`, `not_protected`, `single_workload`, `no_wide_scope`,
 * `replicas_bounds` (the HARD rules, see {@link HARD_RULES}), then `rollback_target`,
 * `rollback_newest_healthy`, `deploy_within_window`, `restart_needs_unhealthy`,
 * `action_matches_evidence`, and `server_dry_run`.
 *
 * The target (namespace/kind/name) and the revision come from structured signals only: the workload the
 * alert names (its labels), the rollout history (ReplicaSets and their health from pods and Prometheus)
 * and pod status. Text in logs, events, annotations or termination messages may be quoted as evidence
 * for a hypothesis, but nothing here reads it: a `to_sha` a log line asks for passes only when it IS the
 * newest healthy revision the history shows.
 *
 * The modules under `action-gate/`: `hard-rules.ts` and `rules.ts` (the rules as tables of named
 * functions, one per id), `rollback.ts` (target resolution and the deploy window), `gate.ts` (the whole
 * gate with the dry-run) and `types.ts` (contexts, verdict, the rule-id lists).
 */
export { runActionGate } from "./action-gate/gate.js";
export { checkHardRules, HARD_RULE_TABLE, type HardRuleInput } from "./action-gate/hard-rules.js";
export { newestHealthyBefore } from "./action-gate/rollback.js";
export {
  ACTION_RULE_TABLE,
  type ActionRuleContext,
  checkActionRules,
  type RollbackFacts,
} from "./action-gate/rules.js";
export {
  type ActionGateContext,
  type ActionVerdict,
  APPROVABLE_RULES,
  type DryRunFn,
  HARD_RULES,
  type HardRuleContext,
} from "./action-gate/types.js";
