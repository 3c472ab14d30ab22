import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { type NamespacesOutput, NamespacesOutputSchema } from "../../src/contracts/infra-tools.js";
import { PROTECTED_LABEL } from "../../src/contracts/k8s.js";
import { clusterArg, type InfraClusters, oncePerClusterNames } from "../clusters.js";
import { iso, k8sCall } from "../k8s.js";
import { READ_ONLY_ANNOTATIONS, toolResult } from "./result.js";

/** At most this many namespaces are listed. */
export const MAX_NAMESPACES = 200;

/** Output of `namespaces` (defined in `src/contracts/infra-tools.ts`, shared with Backstop's client). */
export { type NamespacesOutput, NamespacesOutputSchema };

/** Input of `namespaces`: `cluster` (optional when one is served). */
const namespacesInput = oncePerClusterNames((clusters) => ({ cluster: clusterArg(clusters) }));

/**
 * Registers `namespaces` (`cluster`, optional when one is served): the cluster's namespaces (core/v1 `list namespaces`) with their labels,
 * sorted by name, at most {@link MAX_NAMESPACES}. Tool errors: forbidden (403), API down or timed out.
 */
export function registerNamespacesTool(server: McpServer, clusters: InfraClusters): void {
  server.registerTool(
    "namespaces",
    {
      title: "List namespaces",
      description:
        `Lists the cluster's namespaces with their labels, sorted by name (at most ${MAX_NAMESPACES}). ` +
        `A namespace labelled ${PROTECTED_LABEL}="true" is protected: never act on it. Read-only.`,
      inputSchema: namespacesInput(clusters.names),
      outputSchema: NamespacesOutputSchema,
      annotations: READ_ONLY_ANNOTATIONS,
    },
    async ({ cluster }) =>
      toolResult("namespaces", async (): Promise<NamespacesOutput> => {
        const ctx = clusters.resolve(cluster);
        const list = await k8sCall(ctx.apis, "list namespaces", () =>
          ctx.apis.core.listNamespace({}, ctx.apis.opts),
        );
        const all = list.items
          .map((ns) => {
            const labels = ns.metadata?.labels ?? {};
            return {
              name: ns.metadata?.name ?? "",
              phase: ns.status?.phase ?? null,
              labels,
              protected: labels[PROTECTED_LABEL] === "true",
              created_at: iso(ns.metadata?.creationTimestamp),
            };
          })
          .sort((a, b) => a.name.localeCompare(b.name));
        return { namespaces: all.slice(0, MAX_NAMESPACES), truncated: all.length > MAX_NAMESPACES };
      }),
  );
}
