import { KubeConfig } from "@kubernetes/client-node";
import type { ClusterConfig } from "../config.js";
import { servedClusters } from "../contracts/cluster.js";
import { BackstopError, errorMessage } from "../errors.js";
import { WritePath, type WritePathOptions } from "./write-path.js";

/**
 * A KubeConfig from a kubeconfig file (or client-node's default loading when `file` is undefined:
 * KUBECONFIG, ~/.kube/config, in-cluster service account), switched to `context` when given.
 * @throws BackstopError `config.invalid` when the file cannot be loaded or has no such context.
 */
export function loadKubeConfig(
  file: string | undefined,
  context: string | undefined,
  what: string,
): KubeConfig {
  const kc = new KubeConfig();
  try {
    if (file) kc.loadFromFile(file);
    else kc.loadFromDefault();
  } catch (err) {
    throw new BackstopError(
      "config.invalid",
      `${what}: cannot load kubeconfig ${file ?? "(default)"}: ${errorMessage(err)}`,
    );
  }
  if (context !== undefined) {
    if (!kc.getContextObject(context)) {
      const known = kc.getContexts().map((c) => c.name);
      throw new BackstopError(
        "config.invalid",
        `${what}: kubeconfig ${file ?? "(default)"} has no context "${context}" (it has: ${known.join(", ") || "none"})`,
      );
    }
    kc.setCurrentContext(context);
  }
  if (!kc.getCurrentCluster()) {
    throw new BackstopError(
      "config.invalid",
      `${what}: kubeconfig ${file ?? "(default)"} has no current cluster`,
    );
  }
  return kc;
}

/**
 * One narrow write path per cluster, each with that cluster's own writer credential: a run can only
 * ever reach the writer of the cluster it names.
 */
export class ClusterWriters {
  private constructor(private readonly byName: ReadonlyMap<string, WritePath>) {}

  /**
   * Builds the writers from `BACKSTOP_CLUSTERS` entries (`writer_kubeconfig` + `writer_context`).
   * @throws BackstopError `config.invalid` naming every cluster without a writer kubeconfig, or one whose
   *   kubeconfig or context cannot be loaded.
   */
  static fromConfig(
    clusters: readonly ClusterConfig[],
    opts: Omit<WritePathOptions, "kubeConfig" | "cluster"> = {},
  ): ClusterWriters {
    const missing = clusters.filter((c) => !c.writerKubeconfig).map((c) => c.name);
    if (missing.length > 0) {
      throw new BackstopError(
        "config.invalid",
        `no writer kubeconfig for cluster(s) ${missing.join(", ")}: set writer_kubeconfig in BACKSTOP_CLUSTERS ` +
          "(or BACKSTOP_WRITER_KUBECONFIG for a single cluster)",
      );
    }
    return ClusterWriters.of(
      clusters.map((c) => ({
        name: c.name,
        kubeConfig: loadKubeConfig(c.writerKubeconfig, c.writerContext, `cluster ${c.name} (writer)`),
      })),
      opts,
    );
  }

  /** Writers from ready KubeConfigs, e.g. the sandbox's writer token per cluster. */
  static of(
    clusters: readonly { name: string; kubeConfig: KubeConfig }[],
    opts: Omit<WritePathOptions, "kubeConfig" | "cluster"> = {},
  ): ClusterWriters {
    return new ClusterWriters(
      new Map(
        clusters.map((c) => [c.name, new WritePath({ ...opts, kubeConfig: c.kubeConfig, cluster: c.name })]),
      ),
    );
  }

  /** The served cluster names, in configuration order. */
  names(): string[] {
    return [...this.byName.keys()];
  }

  /**
   * The write path of `cluster`; with none, the only one when exactly one cluster is served.
   * @throws BackstopError `cluster.unknown` (not served; lists the served ones) or `cluster.required`.
   */
  get(cluster: string | undefined): WritePath {
    const names = this.names();
    const roster = { names, label: "" };
    if (cluster === undefined) {
      if (names.length === 1) return this.byName.get(names[0]!)!;
      throw new BackstopError(
        "cluster.required",
        `several clusters are served (${servedClusters(roster)}): a run must name its cluster`,
      );
    }
    const w = this.byName.get(cluster);
    if (!w)
      throw new BackstopError(
        "cluster.unknown",
        `no writer for cluster "${cluster}": this Backstop serves ${servedClusters(roster)}`,
      );
    return w;
  }
}
