import type { V1Pod } from "@kubernetes/client-node";
import type { PodSignal } from "../../src/contracts/signals.js";
import { templateImage } from "./context.js";
import { LIMITS } from "./limits.js";

/** True when a pod is not fine: not Ready, a container waiting (CrashLoopBackOff, ImagePullBackOff), or Failed. */
export function podFailing(p: PodSignal): boolean {
  return !p.ready || p.waiting_reason !== null || p.phase === "Failed";
}

/**
 * One pod as signals show it: phase, readiness (the Ready condition, else every container ready), restarts,
 * the waiting reason, the last termination (reason, exit code, FULL message: callers sanitize, then cut it)
 * and the main container's image; `revisionOf` names the rollout revision the pod belongs to.
 */
export function podSignal(
  pod: V1Pod,
  revisionOf: (pod: V1Pod) => string | null,
  workload: string,
): PodSignal {
  const statuses = pod.status?.containerStatuses ?? [];
  const main = statuses.find((s) => s.name === workload) ?? statuses[0];
  const waiting = statuses.find((s) => s.state?.waiting?.reason)?.state?.waiting?.reason ?? null;
  const terminated =
    statuses.find((s) => s.lastState?.terminated)?.lastState?.terminated ??
    statuses.find((s) => s.state?.terminated)?.state?.terminated;
  const readyCond = pod.status?.conditions?.find((c) => c.type === "Ready");
  const ready = readyCond
    ? readyCond.status === "True"
    : statuses.length > 0 && statuses.every((s) => s.ready);
  return {
    name: pod.metadata?.name ?? "",
    phase: pod.status?.phase ?? "Unknown",
    ready,
    restarts: statuses.reduce((n, s) => n + (s.restartCount ?? 0), 0),
    waiting_reason: waiting,
    last_termination_reason: terminated?.reason ?? null,
    last_exit_code: terminated?.exitCode ?? null,
    // Full text: collectSignals sanitizes it, then cuts it to LIMITS.terminationMessageChars.
    termination_message: terminated?.message ?? null,
    image: main?.image ?? templateImage(pod.spec?.containers, workload),
    revision: revisionOf(pod),
  };
}

/**
 * The pods signals show: failing first ({@link podFailing}), then by name, at most `LIMITS.pods`; a cut
 * is named in `truncated`. Returns all pods (sorted) and the shown ones.
 */
export function boundPods(
  rawPods: V1Pod[],
  revisionOf: (pod: V1Pod) => string | null,
  workload: string,
  truncated: string[],
): { allPods: PodSignal[]; pods: PodSignal[] } {
  const allPods = rawPods
    .map((p) => podSignal(p, revisionOf, workload))
    .sort((a, b) => Number(podFailing(b)) - Number(podFailing(a)) || a.name.localeCompare(b.name));
  const pods = allPods.slice(0, LIMITS.pods);
  if (allPods.length > pods.length) truncated.push(`pods: showing ${pods.length} of ${allPods.length}`);
  return { allPods, pods };
}
