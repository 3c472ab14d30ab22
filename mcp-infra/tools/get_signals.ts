import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { z } from "zod";
import { SignalsSchema } from "../../src/contracts/signals.js";
import { clusterArg, type InfraClusters, oncePerClusterNames } from "../clusters.js";
import { collectSignals, LIMITS, WINDOW_RE } from "../signals.js";
import { K8sNameSchema } from "./deployment_status.js";
import { READ_ONLY_ANNOTATIONS, toolResult } from "./result.js";

/**
 * Input of `get_signals`; `window` is a Prometheus duration (`30s`, `15m`, `2h`, `1d`), default `15m`;
 * `cluster` one of the served clusters (optional when one is served).
 */
export const getSignalsInput = oncePerClusterNames((clusters) => ({
  cluster: clusterArg(clusters),
  namespace: K8sNameSchema.describe("Namespace of the workload"),
  workload: K8sNameSchema.describe("Deployment name, or StatefulSet name when no Deployment has it"),
  window: z
    .string()
    .regex(WINDOW_RE, "expected a Prometheus duration like 15m, 1h")
    .default("15m")
    .describe("Look-back window for metrics, e.g. 15m (default), 1h"),
}));

const DESCRIPTION = [
  "Everything needed to diagnose one workload, read-only: its status; its pods (restarts, waiting and last",
  "termination reasons, revision); its rollout history from ReplicaSets (revision, deploy SHA, image, deploy",
  "time, current flag, health: current from live pods, earlier from Prometheus while they were live); events",
  "of the workload, its ReplicaSets and pods; log tails of failing pods (previous container when it crashed; running pods when none fails);",
  "Prometheus metrics over the window (5xx ratio 0..1, p99 latency ms, restarts) or source 'none'.",
  `Bounds: at most ${LIMITS.pods} pods (failing first), ${LIMITS.revisions} latest revisions, ${LIMITS.events}`,
  `events, warnings first then newest (messages ${LIMITS.eventMessageChars} chars), logs of ${LIMITS.logPods} pods (failing ones first) x`,
  `${LIMITS.logLines} lines x ${LIMITS.logLineChars} chars per line, ${LIMITS.logBytes / 1024} KiB of logs in total.`,
  "`truncated` names every cut and every part that could not be read.",
].join(" ");

/**
 * Registers `get_signals` (cluster, namespace, workload, window = `15m`) returning exactly `SignalsSchema`
 * (src/contracts/signals.ts) with `cluster` set to the cluster read. Tool errors: unknown or missing cluster,
 * unknown namespace, `no Deployment or StatefulSet "x" in namespace "y"`, forbidden (403), API down or timed out.
 */
export function registerGetSignalsTool(server: McpServer, clusters: InfraClusters): void {
  server.registerTool(
    "get_signals",
    {
      title: "Get signals for a workload",
      description: DESCRIPTION,
      inputSchema: getSignalsInput(clusters.names),
      outputSchema: SignalsSchema,
      annotations: READ_ONLY_ANNOTATIONS,
    },
    async ({ cluster, namespace, workload, window }) =>
      toolResult("get_signals", async () => {
        const ctx = clusters.resolve(cluster);
        return { ...(await collectSignals(ctx, namespace, workload, window)), cluster: ctx.cluster };
      }),
  );
}
