import { z } from "zod";
import { BackstopError } from "../errors.js";

/**
 * Clusters: which Kubernetes clusters one Backstop serves, and how an alert or a command picks one.
 *
 * One Alertmanager commonly serves many clusters: kube-prometheus-stack sets an external label
 * (`cluster` by default, `prometheus.prometheusSpec.externalLabels`) on every alert, and the
 * notifications of all clusters arrive at the same receiver. Backstop must act on the cluster the
 * alert came from and no other, so an alert that names a cluster this Backstop does not serve is
 * refused, and an alert without the label is accepted only where exactly one cluster is configured.
 */

/**
 * A cluster name: 1..63 characters, letters, digits, `-`, `_` and `.`, starting and ending with a
 * letter or digit (wide enough for kubeconfig context names such as `gke_proj_zone_name`, `kind-dev`,
 * and for external labels such as `prod-eu-west-1`). Never `/` (it separates the cluster in
 * `/backstop triage CLUSTER/NAMESPACE/WORKLOAD`) and never `:` (BullMQ job ids).
 */
export const CLUSTER_NAME_RE = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;

/** zod schema of a cluster name, see {@link CLUSTER_NAME_RE}. */
export const ClusterNameSchema = z
  .string()
  .regex(CLUSTER_NAME_RE, "expected a cluster name: 1-63 letters, digits, '-', '_' or '.', no '/' or ':'");

/**
 * zod `superRefine` check for a list of clusters: each `name` appears once; every repeat gets a
 * `custom` issue at `[index, "name"]` (`duplicate cluster name "…"`). Used by `BACKSTOP_CLUSTERS` and
 * scenario files.
 */
export function refineUniqueClusterNames(list: readonly { name: string }[], ctx: z.RefinementCtx): void {
  const seen = new Set<string>();
  list.forEach((c, i) => {
    if (seen.has(c.name))
      ctx.addIssue({ code: "custom", path: [i, "name"], message: `duplicate cluster name "${c.name}"` });
    seen.add(c.name);
  });
}

/** The alert label that names the cluster unless `BACKSTOP_CLUSTER_LABEL` says otherwise. */
export const DEFAULT_CLUSTER_LABEL = "cluster";

/** The cluster name of a single-cluster install unless `BACKSTOP_CLUSTER_NAME` says otherwise. */
export const DEFAULT_CLUSTER_NAME = "default";

/**
 * What intake needs to know about the configured clusters: their names (at least one, unique) and
 * the alert label that names a cluster.
 */
export interface ClusterRoster {
  names: readonly string[];
  label: string;
}

/** The roster of a single-cluster install named {@link DEFAULT_CLUSTER_NAME}. */
export const SINGLE_CLUSTER: ClusterRoster = { names: [DEFAULT_CLUSTER_NAME], label: DEFAULT_CLUSTER_LABEL };

/**
 * The outcome of {@link selectCluster}: the cluster to run on, or a refusal with a sentence for the
 * channel. `from` is the cluster the alert named (null when it named none).
 */
export type ClusterChoice = { cluster: string } | { refused: true; from: string | null; reason: string };

/** `prod-eu1` or `prod-eu1, prod-us1`: the served clusters as a sentence fragment. */
export function servedClusters(roster: ClusterRoster): string {
  return roster.names.join(", ");
}

/**
 * Picks the cluster of an alert from its labels (pass the alert's own labels: Alertmanager copies
 * external labels onto each alert, and `commonLabels` only holds what all alerts share):
 * - the label (`roster.label`) names a configured cluster: that cluster;
 * - it names any other cluster (or is present but empty): refused, naming the alert's cluster and the
 *   served ones;
 * - no label: the one configured cluster when there is exactly one, else refused (with two or more
 *   there is no safe guess).
 * Cluster names compare exactly (case-sensitive), as Prometheus label values do. Never throws.
 */
export function selectCluster(labels: Record<string, string>, roster: ClusterRoster): ClusterChoice {
  const raw = Object.hasOwn(labels, roster.label) ? labels[roster.label] : undefined;
  if (raw === undefined) {
    if (roster.names.length === 1) return { cluster: roster.names[0]! };
    return {
      refused: true,
      from: null,
      reason:
        `the alert has no \`${roster.label}\` label and this Backstop serves ${roster.names.length} clusters ` +
        `(${servedClusters(roster)}), so it cannot tell which cluster to act on`,
    };
  }
  if (roster.names.includes(raw)) return { cluster: raw };
  const shown = raw === "" ? "(empty)" : raw;
  return {
    refused: true,
    from: raw,
    reason:
      `the alert came from cluster \`${shown}\` (label \`${roster.label}\`), which this Backstop does not serve; ` +
      `it serves ${servedClusters(roster)}`,
  };
}

/** A workload in a cluster, as a run targets it. */
export interface ClusterTarget {
  cluster: string;
  namespace: string;
  workload: string;
}

const NAME = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const WORKLOAD = "[a-z0-9]([-a-z0-9.]*[a-z0-9])?";
const REF_RE = new RegExp(`^(?:([^/\\s]+)/)?(${NAME})/(${WORKLOAD})$`);

/**
 * Parses `[CLUSTER/]NAMESPACE/WORKLOAD` as typed in `/backstop triage`. The cluster is optional where
 * exactly one is configured, required with two or more, and must be a configured one.
 * @throws BackstopError `target.invalid` (bad form, with the expected one), `cluster.required` (two or
 *   more clusters and none given, naming them), `cluster.unknown` (a cluster this Backstop does not serve).
 */
export function parseClusterTargetRef(ref: string, roster: ClusterRoster): ClusterTarget {
  const text = ref.trim();
  const m = REF_RE.exec(text);
  const form =
    roster.names.length > 1 ? "<cluster>/<namespace>/<workload>" : "[<cluster>/]<namespace>/<workload>";
  const example = `${roster.names[0] ?? "prod"}/shop/checkout`;
  if (!m) {
    throw new BackstopError("target.invalid", `expected ${form}, e.g. ${example}; got "${ref}"`);
  }
  const [, cluster, namespace, , workload] = m;
  if (cluster === undefined) {
    if (roster.names.length !== 1) {
      throw new BackstopError(
        "cluster.required",
        `this Backstop serves ${roster.names.length} clusters (${servedClusters(roster)}): name one, e.g. ${example}`,
      );
    }
    return { cluster: roster.names[0]!, namespace: namespace!, workload: workload! };
  }
  if (!roster.names.includes(cluster)) {
    throw new BackstopError(
      "cluster.unknown",
      `this Backstop does not serve cluster "${cluster}"; it serves ${servedClusters(roster)}`,
    );
  }
  return { cluster, namespace: namespace!, workload: workload! };
}
