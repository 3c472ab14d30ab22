/**
 * The quality gate: is a model's Diagnosis grounded in the (redacted) signals it was given?
 * Deterministic rules first (stable ids below), then an LLM-as-judge on the cheap judge model,
 * fail-closed: a judge that throws, times out or answers garbage fails the gate.
 *
 * Rule ids: `resource_in_signals`, `sha_in_history`, `sha_matches_onset`, `confidence`,
 * `evidence_grounded`, `action_fits_failure`, and `judge_grounded` when the judge was asked.
 *
 * The modules under `quality/`: `rules.ts` (the rules as a table of named functions, one per id),
 * `state.ts` (rollout-revision lookups and the workload's health summary), `texts.ts` (what evidence may
 * quote), `judge.ts` (the whole gate with the judge) and `types.ts` (options, verdict, judge shapes).
 */
export {
  ALWAYS_GROUNDED_MODEL,
  alwaysGroundedJudge,
  JUDGE_MODES,
  type JudgeMode,
  runQualityGate,
} from "./quality/judge.js";
export { checkQualityRules, QUALITY_RULES, type QualityRuleContext } from "./quality/rules.js";
export { currentRevision, findRevisionBySha, revisionLiveAt, workloadState } from "./quality/state.js";
export { normalizeWhitespace, signalTexts } from "./quality/texts.js";
export {
  type JudgeFn,
  type JudgeReply,
  QUALITY_DEFAULTS,
  type QualityGateOptions,
  type QualityVerdict,
} from "./quality/types.js";
