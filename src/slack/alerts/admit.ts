/** Intake of a parsed notification: screening each alert (bounds, cluster, names) and admitting one run per workload. */
import {
  type AlertmanagerAlert,
  type AlertmanagerWebhook,
  boundAnnotations,
  boundLabelMap,
  INTAKE_LIMITS,
  labelsOverLimit,
} from "../../contracts/alertmanager.js";
import { type ClusterRoster, SINGLE_CLUSTER } from "../../contracts/cluster.js";
import {
  type AlertTarget,
  type RunTarget,
  resolveAlertTarget,
  targetFromAlert,
  workloadKey,
} from "../../pipeline/target.js";
import { type Admission, type AdmitDeps, admitLazily } from "../../queue/admit.js";
import { incidentKeyer, type RunJobData, runIdFor } from "../../queue/jobs.js";
import { clusterOfAlert } from "../cluster-select.js";
import type { AlertRouteOptions, AlertRouteResult, IgnoredAlert, JoinNote } from "./types.js";

/** An alert the intake kept: its annotations bounded, what it is about, and the cluster it runs on. */
export interface ScreenedAlert {
  alert: AlertmanagerAlert;
  about: Exclude<AlertTarget, { status: "invalid" }>;
  cluster: string;
}

/**
 * Screens each alert: labels within {@link INTAKE_LIMITS} (else refused: labels are its identity),
 * a cluster this Backstop serves (`selectCluster` over `roster`; else refused, naming the alert's
 * cluster and the served ones), namespace and workload valid Kubernetes names (`resolveAlertTarget`;
 * else refused), annotations cut to the bounds (`boundAnnotations`). Pure; never throws.
 */
export function screenAlerts(
  webhook: AlertmanagerWebhook,
  roster: ClusterRoster = SINGLE_CLUSTER,
): {
  kept: ScreenedAlert[];
  refused: IgnoredAlert[];
} {
  const kept: ScreenedAlert[] = [];
  const refused: IgnoredAlert[] = [];
  webhook.alerts.forEach((alert, i) => {
    const alertname = alert.labels.alertname ?? null;
    const over = labelsOverLimit(alert.labels);
    if (over) {
      refused.push({ fingerprint: alert.fingerprint, alertname, reason: `alerts.${i}.labels: ${over}` });
      return;
    }
    const picked = clusterOfAlert(alert, roster);
    if ("refused" in picked) {
      const r = picked.refused;
      refused.push({
        fingerprint: r.fingerprint,
        alertname: r.alertname,
        reason: r.reason,
        cluster: r.cluster,
      });
      return;
    }
    const about = resolveAlertTarget(alert);
    if (about.status === "invalid") {
      refused.push({
        fingerprint: alert.fingerprint,
        alertname,
        reason: `alerts.${i}.labels: ${about.reason}`,
      });
      return;
    }
    kept.push({
      alert: {
        ...alert,
        annotations: boundAnnotations(alert.annotations),
        generatorURL: alert.generatorURL.slice(0, INTAKE_LIMITS.urlChars),
      },
      about,
      cluster: picked.cluster,
    });
  });
  return { kept, refused };
}

/** The notification as a job carries it: one alert, the group-wide maps bounded. */
function jobWebhook(webhook: AlertmanagerWebhook, alert: AlertmanagerAlert): AlertmanagerWebhook {
  return {
    ...webhook,
    receiver: webhook.receiver.slice(0, INTAKE_LIMITS.urlChars),
    externalURL: webhook.externalURL.slice(0, INTAKE_LIMITS.urlChars),
    groupLabels: boundLabelMap(webhook.groupLabels),
    commonLabels: boundLabelMap(webhook.commonLabels),
    commonAnnotations: boundAnnotations(webhook.commonAnnotations),
    alerts: [alert],
  };
}

/**
 * Admits one run per firing alert that names a workload (`admitLazily`: one run per workload; re-sends
 * deduplicated). The incident key comes from the group key and the alert's workload
 * (`incidentKeyer`). The job carries the notification with only that alert in `alerts`.
 * Resolved alerts are returned for {@link noteResolved}; alerts naming no workload go to `ignored`.
 * Each incident is admitted once per notification, whatever the number of its alerts (one Redis
 * round trip, two for a new run; the incidents of one notification concurrently): a later alert of
 * the same incident is answered as admitting it again would be (after `queued` or `duplicate`,
 * `duplicate`; after `joined`, `joined` with `first` false).
 * @throws the first admission error (BackstopError `queue.unavailable` / `store.unavailable`): runs
 *   admitted besides it stay queued, and Alertmanager's retry deduplicates them.
 */
