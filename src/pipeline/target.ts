import type { AlertmanagerAlert, AlertmanagerWebhook } from "../contracts/alertmanager.js";
import { invalidNameReason } from "../contracts/k8s-names.js";
import { BackstopError } from "../errors.js";
import type { SignalsSource } from "./ports.js";

/**
 * Kinds a run's target can have. `Deployment`/`StatefulSet`/`DaemonSet` are workloads named directly
 * by an alert; `Pod`, `HorizontalPodAutoscaler` and `Job` name an object whose owning workload the
 * run resolves at run time through the read-only path (a pod's owner chain, an HPA's
 * `scaleTargetRef`, a Job's CronJob), see {@link needsResolution}.
 */
export type TargetKind =
  | "Deployment"
  | "StatefulSet"
  | "DaemonSet"
  | "Job"
  | "HorizontalPodAutoscaler"
  | "Pod";

/**
 * The workload a run triages: a namespace and a name. `kind` absent means "the Deployment of that
 * name, else the StatefulSet" (what `/backstop triage ns/name` and a `workload` label without
 * `workload_type` mean); otherwise it is the kind the alert named.
 */
export interface RunTarget {
  namespace: string;
  workload: string;
  kind?: TargetKind;
}

/** Kinds whose owning workload is resolved at run time (the alert names a pod, an HPA or a Job, not what to change). */
const RESOLVED_AT_RUN_TIME: ReadonlySet<TargetKind> = new Set(["Pod", "HorizontalPodAutoscaler", "Job"]);

/** True when `t` names an object whose owner the run must resolve before triage (Pod, HPA, Job). */
export function needsResolution(t: RunTarget): boolean {
  return t.kind !== undefined && RESOLVED_AT_RUN_TIME.has(t.kind);
}

/**
 * The key of the workload a target is about, for the one-run-per-workload index: `ns/name` for a
 * Deployment, a StatefulSet or an unqualified workload (they are looked up by name, Deployment
 * first), `ns/Kind/name` for any other kind. Never throws.
 */
export function workloadKey(t: RunTarget): string {
  if (t.kind === undefined || t.kind === "Deployment" || t.kind === "StatefulSet")
    return `${t.namespace}/${t.workload}`;
  return `${t.namespace}/${t.kind}/${t.workload}`;
}

/**
 * What an alert is about, as {@link resolveAlertTarget} reads its labels:
 * - `target`: a workload (`via` is the label it came from); when `needsResolution(target)`, its
 *   owner is resolved at run time;
 * - `none`: the alert names no workload (cluster- or namespace-wide, e.g. `KubeMemoryOvercommit`,
 *   `KubeQuotaExceeded`): it is posted to the channel and starts no run;
 * - `invalid`: a namespace or name that is not a valid Kubernetes name: the alert is refused.
 */
export type AlertTarget =
  | { status: "target"; target: RunTarget; via: string }
  | { status: "none"; reason: string }
  | { status: "invalid"; reason: string };

/** True for a series scraped from kube-state-metrics: its `pod`/`instance`/`service`/`container`/`job` labels may be the exporter's. */
export function isKubeStateMetricsSeries(labels: Record<string, string>): boolean {
  return ["job", "service", "container", "app_kubernetes_io_name"].some((k) =>
    (labels[k] ?? "").includes("kube-state-metrics"),
  );
}

/** kubernetes-mixin alerts whose series are about a pod (kube_pod_* of kube-state-metrics): their `pod` is the subject's. */
const POD_SUBJECT_ALERTS = new Set(["KubePodCrashLooping", "KubePodNotReady", "KubeContainerWaiting"]);

/** The PromQL expression of an alert's `generatorURL` (`…/graph?g0.expr=…`), or "" when there is none. */
function generatorExpr(url: string): string {
  try {
    return new URL(url).searchParams.get("g0.expr") ?? "";
  } catch {
    return "";
  }
}

