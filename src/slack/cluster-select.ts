import type { WebClient } from "@slack/web-api";
import type { Logger } from "pino";
import { clusterRefusedNote } from "../../blocks/index.js";
import type { AlertmanagerAlert } from "../../scenarios/schema.js";
import { type ClusterRoster, selectCluster } from "../contracts/cluster.js";
import { errorMessage } from "../errors.js";
import { targetFromAlert } from "../pipeline/target.js";

/**
 * Intake's cluster selection for Alertmanager alerts (see `selectCluster` in src/contracts/cluster.ts
 * for the rule). Kept apart from the route so the route only asks "which cluster?" and reports refusals.
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

/**
 * Posts one note per refused alert in `channel` saying which cluster the alert came from and which
 * clusters this Backstop serves. Failures are logged, never thrown (the webhook has been answered).
 */
export async function noteRefusedClusters(
  client: WebClient,
  channel: string,
  refused: readonly RefusedAlert[],
  log: Logger,
): Promise<void> {
  for (const r of refused) {
    try {
      await client.chat.postMessage({ channel, ...clusterRefusedNote(r) });
    } catch (err) {
      log.error(
        { fingerprint: r.fingerprint, cluster: r.cluster, err: errorMessage(err) },
        "could not post a cluster refusal note",
      );
    }
  }
}
