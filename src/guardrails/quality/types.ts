import type { Diagnosis } from "../../contracts/diagnosis.js";
import type { RuleResult } from "../../contracts/events.js";
import type { Signals } from "../../contracts/signals.js";
import type { LoadedPrompt } from "../../prompts/loader.js";

/**
 * Options of the quality gate.
 * - `confidenceThreshold`: minimum `confidence` (0..1), default 0.7.
 * - `onsetGraceMs`: a deploy up to this long AFTER the alert onset still counts as "at onset"
 *   (clock skew, alert `for:` delays), default 120000 ms.
 * - `judgeWhenRulesFail`: ask the judge even when a rule failed (costs a call), default false.
 * - `judgeTimeoutMs`: the gate's own bound on the judge call, default 30000 ms (a timeout fails the gate).
 * - `saturationP99Ms` / `saturationErrorRatio`: what counts as saturation for `action_fits_failure`
 *   (p99 ≥ 1000 ms or 5xx ratio ≥ 0.05 by default).
 * - `minQuoteChars`: shortest evidence quote accepted, default 8 characters (after whitespace folding).
 */
export interface QualityGateOptions {
  confidenceThreshold?: number;
  onsetGraceMs?: number;
  judgeWhenRulesFail?: boolean;
  judgeTimeoutMs?: number;
  saturationP99Ms?: number;
  saturationErrorRatio?: number;
  minQuoteChars?: number;
}

/** What the judge answers: `grounded`, a one-sentence `reason`, and the model that served it. */
export interface JudgeReply {
  grounded: boolean;
  reason: string;
  model: string;
}

/**
 * The injected judge (built by the pipeline from the model router; the gate does no HTTP). It renders
 * `prompt` (prompts/judge.md) with the diagnosis and signals, calls the judge model and parses
 * `{"grounded": boolean, "reason": string}`. It may throw; the gate treats any throw as a failure.
 */
export type JudgeFn = (input: {
  diagnosis: Diagnosis;
  signals: Signals;
  prompt: LoadedPrompt;
}) => Promise<JudgeReply>;

/**
 * The gate's verdict. `passed` is true only when every rule passed AND the judge answered
 * `grounded: true`. `judge` is null when the judge was not asked (a rule failed first); otherwise
 * `grounded` is null and `error` set when the judge failed (threw, timed out, answered garbage).
 */
export interface QualityVerdict {
  passed: boolean;
  rules: RuleResult[];
  judge: { model: string; grounded: boolean | null; reason: string; error: string | null } | null;
}

/** The defaults of {@link QualityGateOptions}. */
export const QUALITY_DEFAULTS = {
  confidenceThreshold: 0.7,
  onsetGraceMs: 120_000,
  judgeTimeoutMs: 30_000,
  saturationP99Ms: 1000,
  saturationErrorRatio: 0.05,
  minQuoteChars: 8,
} as const;