/**
 * True when a kube-state-metrics alert is about a pod, so its `pod` label names the subject (
 * kube-state-metrics exports `pod` on `kube_pod_*`; with `honor_labels: true` it wins over the
 * scrape target's, with `honor_labels: false` the subject's is `exported_pod`). Judged by the
 * kubernetes-mixin alert name or by a `kube_pod_` series in the rule's expression.
 */
function aboutPods(alert: AlertmanagerAlert): boolean {
  if (POD_SUBJECT_ALERTS.has(alert.labels.alertname ?? "")) return true;
  return /\bkube_pod_/.test(generatorExpr(alert.generatorURL));
}

const WORKLOAD_TYPES: Record<string, TargetKind> = {
  deployment: "Deployment",
  statefulset: "StatefulSet",
  daemonset: "DaemonSet",
  job: "Job",
};

/**
 * Resolves what an Alertmanager alert is about from its labels, as kubernetes-mixin rules mean them
 * (https://github.com/kubernetes-monitoring/kubernetes-mixin, `alerts/apps_alerts.libsonnet`,
 * `alerts/resource_alerts.libsonnet`), in this order:
 * `deployment` → Deployment; `statefulset` → StatefulSet; `daemonset` → DaemonSet; `workload` with
 * kube-prometheus' `workload_type` (deployment/statefulset/daemonset/job; without it: the Deployment
 * or StatefulSet of that name); `horizontalpodautoscaler` → HPA (its `scaleTargetRef` at run time);
 * `job_name` → Job (its CronJob, if any, at run time); `pod` → Pod (its owner at run time: a pod
 * name alone cannot be trusted to contain its owner's).
 *
 * On kube-state-metrics series ({@link isKubeStateMetricsSeries}), `pod`, `instance`, `service`,
 * `container` and `job` are the scrape target's, i.e. the exporter's own, and are never the target —
 * except `pod` on series about pods (kube_pod_*, see `aboutPods`), where it is the subject's. There
 * `exported_pod`/`exported_namespace` (Prometheus' `honor_labels: false` renaming) win over
 * `pod`/`namespace`. `instance`, `service`, `endpoint` and `job` are never used.
 *
 * A namespace must be an RFC 1123 DNS label and each name valid for its kind
 * (`invalidNameReason`); otherwise the result is `invalid`. Never throws.
 */
export function resolveAlertTarget(alert: AlertmanagerAlert): AlertTarget {
  const l = alert.labels;
  const ksm = isKubeStateMetricsSeries(l);
  const namespace = (ksm ? l.exported_namespace : undefined) ?? l.namespace ?? l.exported_namespace;
  const alertname = l.alertname ?? "alert";
  if (namespace === undefined) {
    return {
      status: "none",
      reason: `${alertname} names no namespace (cluster-wide): no workload to triage`,
    };
  }
  const badNs = invalidNameReason("Namespace", namespace);
  if (badNs) return { status: "invalid", reason: badNs };

  const named = (kind: TargetKind | undefined, name: string, via: string): AlertTarget => {
    const bad = invalidNameReason(kind ?? "Workload", name);
    if (bad) return { status: "invalid", reason: bad };
    return {
      status: "target",
      target: kind ? { namespace, workload: name, kind } : { namespace, workload: name },
      via,
    };
  };
  if (l.deployment) return named("Deployment", l.deployment, "deployment");
  if (l.statefulset) return named("StatefulSet", l.statefulset, "statefulset");
  if (l.daemonset) return named("DaemonSet", l.daemonset, "daemonset");
  if (l.workload) {
    const type = l.workload_type ? WORKLOAD_TYPES[l.workload_type.toLowerCase()] : undefined;
    return named(type, l.workload, "workload");
  }
  if (l.horizontalpodautoscaler)
    return named("HorizontalPodAutoscaler", l.horizontalpodautoscaler, "horizontalpodautoscaler");
  if (l.job_name) return named("Job", l.job_name, "job_name");
  const pod = ksm ? (aboutPods(alert) ? (l.exported_pod ?? l.pod) : undefined) : (l.pod ?? l.exported_pod);
  if (pod) return named("Pod", pod, ksm && l.exported_pod ? "exported_pod" : "pod");
  return {
    status: "none",
    reason: `${alertname} names no workload in ${namespace} (expected deployment, statefulset, daemonset, workload, horizontalpodautoscaler, job_name or pod)`,
  };
}

