import { z } from "zod";
import { ClusterNameSchema, DEFAULT_CLUSTER_NAME, refineUniqueClusterNames } from "../contracts/cluster.js";
import { BackstopError, formatZodIssues } from "../errors.js";
import { readJsonOrFile } from "./json-source.js";

/**
 * One entry of `BACKSTOP_CLUSTERS`. `kubeconfig` / `writer_kubeconfig` are kubeconfig file paths
 * (absent: client-node's default, i.e. `KUBECONFIG`, `~/.kube/config` or the in-cluster service account);
 * `context` / `writer_context` pick a context in them (absent: the file's `current-context`).
 * `prometheus_url` is the cluster's Prometheus HTTP API base.
 */
const ClusterEnvSchema = z
  .object({
    name: ClusterNameSchema,
    kubeconfig: z.string().min(1).optional(),
    context: z.string().min(1).optional(),
    writer_kubeconfig: z.string().min(1).optional(),
    writer_context: z.string().min(1).optional(),
    prometheus_url: z.url().optional(),
  })
  .strict();

/**
 * One cluster Backstop serves: its name (what the alert label says), the read-only credential
 * mcp-infra uses (`kubeconfig` path + `context`), the writer credential the write path uses
 * (`writerKubeconfig` path + `writerContext`) and its Prometheus. `undefined` paths mean client-node's
 * default loading; `undefined` contexts the file's current context.
 */
export interface ClusterConfig {
  name: string;
  kubeconfig: string | undefined;
  context: string | undefined;
  writerKubeconfig: string | undefined;
  writerContext: string | undefined;
  prometheusUrl: string | undefined;
}

/**
 * The clusters from `BACKSTOP_CLUSTERS` (a JSON array, or a path to a JSON file, of
 * `{ name, kubeconfig?, context?, writer_kubeconfig?, writer_context?, prometheus_url? }`), or the
 * single cluster of today's variables (`BACKSTOP_CLUSTER_NAME`, `BACKSTOP_WRITER_KUBECONFIG`,
 * `BACKSTOP_PROMETHEUS_URL`; the read-only side uses client-node's default loading).
 * @throws BackstopError `config.invalid`: not JSON, an empty list, a bad or duplicate name, an unknown
 *   field, or `BACKSTOP_CLUSTERS` together with a single-cluster variable (which would be ambiguous).
 */
export function parseClusters(e: {
  BACKSTOP_CLUSTERS?: string | undefined;
  BACKSTOP_CLUSTER_NAME?: string | undefined;
  BACKSTOP_WRITER_KUBECONFIG?: string | undefined;
  BACKSTOP_PROMETHEUS_URL?: string | undefined;
}): ClusterConfig[] {
  if (e.BACKSTOP_CLUSTERS === undefined || e.BACKSTOP_CLUSTERS.trim() === "") {
    return [
      {
        name: e.BACKSTOP_CLUSTER_NAME ?? DEFAULT_CLUSTER_NAME,
        kubeconfig: undefined,
        context: undefined,
        writerKubeconfig: e.BACKSTOP_WRITER_KUBECONFIG,
        writerContext: undefined,
        prometheusUrl: e.BACKSTOP_PROMETHEUS_URL,
      },
    ];
  }
  const clash = (
    ["BACKSTOP_CLUSTER_NAME", "BACKSTOP_WRITER_KUBECONFIG", "BACKSTOP_PROMETHEUS_URL"] as const
  ).filter((k) => e[k] !== undefined && e[k] !== "");
  if (clash.length > 0) {
    throw new BackstopError(
      "config.invalid",
      `BACKSTOP_CLUSTERS is set, so ${clash.join(", ")} would be ambiguous: move it into the cluster entries ` +
        "(name, writer_kubeconfig, prometheus_url) and unset it",
    );
  }
  const json = readJsonOrFile(e.BACKSTOP_CLUSTERS, "BACKSTOP_CLUSTERS");
  const list = z
    .array(ClusterEnvSchema)
    .min(1, "list at least one cluster")
    .superRefine(refineUniqueClusterNames)
    .safeParse(json);
  if (!list.success) {
    throw new BackstopError("config.invalid", formatZodIssues(list.error, { prefix: "BACKSTOP_CLUSTERS" }));
  }
  return list.data.map((c) => ({
    name: c.name,
    kubeconfig: c.kubeconfig,
    context: c.context,
    writerKubeconfig: c.writer_kubeconfig,
    writerContext: c.writer_context,
    prometheusUrl: c.prometheus_url,
  }));
}
