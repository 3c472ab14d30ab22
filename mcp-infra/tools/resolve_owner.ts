import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { z } from "zod";
import { ResolveOwnerOutputSchema } from "../../src/contracts/infra-tools.js";
import { clusterArg, type InfraClusters, oncePerClusterNames } from "../clusters.js";
import { OWNER_START_KINDS, resolveOwner } from "../owner.js";
import { K8sNameSchema } from "./deployment_status.js";
import { READ_ONLY_ANNOTATIONS, toolResult } from "./result.js";

/** Input of `resolve_owner`: `cluster` (optional when one is served), namespace, kind, name. */
export const resolveOwnerInput = oncePerClusterNames((clusters) => ({
  cluster: clusterArg(clusters),
  namespace: K8sNameSchema.describe("Namespace of the object"),
  kind: z
    .enum(OWNER_START_KINDS)
    .describe("Kind of the named object: Pod, HorizontalPodAutoscaler, Job or ReplicaSet"),
  name: K8sNameSchema.describe("Name of the object"),
}));

/** Output of `resolve_owner` (the contract's `ResolveOwnerOutputSchema`, shared with Backstop's client). */
export const ResolveOwnerOutput = ResolveOwnerOutputSchema;

/**
 * Registers `resolve_owner` (cluster, namespace, kind, name): the workload that owns a Pod (through its
 * ReplicaSet to the Deployment, or its StatefulSet, DaemonSet, Job → CronJob), an HPA's
 * `scaleTargetRef`, a Job's CronJob, a ReplicaSet's Deployment — from `ownerReferences`, never from
 * names. Tool errors: not found, forbidden (403), API down or timed out.
 */
export function registerResolveOwnerTool(server: McpServer, clusters: InfraClusters): void {
  server.registerTool(
    "resolve_owner",
    {
      title: "Resolve the workload that owns an object",
      description:
        "Read-only: follows metadata.ownerReferences (controller) from a Pod, Job or ReplicaSet, or an HPA's spec.scaleTargetRef, to the workload that owns it (Deployment, StatefulSet, DaemonSet, CronJob, ...). Returns the owner and the chain read.",
      inputSchema: resolveOwnerInput(clusters.names),
      outputSchema: ResolveOwnerOutput,
      annotations: READ_ONLY_ANNOTATIONS,
    },
    async ({ cluster, namespace, kind, name }) =>
      toolResult("resolve_owner", () => resolveOwner(clusters.resolve(cluster).apis, namespace, kind, name)),
  );
}
