import type { PodSignal, RolloutRevision, Signals } from "../../contracts/signals.js";
import { QUALITY_DEFAULTS as DEFAULTS, type QualityGateOptions } from "./types.js";

/**
 * What the quality and action gates read from structured signals: rollout revisions by SHA or time, and
 * a summary of the workload's health. Pure functions; none throws.
 */

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
