import type { AlertmanagerAlert, AlertmanagerWebhook } from "../../scenarios/schema.js";
import { BackstopError } from "../errors.js";

/** The workload a run triages: a namespace and a Deployment or StatefulSet name. */
export interface RunTarget {
  namespace: string;
  workload: string;
}

/**
 * Pod names made by a Deployment: `<deployment>-<pod-template-hash>-<5 chars>`; by a StatefulSet:
 * `<statefulset>-<ordinal>`. See https://kubernetes.io/docs/concepts/workloads/controllers/deployment/
 * ("pod-template-hash label") and the StatefulSet "Pod identity" section.
 */
const DEPLOYMENT_POD = /^(?<name>[a-z0-9]([-a-z0-9]*[a-z0-9])?)-[a-z0-9]{5,10}-[a-z0-9]{5}$/;
const STATEFULSET_POD = /^(?<name>[a-z0-9]([-a-z0-9]*[a-z0-9])?)-\d+$/;

/**
 * The workload an Alertmanager alert is about, from kubernetes-mixin labels: `deployment`,
 * `statefulset`, `workload` (with `namespace`; never `service`, which names the exporter), or else the `pod` name with its generated suffix removed.
 * Returns null when the labels name no workload.
 */
export function targetFromAlert(alert: AlertmanagerAlert): RunTarget | null {
  const l = alert.labels;
  const namespace = l.namespace ?? l.exported_namespace;
  if (!namespace) return null;
  // Not `service`: kube-state-metrics alerts carry service="kube-state-metrics", which is the exporter, not the workload.
  const direct = l.deployment ?? l.statefulset ?? l.workload;
  if (direct) return { namespace, workload: direct };
  const pod = l.pod;
  if (pod) {
    const m = DEPLOYMENT_POD.exec(pod) ?? STATEFULSET_POD.exec(pod);
    if (m?.groups?.name) return { namespace, workload: m.groups.name };
  }
  return null;
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
      return t?.namespace === target.namespace && t.workload === target.workload;
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
  return { namespace: m[1]!, workload: m[3]! };
}
