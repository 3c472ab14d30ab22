import type { AlertmanagerAlert } from "../contracts/alertmanager.js";
import { type ClusterRoster, selectCluster } from "../contracts/cluster.js";
import { targetFromAlert } from "../pipeline/target.js";

/**
 * Intake's cluster selection for Alertmanager alerts (see `selectCluster` in src/contracts/cluster.ts
 * for the rule). Kept apart from the route so the route only asks "which cluster?"; refusals go into
 * the route's `refused` list and its channel notice.
 */

/** An alert refused because of its cluster: who it was, which cluster it named (null: none), and why. */
export interface RefusedAlert {
  fingerprint: string;
  alertname: string | null;
  /** `namespace/workload` when the labels name one. */
  target: string | null;
  /** The cluster the alert's label named, or null when it had no cluster label. */
  cluster: string | null;
  reason: string;
}

/**
 * The configured cluster of one alert, or the refusal to record. Reads the alert's own labels
 * (Alertmanager puts external labels such as `cluster` on each alert). Never throws.
 */
export function clusterOfAlert(
  alert: AlertmanagerAlert,
  roster: ClusterRoster,
): { cluster: string } | { refused: RefusedAlert } {
  const choice = selectCluster(alert.labels, roster);
  if ("cluster" in choice) return choice;
  const t = targetFromAlert(alert);
  return {
    refused: {
      fingerprint: alert.fingerprint,
      alertname: alert.labels.alertname ?? null,
      target: t ? `${t.namespace}/${t.workload}` : null,
      cluster: choice.from,
      reason: choice.reason,
    },
  };
}
