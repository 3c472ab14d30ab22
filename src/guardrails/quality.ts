import { z } from "zod";
import { type Diagnosis, parseResourceRef } from "../contracts/diagnosis.js";
import type { RuleResult } from "../contracts/events.js";
import type { PodSignal, RolloutRevision, Signals } from "../contracts/signals.js";
import { errorMessage } from "../errors.js";
import type { LoadedPrompt } from "../prompts/loader.js";

/**
 * The quality gate: is a model's Diagnosis grounded in the (redacted) signals it was given?
 * Deterministic rules first (stable ids below), then an LLM-as-judge on the cheap judge model,
 * fail-closed: a judge that throws, times out or answers garbage fails the gate.
 *
 * Rule ids: `resource_in_signals`, `sha_in_history`, `sha_matches_onset`, `confidence`,
 * `evidence_grounded`, `action_fits_failure`, and `judge_grounded` when the judge was asked.
 */

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

const DEFAULTS = {
  confidenceThreshold: 0.7,
  onsetGraceMs: 120_000,
  judgeTimeoutMs: 30_000,
  saturationP99Ms: 1000,
  saturationErrorRatio: 0.05,
  minQuoteChars: 8,
} as const;

/**
 * Waiting/termination reasons that mean a pod is crashing or cannot start (Kubernetes container states:
 * https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#container-states).
 */
const CRASH_REASONS = new Set([
  "CrashLoopBackOff",
  "ImagePullBackOff",
  "ErrImagePull",
  "CreateContainerConfigError",
  "CreateContainerError",
  "RunContainerError",
  "InvalidImageName",
  "OOMKilled",
  "Error",
]);

/**
 * Reasons that point at the node or the kubelet rather than the code (eviction, lost node): a restart
 * fits them even when the current revision looks failing.
 */
const TRANSIENT_REASONS = new Set([
  "Evicted",
  "NodeLost",
  "NodeShutdown",
  "ContainerStatusUnknown",
  "Preempting",
]);