export async function queueAlerts(
  webhook: AlertmanagerWebhook,
  kept: ScreenedAlert[],
  opts: Pick<AlertRouteOptions, "settings" | "clock"> & AdmitDeps,
): Promise<{ result: Omit<AlertRouteResult, "refused">; joins: JoinNote[] }> {
  // Screening resolved the kept alerts' targets; a kept alert shares its `labels` with the original.
  const targets = new Map<Record<string, string>, RunTarget | null>();
  for (const { alert, about } of kept)
    targets.set(alert.labels, about.status === "target" ? about.target : null);
  const keyOf = incidentKeyer(webhook, (a) => {
    const t = targets.get(a.labels);
    return t === undefined ? targetFromAlert(a) : t;
  });
  // One admission per incident: `admitted` is its index in `pending`, `again` a later alert of it.
  const pending: Promise<Admission>[] = [];
  const indexOf = new Map<string, number>();
  const firing: {
    alert: AlertmanagerAlert;
    cluster: string;
    target: RunTarget;
    incidentKey: string;
    admitted: number;
    again: boolean;
  }[] = [];
  const result: Omit<AlertRouteResult, "refused"> = { queued: [], joined: [], ignored: [], resolved: [] };
  for (const s of kept) {
    const { alert, about, cluster } = s;
    const incidentKey = keyOf(alert, cluster);
    if (alert.status === "resolved") {
      result.resolved.push({ incidentKey, fingerprint: alert.fingerprint });
      continue;
    }
    if (about.status === "none") {
      result.ignored.push({
        fingerprint: alert.fingerprint,
        alertname: alert.labels.alertname ?? null,
        reason: about.reason,
      });
      continue;
    }
    const { target } = about;
    const seen = indexOf.get(incidentKey);
    if (seen !== undefined) {
      firing.push({ alert, cluster, target, incidentKey, admitted: seen, again: true });
      continue;
    }
    const request = { incidentKey, runId: runIdFor(incidentKey), cluster, target };
    indexOf.set(incidentKey, pending.length);
    firing.push({ alert, cluster, target, incidentKey, admitted: pending.length, again: false });
    pending.push(admitLazily(request, () => jobData(webhook, s, request, opts), opts));
  }
  const admissions = await Promise.allSettled(pending);
  const joins: JoinNote[] = [];
  for (const a of admissions) if (a.status === "rejected") throw a.reason;
  for (const { alert, cluster, target, incidentKey, admitted, again } of firing) {
    const a = (admissions[admitted] as PromiseFulfilledResult<Admission>).value;
    if (a.status === "joined") {
      result.joined.push({
        incidentKey,
        fingerprint: alert.fingerprint,
        joined: a.holder,
        runId: a.holderRunId,
      });
      if (a.first && !again)
        joins.push({
          holder: a.holder,
          holderRunId: a.holderRunId,
          alertname: alert.labels.alertname ?? "alert",
          what: `${workloadKey(target)} in ${cluster}`,
        });
      continue;
    }
    result.queued.push({
      incidentKey,
      runId: a.runId,
      fingerprint: alert.fingerprint,
      deduplicated: again || a.status === "duplicate",
    });
  }
  return { result, joins };
}

/** The `triage` job of a kept alert: the notification with only that alert, the group-wide maps bounded. */
function jobData(
  webhook: AlertmanagerWebhook,
  { alert, cluster }: ScreenedAlert,
  request: Pick<RunJobData, "incidentKey" | "runId" | "target">,
  opts: Pick<AlertRouteOptions, "settings">,
): RunJobData {
  return {
    runId: request.runId,
    cluster,
    trigger: "alert",
    incidentKey: request.incidentKey,
    target: request.target,
    // Validated RFC 3339 by the schema, so the onset is the alert's, never the receive time.
    onset: alert.startsAt as string,
    alert: jobWebhook(webhook, alert),
    note: null,
    requestedBy: null,
    slack: { channel: opts.settings.alertChannel, responseUrl: null },
  };
}
