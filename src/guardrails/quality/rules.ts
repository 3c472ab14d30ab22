import { type Diagnosis, parseResourceRef } from "../../contracts/diagnosis.js";
import type { RuleResult } from "../../contracts/events.js";
import type { Signals } from "../../contracts/signals.js";
import { type NamedRule, namedRule, outcome, runRules } from "../rule-table.js";
import { findRevisionBySha, revisionLiveAt, workloadState } from "./state.js";
import { normalizeWhitespace, signalTexts } from "./texts.js";
import { QUALITY_DEFAULTS as DEFAULTS, type QualityGateOptions } from "./types.js";

/**
 * What every quality rule reads: the model's `diagnosis`, the redacted `signals` it was given, the
 * incident's `onset` (the alert's `startsAt`), the alert's own text (evidence may quote it) and the
 * gate's options.
 */
export interface QualityRuleContext {
  diagnosis: Diagnosis;
  signals: Signals;
  onset: Date;
  alertText?: string;
  opts: QualityGateOptions;
}

type QualityRule = NamedRule<QualityRuleContext>;

/** `resource_in_signals`: `suspected_resource` names the signals' workload or one of its pods. */
const resourceInSignals: QualityRule = namedRule("resource_in_signals", ({ diagnosis: d, signals: s }) => {
  const w = s.workload;
  const wref = `${w.namespace}/${w.kind}/${w.name}`;
  const ref = parseResourceRef(d.suspected_resource);
  if (!ref) return outcome(false, `"${d.suspected_resource}" is not namespace/kind/name`);
  const same =
    ref.namespace === w.namespace && ref.name === w.name && ref.kind.toLowerCase() === w.kind.toLowerCase();
  const isPod =
    ref.kind.toLowerCase() === "pod" &&
    ref.namespace === w.namespace &&
    s.pods.some((p) => p.name === ref.name);
  return outcome(
    same || isPod,
    same
      ? `${d.suspected_resource} is the workload in the signals`
      : isPod
        ? `${d.suspected_resource} is a pod of ${wref}`
        : `${d.suspected_resource} is not in the signals (workload is ${wref})`,
  );
});

/** `sha_in_history`: a claimed deploy SHA is one revision of the rollout history; no claim passes. */
const shaInHistory: QualityRule = namedRule("sha_in_history", ({ diagnosis: d, signals: s }) => {
  const sha = d.suspected_deploy_sha;
  if (sha === null) return outcome(true, "no deploy SHA claimed");
  const { match, count } = findRevisionBySha(s.rollout_history, sha);
  const known = s.rollout_history.map((r) => r.sha ?? "?").join(", ") || "(empty history)";
  return outcome(
    match !== null,
    match
      ? `${sha} is revision ${match.revision} (${match.sha})`
      : count > 1
        ? `${sha} is ambiguous: it matches ${count} revisions`
        : `${sha} is not in the rollout history (${known})`,
  );
});

/**
 * `sha_matches_onset`: the claimed revision is the one live at `onset + onsetGraceMs`; without a claim
 * it passes unless the action is a rollback (which needs the bad deploy's SHA).
 */
const shaMatchesOnset: QualityRule = namedRule(
  "sha_matches_onset",
  ({ diagnosis: d, signals: s, onset, opts }) => {
    const sha = d.suspected_deploy_sha;
    if (sha === null) {
      const isRollback = d.recommended_action.type === "rollback";
      return outcome(
        !isRollback,
        isRollback
          ? "a rollback needs the bad deploy's SHA, but none was named"
          : "no deploy blamed; nothing to match",
      );
    }
    const history = s.rollout_history;
    const graceMs = opts.onsetGraceMs ?? DEFAULTS.onsetGraceMs;
    const { match } = findRevisionBySha(history, sha);
    const onsetMs = onset.getTime();
    const live = Number.isNaN(onsetMs) ? null : revisionLiveAt(history, onsetMs + graceMs);
    if (!match) return outcome(false, `${sha} is not a known revision`);
    if (!live)
      return outcome(false, `no revision was deployed before the onset ${onset.toISOString?.() ?? ""}`);
    const ok = live.revision === match.revision && live.sha === match.sha;
    return outcome(
      ok,
      ok
        ? `revision ${match.revision} (${match.deployed_at}) is the latest deploy at the onset`
        : `the deploy live at the onset is revision ${live.revision} (${live.sha}, ${live.deployed_at}), not ${match.revision} (${match.deployed_at})`,
    );
  },
);

/** `confidence`: the model's confidence is at least `confidenceThreshold`. */
const confidence: QualityRule = namedRule("confidence", ({ diagnosis: d, opts }) => {
  const threshold = opts.confidenceThreshold ?? DEFAULTS.confidenceThreshold;
  const ok = d.confidence >= threshold;
  return outcome(ok, `confidence ${d.confidence} ${ok ? "≥" : "<"} threshold ${threshold}`);
});

