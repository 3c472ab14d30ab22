import { type Signals, UNTRUSTED_SIGNAL_FIELDS } from "../src/contracts/signals.js";
import { redactorVersion } from "../src/guardrails/redact.js";
import type { InfraContext } from "./collectors/context.js";
import { collectEvents } from "./collectors/events.js";
import { cut, LIMITS } from "./collectors/limits.js";
import { collectLogs } from "./collectors/logs.js";
import { collectMetrics } from "./collectors/metrics.js";
import { boundPods } from "./collectors/pods.js";
import {
  listRevisions,
  revisionResolver,
  rolloutHistory,
  shownRevisions,
} from "./collectors/rollout-history.js";
import { newTally, sanitizeDeep } from "./collectors/sanitize.js";
import { boundWorkload, readWorkload, workloadSignal } from "./collectors/workload.js";
import { k8sCall, selectorString } from "./k8s.js";

/**
 * The signals of one workload, composed from the collectors under `collectors/` (one per kind of
 * evidence: workload, pods, rollout history, events, logs, metrics; plus sanitize and the shared limits).
 * This module re-exports what the tools and tests import, so they need not know the split.
 */

export { DEPLOY_SHA_ANNOTATION, REVISION_ANNOTATION, VERSION_LABEL } from "../src/contracts/k8s.js";
export { type InfraContext, imageTag, type LiveWorkload } from "./collectors/context.js";
export { LIMITS, WINDOW_RE } from "./collectors/limits.js";
export { liveRange } from "./collectors/rollout-history.js";
export {
  newTally,
  type SanitizeTally,
  sanitizeDeep,
  sanitizeTexts,
} from "./collectors/sanitize.js";
export {
  boundedAnnotations,
  boundWorkload,
  readWorkload,
  sanitizedWorkloadSignal,
  selectAnnotations,
  workloadSignal,
} from "./collectors/workload.js";

/**
 * Gathers the evidence for one workload (see `get_signals`): status, pods, rollout history with health,
 * events, log tails of failing pods (of running pods when none fails) and Prometheus metrics, all bounded by {@link LIMITS}.
 * Workload, ReplicaSets and pods are required (their failure fails the call); events, logs and metrics are
 * best effort: a failure there is named in `truncated` and the rest is returned.
 *
 * Order: every text is sanitized in FULL (Unicode Cf stripped, then secrets and PII redacted: each
 * container's log as one text, so a PEM block over many lines is one finding), and only then bounded.
 * Nothing is cut before it is redacted. `sanitized` carries the counts for the receipt.
 * @throws BackstopError from {@link readWorkload}, or `k8s.*` when listing ReplicaSets or pods fails.
 */
export async function collectSignals(
  ctx: InfraContext,
  namespace: string,
  name: string,
  window: string,
  now: Date = new Date(),
): Promise<Signals> {
  const { apis } = ctx;
  const truncated: string[] = [];
  const live = await readWorkload(ctx, namespace, name);
  const tally = newTally();
  const workload = workloadSignal(live);
  const selector = selectorString(live.obj.spec?.selector ?? {});

  const [allRevisions, podList] = await Promise.all([
    listRevisions(ctx, live, namespace, name, selector),
    k8sCall(apis, `list pods in ${namespace}`, () =>
      apis.core.listNamespacedPod({ namespace, labelSelector: selector }, apis.opts),
    ),
  ]);
  const { allPods, pods } = boundPods(podList.items, revisionResolver(live, allRevisions), name, truncated);
  // Everything left is independent: the past revisions' health queries, events, logs and metrics run
  // at once; the revisions shown are also the ones whose events are collected.
  const shown = shownRevisions(allRevisions);
  const [rollout_history, events, logs, metrics] = await Promise.all([
    rolloutHistory(
      ctx,
      { live, workload, namespace, name },
      { all: allRevisions, shown },
      allPods,
      now,
      truncated,
    ),
    collectEvents(ctx, namespace, [name, ...shown.map((r) => r.name), ...pods.map((p) => p.name)], truncated),
    collectLogs(ctx, namespace, podList.items, allPods, truncated, tally),
    collectMetrics(ctx, namespace, name, window),
  ]);

  // Pods can be Ready while the service fails its requests: then the current revision is failing by
  // its metrics (error ratio at or above LIMITS.failingErrorRatio), not by its pods.
  if (metrics.error_ratio !== null && metrics.error_ratio >= LIMITS.failingErrorRatio) {
    for (const r of rollout_history) if (r.current) r.health = "failing";
  }

  // Everything but the logs (sanitized per container above) in one pass, then the bounds.
  const clean = await sanitizeDeep({ workload, pods, rollout_history, events, truncated }, tally);
  return {
    namespace,
    window,
    collected_at: now.toISOString(),
    workload: boundWorkload(clean.workload),
    pods: clean.pods.map((p) => ({
      ...p,
      termination_message:
        p.termination_message == null
          ? p.termination_message
          : cut(p.termination_message, LIMITS.terminationMessageChars),
    })),
    rollout_history: clean.rollout_history,
    events: clean.events.map((e) => ({ ...e, message: cut(e.message, LIMITS.eventMessageChars) })),
    logs,
    metrics,
    truncated: clean.truncated,
    sanitized: { redactions: tally.redactions, invisible: tally.invisible, redactor: redactorVersion() },
    untrusted_fields: [...UNTRUSTED_SIGNAL_FIELDS],
  };
}
