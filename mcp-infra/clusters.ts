import type { KubeConfig } from "@kubernetes/client-node";
import { CLUSTER_NAME_RE, ClusterNameSchema } from "../src/contracts/cluster.js";
import { BackstopError } from "../src/errors.js";
import { DEFAULT_K8S_TIMEOUT_MS, makeK8sApis } from "./k8s.js";
import { createPrometheusClient } from "./prometheus.js";
import type { InfraContext } from "./signals.js";

/** One cluster mcp-infra serves: its name, its read-only credential (a KubeConfig on the right context), its Prometheus. */
export interface InfraClusterOptions {
  name: string;
  kubeConfig: KubeConfig;
  prometheusUrl?: string;
}

/**
 * The clusters of one mcp-infra server, each with its own read-only clients, so a cluster whose API is
 * down fails the calls that name it and no other. {@link InfraClusters.resolve} turns a tool's
 * `cluster` argument into that cluster's context.
 */
export interface InfraClusters {
  names: readonly string[];
  /**
   * The context of `cluster`; with no `cluster`, the only one when exactly one is served.
   * @throws BackstopError `infra.cluster_required` (several served, none named) or
   *   `infra.unknown_cluster` (not served; the message lists the served ones).
   */
  resolve(cluster: string | undefined): InfraContext & { cluster: string };
}

/**
 * Builds one set of API clients per cluster (per-call timeout `timeoutMs`, default 5000 ms).
 * @throws BackstopError `config.invalid` for no clusters, a bad name or a duplicate name.
 */
export function makeInfraClusters(
  clusters: readonly InfraClusterOptions[],
  timeoutMs = DEFAULT_K8S_TIMEOUT_MS,
): InfraClusters {
  if (clusters.length === 0)
    throw new BackstopError("config.invalid", "mcp-infra needs at least one cluster");
  const byName = new Map<string, InfraContext & { cluster: string }>();
  for (const c of clusters) {
    if (!CLUSTER_NAME_RE.test(c.name))
      throw new BackstopError("config.invalid", `mcp-infra: invalid cluster name "${c.name}"`);
    if (byName.has(c.name))
      throw new BackstopError("config.invalid", `mcp-infra: duplicate cluster name "${c.name}"`);
    byName.set(c.name, {
      cluster: c.name,
      apis: makeK8sApis(c.kubeConfig, timeoutMs),
      prometheus: c.prometheusUrl ? createPrometheusClient(c.prometheusUrl, timeoutMs) : null,
    });
  }
  const names = [...byName.keys()];
  return {
    names,
    resolve(cluster) {
      if (cluster === undefined) {
        if (names.length === 1) return byName.get(names[0]!)!;
        throw new BackstopError(
          "infra.cluster_required",
          `this server serves ${names.length} clusters (${names.join(", ")}): pass \`cluster\``,
        );
      }
      const ctx = byName.get(cluster);
      if (!ctx)
        throw new BackstopError(
          "infra.unknown_cluster",
          `unknown cluster "${cluster}": this server serves ${names.join(", ")}`,
        );
      return ctx;
    },
  };
}

/**
 * `build(names)` made once per distinct list of served cluster names and then reused: a stateless MCP
 * server registers its tools on every request, and a zod schema is costly to construct (V8 compiles
 * its checks), so tool input shapes are built once per server, not once per request.
 */
export function oncePerClusterNames<T>(
  build: (names: readonly string[]) => T,
): (names: readonly string[]) => T {
  const made = new Map<string, T>();
  return (names) => {
    const key = names.join("\n");
    let value = made.get(key);
    if (value === undefined) {
      value = build(names);
      made.set(key, value);
    }
    return value;
  };
}

/** The `cluster` argument every mcp-infra tool takes: optional when the server serves one cluster. */
export function clusterArg(names: readonly string[]) {
  return ClusterNameSchema.optional().describe(
    names.length === 1
      ? `Cluster name (optional: this server serves only "${names[0]}")`
      : `Cluster name, one of: ${names.join(", ")} (required)`,
  );
}