/** `evidence_grounded`: ≥ 1 quote, each long enough and found verbatim in the signals or the alert. */
const evidenceGrounded: QualityRule = namedRule(
  "evidence_grounded",
  ({ diagnosis: d, signals, alertText, opts }) => {
    const minChars = opts.minQuoteChars ?? DEFAULTS.minQuoteChars;
    if (d.evidence.length === 0) return outcome(false, "no evidence quoted");
    const texts = signalTexts(signals);
    if (alertText) texts.push(normalizeWhitespace(alertText));
    const problems: string[] = [];
    for (const raw of d.evidence) {
      const q = normalizeWhitespace(raw).replace(/^["'`]+|["'`]+$/g, "");
      if (q.length < minChars) problems.push(`"${q}" is shorter than ${minChars} characters`);
      else if (!texts.some((t) => t.includes(q))) problems.push(`"${q.slice(0, 120)}" is not in the signals`);
    }
    return outcome(
      problems.length === 0,
      problems.length === 0 ? `all ${d.evidence.length} quotes occur in the signals` : problems.join("; "),
    );
  },
);

/** `action_fits_failure`: the recommended action fits the failure the signals show (see the mapping). */
const actionFitsFailure: QualityRule = namedRule("action_fits_failure", ({ diagnosis: d, signals, opts }) => {
  const st = workloadState(signals, opts);
  const sha = d.suspected_deploy_sha;
  const a = d.recommended_action;
  let fits: boolean;
  let why: string;
  switch (a.type) {
    case "rollback":
      fits = sha !== null && st.currentFailing;
      why = fits
        ? "a bad deploy: SHA named and the current revision is failing"
        : sha === null
          ? "rollback without a bad deploy SHA"
          : "rollback, but the current revision is not failing";
      break;
    case "restart":
      fits = st.unhealthyPods.length > 0 && (!st.currentFailing || st.allUnhealthyTransient);
      why = fits
        ? `${st.unhealthyPods.length} unhealthy pod(s) and no bad current deploy (or transient reasons)`
        : st.unhealthyPods.length === 0
          ? "restart, but every pod is ready and running"
          : "restart, but the current revision is failing: a restart re-runs the bad deploy";
      break;
    case "scale":
      fits = st.unhealthyPods.length === 0 && st.crashingPods.length === 0 && st.saturated;
      why = fits
        ? "pods ready and the service is saturated"
        : st.unhealthyPods.length > 0
          ? "scale, but pods are unhealthy or crashing: more replicas of a broken pod do not help"
          : "scale, but latency and error ratio are below the saturation thresholds";
      break;
    default:
      fits = st.healthy;
      why = fits
        ? "no action, and the workload looks healthy"
        : "no action, but the workload is unhealthy or saturated";
  }
  return outcome(fits, `${a.type}: ${why}`);
});

/** The deterministic quality rules, in the order the gate runs and a receipt lists them. */
export const QUALITY_RULES: readonly QualityRule[] = [
  resourceInSignals,
  shaInHistory,
  shaMatchesOnset,
  confidence,
  evidenceGrounded,
  actionFitsFailure,
];

/**
 * The deterministic rules of the quality gate ({@link QUALITY_RULES}), in a fixed order, each with a
 * pass/fail and a detail:
 * - `resource_in_signals`: `suspected_resource` names the signals' workload (kind case-insensitive).
 * - `sha_in_history`: a non-null `suspected_deploy_sha` is in `rollout_history` (full or unambiguous
 *   prefix ≥ 7 chars); null passes (see the next rule).
 * - `sha_matches_onset`: that revision is the latest one deployed at or before `onset + onsetGraceMs`;
 *   a null SHA passes only when the recommended action is not `rollback`.
 * - `confidence`: `confidence ≥ confidenceThreshold`.
 * - `evidence_grounded`: ≥ 1 quote; each (whitespace-normalised, case-sensitive, surrounding quote
 *   marks stripped, ≥ `minQuoteChars`) occurs in one text of {@link signalTexts} or in `alertText`.
 * - `action_fits_failure`, the mapping:
 *   `rollback` ⇐ SHA non-null AND current revision `failing`;
 *   `restart`  ⇐ some pod unhealthy AND (current revision not `failing` OR all unhealthy pods' reasons
 *                 transient: Evicted, NodeLost, …);
 *   `scale`    ⇐ no pod unhealthy, no crashes, AND saturated (p99 / 5xx ratio over thresholds);
 *   `none`     ⇐ the workload looks healthy (see {@link workloadState}).
 * Pure; never throws.
 */
export function checkQualityRules(
  d: Diagnosis,
  s: Signals,
  ctx: { onset: Date; alertText?: string },
  opts: QualityGateOptions = {},
): RuleResult[] {
  return runRules(QUALITY_RULES, {
    diagnosis: d,
    signals: s,
    onset: ctx.onset,
    ...(ctx.alertText === undefined ? {} : { alertText: ctx.alertText }),
    opts,
  });
}