/**
 * The workload an Alertmanager alert is about ({@link resolveAlertTarget}), or null when it names
 * none or an invalid one.
 */
export function targetFromAlert(alert: AlertmanagerAlert): RunTarget | null {
  const r = resolveAlertTarget(alert);
  return r.status === "target" ? r.target : null;
}

/**
 * The target and onset of a webhook notification: the first firing alert that names a workload; the
 * onset is the earliest `startsAt` among the firing alerts for that workload.
 * @throws BackstopError `alert.no_target` when no firing alert names a workload.
 */
export function targetFromWebhook(webhook: AlertmanagerWebhook): {
  target: RunTarget;
  onset: Date;
  alertname: string | null;
} {
  const firing = webhook.alerts.filter((a) => a.status === "firing");
  for (const alert of firing.length > 0 ? firing : webhook.alerts) {
    const target = targetFromAlert(alert);
    if (!target) continue;
    const same = webhook.alerts.filter((a) => {
      const t = targetFromAlert(a);
      return t !== null && workloadKey(t) === workloadKey(target);
    });
    const starts = same.map((a) => Date.parse(a.startsAt ?? "")).filter((n) => Number.isFinite(n));
    const onset = new Date(starts.length > 0 ? Math.min(...starts) : Date.now());
    return { target, onset, alertname: alert.labels.alertname ?? null };
  }
  throw new BackstopError(
    "alert.no_target",
    "no alert in the notification names a workload: expected labels namespace plus deployment, statefulset or pod",
  );
}

/**
 * The workload a target means at run time: a Pod, HPA or Job (see {@link needsResolution}) is
 * resolved through `signals.resolveOwner` (the read-only path; `ownerReferences`, an HPA's
 * `scaleTargetRef`), a Deployment or StatefulSet owner losing its kind (they are looked up by name),
 * a DaemonSet or Job keeping it. Any other target, a source without `resolveOwner`, or a failed
 * lookup (logged by the caller through `onError`) leaves the target as named, so the run triages
 * that name and escalates when it is not a workload it can read. Never throws.
 */
export async function resolveRunTarget(
  target: RunTarget,
  signals: Pick<SignalsSource, "resolveOwner">,
  onError?: (err: unknown) => void,
): Promise<RunTarget> {
  if (!needsResolution(target) || !signals.resolveOwner) return target;
  try {
    const owner = await signals.resolveOwner(
      target.namespace,
      target.kind as "Pod" | "HorizontalPodAutoscaler" | "Job",
      target.workload,
    );
    const kind = (["DaemonSet", "Job"] as const).find((k) => k === owner.kind);
    return { namespace: target.namespace, workload: owner.name, ...(kind ? { kind } : {}) };
  } catch (err) {
    onError?.(err);
    return target;
  }
}

/**
 * Parses `namespace/workload` as typed in `/backstop triage shop/checkout`.
 * @throws BackstopError `target.invalid` with the expected form.
 */
export function parseTargetRef(ref: string): RunTarget {
  const m = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/([a-z0-9]([-a-z0-9.]*[a-z0-9])?)$/.exec(ref.trim());
  if (!m)
    throw new BackstopError(
      "target.invalid",
      `expected <namespace>/<workload>, e.g. shop/checkout; got "${ref}"`,
    );
  const bad = invalidNameReason("Namespace", m[1]!) ?? invalidNameReason("Workload", m[3]!);
  if (bad)
    throw new BackstopError("target.invalid", `${bad}; expected <namespace>/<workload>, e.g. shop/checkout`);
  return { namespace: m[1]!, workload: m[3]! };
}
