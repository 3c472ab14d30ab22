import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { z } from "zod";
import { WorkloadSignalSchema } from "../../src/contracts/signals.js";
import { clusterArg, type InfraClusters, oncePerClusterNames } from "../clusters.js";
import { readWorkload, sanitizedWorkloadSignal } from "../signals.js";
import { READ_ONLY_ANNOTATIONS, toolResult } from "./result.js";

/** A DNS-1123 name (namespaces, workloads): lower-case alphanumerics and `-`, at most 253 characters. */
export const K8sNameSchema = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, "expected a Kubernetes object name (DNS-1123)");

/** Input of `deployment_status`: `cluster` (optional when one is served), namespace, name. */
export const deploymentStatusInput = oncePerClusterNames((clusters) => ({
  cluster: clusterArg(clusters),
  namespace: K8sNameSchema.describe("Namespace of the workload"),
  name: K8sNameSchema.describe(
    "Deployment name (a StatefulSet of that name is used when no Deployment exists)",
  ),
}));

/**
 * Registers `deployment_status` (cluster, namespace, name): replicas desired/ready/available/updated, status conditions,
 * main image and current revision (`deployment.kubernetes.io/revision`), shaped as `WorkloadSignalSchema`.
 * Tool errors: unknown namespace, unknown workload, forbidden (403), API down or timed out.
 */
export function registerDeploymentStatusTool(server: McpServer, clusters: InfraClusters): void {
  server.registerTool(
    "deployment_status",
    {
      title: "Deployment status",
      description:
        "Status of one Deployment (or StatefulSet of that name): replicas desired/ready/available/updated, " +
        "conditions (messages redacted, then cut to 300 chars), main container image and current revision. Read-only.",
      inputSchema: deploymentStatusInput(clusters.names),
      outputSchema: WorkloadSignalSchema,
      annotations: READ_ONLY_ANNOTATIONS,
    },
    async ({ cluster, namespace, name }) =>
      toolResult("deployment_status", async () =>
        sanitizedWorkloadSignal(await readWorkload(clusters.resolve(cluster), namespace, name)),
      ),
  );
}