/** Collapses every run of whitespace to one space and trims. */
export function normalizeWhitespace(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

/**
 * The texts of the signals an evidence quote may come from: log lines, event reasons and messages, pod
 * names, phases, reasons and termination messages, workload conditions and annotations, rollout history
 * (SHA, image), and the metrics rendered as `name: value`, `name=value` and `"name": value`. Each text
 * is whitespace-normalised.
 */
export function signalTexts(s: Signals): string[] {
  const out: string[] = [];
  const push = (t: string | null | undefined) => {
    if (t) out.push(normalizeWhitespace(t));
  };
  for (const l of s.logs) for (const line of l.lines) push(line);
  for (const e of s.events) {
    push(e.message);
    push(`${e.reason}: ${e.message}`);
    push(`${e.type} ${e.reason} ${e.object} ${e.message}`);
  }
  for (const p of s.pods) {
    push(p.name);
    push(p.waiting_reason);
    push(p.last_termination_reason);
    push(p.image);
    push(p.termination_message);
    push(`${p.name} ${p.phase}`);
    if (p.last_exit_code !== null) push(`exit code ${p.last_exit_code}`);
  }
  for (const c of s.workload.conditions) {
    push(c.message);
    push(c.reason);
    push(`${c.type}=${c.status}${c.reason ? ` ${c.reason}` : ""}${c.message ? `: ${c.message}` : ""}`);
  }
  push(s.workload.image);
  // Untrusted free text may be quoted as evidence (it never chooses an action: see the action gate).
  for (const [k, v] of Object.entries(s.workload.annotations ?? {})) {
    push(v);
    push(`${k}: ${v}`);
    push(`${k}=${v}`);
  }
  for (const r of s.rollout_history) {
    push(r.sha);
    push(r.image);
  }
  for (const [k, v] of Object.entries(s.metrics)) {
    if (k === "source" || v === null) continue;
    push(`${k}: ${v}`);
    push(`${k}=${v}`);
    push(`"${k}": ${v}`);
  }
  return out;
}

/** Matches a claimed SHA against history SHAs: equal, or one a prefix of the other with ≥ 7 characters. */
function shaMatches(claimed: string, actual: string | null): boolean {
  if (!actual) return false;
  const a = claimed.toLowerCase();
  const b = actual.toLowerCase();
  if (a === b) return true;
  return Math.min(a.length, b.length) >= 7 && (a.startsWith(b) || b.startsWith(a));
}

/**
 * Finds the rollout revisions whose SHA matches `sha` (full, or an unambiguous prefix of ≥ 7 chars).
 * Returns `{ match }` when exactly one distinct SHA matches, else `{ match: null, count }`.
 */
export function findRevisionBySha(
  history: RolloutRevision[],
  sha: string,
): { match: RolloutRevision | null; count: number } {
  const hits = history.filter((r) => shaMatches(sha, r.sha));
  const distinct = new Set(hits.map((r) => r.sha));
  if (distinct.size !== 1) return { match: null, count: distinct.size };
  // The same SHA may appear twice (a re-deploy); take the latest revision of it.
  const latest = hits.reduce((a, b) => (b.revision > a.revision ? b : a));
  return { match: latest, count: 1 };
}

/** The revision that runs now: the one marked `current`, else the highest revision number. */
export function currentRevision(history: RolloutRevision[]): RolloutRevision | null {
  const marked = history.find((r) => r.current);
  if (marked) return marked;
  if (history.length === 0) return null;
  return history.reduce((a, b) => (b.revision > a.revision ? b : a));
}

/** The latest revision deployed at or before `atMs` (ms since epoch); ties go to the higher revision. */
export function revisionLiveAt(history: RolloutRevision[], atMs: number): RolloutRevision | null {
  let best: RolloutRevision | null = null;
  let bestMs = Number.NEGATIVE_INFINITY;
  for (const r of history) {
    const t = Date.parse(r.deployed_at);
    if (Number.isNaN(t) || t > atMs) continue;
    if (t > bestMs || (t === bestMs && best !== null && r.revision > best.revision)) {
      best = r;
      bestMs = t;
    }
  }
  return best;
}

function podCrashing(p: PodSignal): boolean {
  return (
    (p.waiting_reason !== null && CRASH_REASONS.has(p.waiting_reason)) ||
    (p.restarts > 0 && p.last_termination_reason !== null && CRASH_REASONS.has(p.last_termination_reason))
  );
}

function podUnhealthy(p: PodSignal): boolean {
  return !p.ready || podCrashing(p) || (p.phase !== "Running" && p.phase !== "Succeeded");
}

function podTransient(p: PodSignal): boolean {
  return (
    (p.waiting_reason !== null && TRANSIENT_REASONS.has(p.waiting_reason)) ||
    (p.last_termination_reason !== null && TRANSIENT_REASONS.has(p.last_termination_reason)) ||
    p.phase === "Failed" // e.g. an evicted pod
  );
}

/**
 * A summary of the workload's state, as `action_fits_failure` and the action gate read it.
 * `unhealthyPods`: not ready, crashing (see CRASH_REASONS) or not Running; `saturated`: p99 or 5xx ratio
 * at/above the thresholds; `currentFailing`: the current rollout revision's health is `failing`;
 * `healthy`: none of these, and ready ≥ desired.
 */
export function workloadState(
  s: Signals,
  opts: Pick<QualityGateOptions, "saturationP99Ms" | "saturationErrorRatio"> = {},
): {
  unhealthyPods: PodSignal[];
  crashingPods: PodSignal[];
  allUnhealthyTransient: boolean;
  saturated: boolean;
  currentFailing: boolean;
  healthy: boolean;
} {
  const unhealthyPods = s.pods.filter(podUnhealthy);
  const crashingPods = s.pods.filter(podCrashing);
  const p99 = s.metrics.p99_latency_ms;
  const err = s.metrics.error_ratio;
  const saturated =
    (p99 !== null && p99 >= (opts.saturationP99Ms ?? DEFAULTS.saturationP99Ms)) ||
    (err !== null && err >= (opts.saturationErrorRatio ?? DEFAULTS.saturationErrorRatio));
  const currentFailing = currentRevision(s.rollout_history)?.health === "failing";
  const replicasShort = s.workload.replicas.ready < s.workload.replicas.desired;
  return {
    unhealthyPods,
    crashingPods,
    allUnhealthyTransient: unhealthyPods.length > 0 && unhealthyPods.every(podTransient),
    saturated,
    currentFailing,
    healthy: unhealthyPods.length === 0 && !saturated && !currentFailing && !replicasShort,
  };
}

function rule(id: string, passed: boolean, detail: string): RuleResult {
  return { rule: id, passed, detail };
}

/**
 * The deterministic rules of the quality gate, in a fixed order, each with a pass/fail and a detail:
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
  const rules: RuleResult[] = [];
  const w = s.workload;
  const wref = `${w.namespace}/${w.kind}/${w.name}`;

  // resource_in_signals
  const ref = parseResourceRef(d.suspected_resource);
  if (!ref) {
    rules.push(rule("resource_in_signals", false, `"${d.suspected_resource}" is not namespace/kind/name`));
  } else {
    const same =
      ref.namespace === w.namespace && ref.name === w.name && ref.kind.toLowerCase() === w.kind.toLowerCase();
    const isPod =
      ref.kind.toLowerCase() === "pod" &&
      ref.namespace === w.namespace &&
      s.pods.some((p) => p.name === ref.name);
    rules.push(
      rule(
        "resource_in_signals",
        same || isPod,
        same
          ? `${d.suspected_resource} is the workload in the signals`
          : isPod
            ? `${d.suspected_resource} is a pod of ${wref}`
            : `${d.suspected_resource} is not in the signals (workload is ${wref})`,
      ),
    );
  }

  // sha_in_history + sha_matches_onset
  const sha = d.suspected_deploy_sha;
  const history = s.rollout_history;
  const graceMs = opts.onsetGraceMs ?? DEFAULTS.onsetGraceMs;
  if (sha === null) {
    rules.push(rule("sha_in_history", true, "no deploy SHA claimed"));
    const isRollback = d.recommended_action.type === "rollback";
    rules.push(
      rule(
        "sha_matches_onset",
        !isRollback,
        isRollback
          ? "a rollback needs the bad deploy's SHA, but none was named"
          : "no deploy blamed; nothing to match",
      ),
    );
  } else {
    const { match, count } = findRevisionBySha(history, sha);
    const known = history.map((r) => r.sha ?? "?").join(", ") || "(empty history)";
    rules.push(
      rule(
        "sha_in_history",
        match !== null,
        match
          ? `${sha} is revision ${match.revision} (${match.sha})`
          : count > 1
            ? `${sha} is ambiguous: it matches ${count} revisions`
            : `${sha} is not in the rollout history (${known})`,
      ),
    );
    const onsetMs = ctx.onset.getTime();
    const live = Number.isNaN(onsetMs) ? null : revisionLiveAt(history, onsetMs + graceMs);
    if (!match) {
      rules.push(rule("sha_matches_onset", false, `${sha} is not a known revision`));
    } else if (!live) {
      rules.push(
        rule(
          "sha_matches_onset",
          false,
          `no revision was deployed before the onset ${ctx.onset.toISOString?.() ?? ""}`,
        ),
      );
    } else {
      const ok = live.revision === match.revision && live.sha === match.sha;
      rules.push(
        rule(
          "sha_matches_onset",
          ok,
          ok
            ? `revision ${match.revision} (${match.deployed_at}) is the latest deploy at the onset`
            : `the deploy live at the onset is revision ${live.revision} (${live.sha}, ${live.deployed_at}), not ${match.revision} (${match.deployed_at})`,
        ),
      );
    }
  }

  // confidence
  const threshold = opts.confidenceThreshold ?? DEFAULTS.confidenceThreshold;
  rules.push(
    rule(
      "confidence",
      d.confidence >= threshold,
      `confidence ${d.confidence} ${d.confidence >= threshold ? "≥" : "<"} threshold ${threshold}`,
    ),
  );

  // evidence_grounded
  const minChars = opts.minQuoteChars ?? DEFAULTS.minQuoteChars;
  if (d.evidence.length === 0) {
    rules.push(rule("evidence_grounded", false, "no evidence quoted"));
  } else {
    const texts = signalTexts(s);
    if (ctx.alertText) texts.push(normalizeWhitespace(ctx.alertText));
    const problems: string[] = [];
    for (const raw of d.evidence) {
      const q = normalizeWhitespace(raw).replace(/^["'`]+|["'`]+$/g, "");
      if (q.length < minChars) problems.push(`"${q}" is shorter than ${minChars} characters`);
      else if (!texts.some((t) => t.includes(q))) problems.push(`"${q.slice(0, 120)}" is not in the signals`);
    }
    rules.push(
      rule(
        "evidence_grounded",
        problems.length === 0,
        problems.length === 0 ? `all ${d.evidence.length} quotes occur in the signals` : problems.join("; "),
      ),
    );
  }

  // action_fits_failure
  const st = workloadState(s, opts);
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
  rules.push(rule("action_fits_failure", fits, `${a.type}: ${why}`));
  return rules;
}

const JudgeReplySchema = z.object({ grounded: z.boolean(), reason: z.string(), model: z.string() });

/**
 * The whole quality gate: {@link checkQualityRules}, then (unless a rule failed and
 * `judgeWhenRulesFail` is false) the injected judge, bounded by `judgeTimeoutMs`. Fail-closed: a judge
 * that throws, times out or returns something that is not `{grounded: boolean, reason, model}` sets
 * `judge.error`, `judge.grounded: null`, and fails the gate; the rule `judge_grounded` is added whenever
 * the judge was asked. Never throws.
 */
export async function runQualityGate(
  d: Diagnosis,
  s: Signals,
  ctx: { onset: Date; alertText?: string; judge: JudgeFn; prompt: LoadedPrompt },
  opts: QualityGateOptions = {},
): Promise<QualityVerdict> {
  const rules = checkQualityRules(d, s, ctx, opts);
  const rulesPassed = rules.every((r) => r.passed);
  if (!rulesPassed && !opts.judgeWhenRulesFail) return { passed: false, rules, judge: null };

  const timeoutMs = opts.judgeTimeoutMs ?? DEFAULTS.judgeTimeoutMs;
  let timer: NodeJS.Timeout | undefined;
  let judge: NonNullable<QualityVerdict["judge"]>;
  try {
    const reply: unknown = await Promise.race([
      ctx.judge({ diagnosis: d, signals: s, prompt: ctx.prompt }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`judge timed out after ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    const parsed = JudgeReplySchema.safeParse(reply);
    if (!parsed.success) {
      judge = {
        model: modelOf(reply),
        grounded: null,
        reason: "",
        error: "judge reply is not {grounded, reason, model}",
      };
    } else {
      judge = {
        model: parsed.data.model,
        grounded: parsed.data.grounded,
        reason: parsed.data.reason,
        error: null,
      };
    }
  } catch (err) {
    judge = { model: "unknown", grounded: null, reason: "", error: errorMessage(err) };
  } finally {
    clearTimeout(timer);
  }
  const ok = judge.error === null && judge.grounded === true;
  rules.push(
    rule(
      "judge_grounded",
      ok,
      judge.error !== null
        ? `judge failed (fail-closed): ${judge.error}`
        : `${judge.model}: ${judge.grounded ? "grounded" : "not grounded"}: ${judge.reason}`,
    ),
  );
  return { passed: rulesPassed && ok, rules, judge };
}

function modelOf(reply: unknown): string {
  if (reply && typeof reply === "object" && "model" in reply && typeof reply.model === "string")
    return reply.model;
  return "unknown";
}

/** The judge model name `alwaysGroundedJudge` reports, so a receipt shows the judge was not a model. */
export const ALWAYS_GROUNDED_MODEL = "always-grounded";

/**
 * A judge that calls every diagnosis grounded without looking at it (`--judge always-grounded`): the
 * worst judge there is, a stand-in for one a prompt injection fooled. With it the deterministic rules
 * and the action gate stand alone. It reports the model {@link ALWAYS_GROUNDED_MODEL} and makes no call.
 */
export const alwaysGroundedJudge: JudgeFn = async () => ({
  grounded: true,
  reason: "always-grounded: this judge approves every diagnosis without reading it (test mode)",
  model: ALWAYS_GROUNDED_MODEL,
});

/**
 * The judges `backstop run` and `backstop eval` know: `model` (the judge target: scripted per scenario in
 * the sandbox, a real model with `--live`) or `always-grounded` ({@link alwaysGroundedJudge}).
 */
export const JUDGE_MODES = ["model", "always-grounded"] as const;
/** One of {@link JUDGE_MODES}. */
export type JudgeMode = (typeof JUDGE_MODES)[number];
