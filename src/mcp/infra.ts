import type { Tool } from "@modelcontextprotocol/sdk/types.js";
import {
  type NamespaceInfo,
  NamespaceInfoSchema,
  NamespacesOutputSchema,
  type ResolveOwnerOutput,
  ResolveOwnerOutputSchema,
} from "../contracts/infra-tools.js";
import {
  type Signals,
  SignalsSchema,
  type WorkloadSignal,
  WorkloadSignalSchema,
} from "../contracts/signals.js";
import { BackstopError } from "../errors.js";
import { AllowListedMcpClient, parseToolOutput } from "./allowlist.js";

/** The only infra tools Backstop may call: all read-only. */
export const INFRA_TOOL_ALLOW_LIST = [
  "namespaces",
  "deployment_status",
  "get_signals",
  "resolve_owner",
] as const;

/** One namespace as `namespaces` returns it (re-exported from `src/contracts/infra-tools.ts`). */
export { type NamespaceInfo, NamespaceInfoSchema };
/** What `resolve_owner` returns (the contract's `ResolveOwnerOutputSchema`, under the client's older name). */
export const ResolveOwnerResultSchema = ResolveOwnerOutputSchema;
/** What `resolve_owner` returns: the owning workload and the chain of objects read (the named one first). */
export type ResolveOwnerResult = ResolveOwnerOutput;

/**
 * Options of {@link connectInfra}: per-request timeout (ms, default 30 000), extra HTTP headers, and
 * `cluster`: the one cluster this client reads. With `cluster`, every call passes it as the tools'
 * `cluster` argument, a tool whose input schema has no `cluster` property is refused (an older server
 * would silently read its default cluster), and signals that name another cluster are rejected.
 */
export interface InfraClientOptions {
  timeoutMs?: number;
  headers?: Record<string, string>;
  cluster?: string;
}

/**
 * Backstop's client of the read-only infra MCP server. Only {@link INFRA_TOOL_ALLOW_LIST} tools are exposed,
 * and only when the server annotates them `readOnlyHint: true` and not `destructiveHint: true`.
 * Every method throws BackstopError `mcp.tool_error` (tool error: unknown namespace/workload, forbidden, API
 * down; message is the server's text), `mcp.unavailable` (connection, timeout), `mcp.tool_not_allowed` (the
 * server does not offer the tool as allowed) or `mcp.invalid_output` (result does not match the contract).
 */
export interface InfraClient {
  /** The cluster this client is bound to, or null for an unbound (single-cluster, legacy) client. */
  readonly cluster: string | null;
  /** The allow-listed tools the server offers. */
  tools(): string[];
  /** `namespaces`: all namespaces with labels and the protected flag. */
  namespaces(): Promise<NamespaceInfo[]>;
  /** `deployment_status`: replicas, conditions, image, revision of one Deployment (or StatefulSet). */
  deploymentStatus(namespace: string, name: string): Promise<WorkloadSignal>;
  /** `get_signals`: the evidence for one workload over `window` (Prometheus duration, default `15m`), parsed by `SignalsSchema`. */
  getSignals(namespace: string, workload: string, window?: string): Promise<Signals>;
  /**
   * `resolve_owner`: the workload owning a Pod (ReplicaSet → Deployment, StatefulSet, DaemonSet,
   * Job → CronJob), an HPA's `scaleTargetRef`, a Job's CronJob — from `ownerReferences`, never names.
   */
  resolveOwner(
    namespace: string,
    kind: "Pod" | "HorizontalPodAutoscaler" | "Job",
    name: string,
  ): Promise<ResolveOwnerResult>;
  /** The raw allow-listed call, for callers that need another allowed tool generically. */
  call(name: string, args: Record<string, unknown>): Promise<unknown>;
  /** False once a call failed for a connection reason (see {@link AllowListedMcpClient.usable}). */
  usable(): boolean;
  close(): Promise<void>;
}

/** Refuses an infra tool that is not annotated read-only, or is annotated destructive. */
export function refuseNonReadOnly(tool: Tool): string | null {
  if (tool.annotations?.destructiveHint === true) return "annotated destructiveHint: true";
  if (tool.annotations?.readOnlyHint !== true) return "not annotated readOnlyHint: true";
  return null;
}

/**
 * Connects to the infra MCP server at `url` (`http://host:port/mcp`).
 * @throws BackstopError `mcp.unavailable` when it cannot connect or list tools.
 */
export async function connectInfra(url: string, opts: InfraClientOptions = {}): Promise<InfraClient> {
  const cluster = opts.cluster ?? null;
  const refuse = (tool: Tool): string | null => {
    const ro = refuseNonReadOnly(tool);
    if (ro || cluster === null) return ro;
    const props = (tool.inputSchema as { properties?: Record<string, unknown> }).properties ?? {};
    return Object.hasOwn(props, "cluster")
      ? null
      : "takes no `cluster` argument, so it cannot be bound to one cluster";
  };
  const withCluster = (args: Record<string, unknown>): Record<string, unknown> =>
    cluster === null ? args : { cluster, ...args };
  const mcp = await AllowListedMcpClient.connect(url, {
    clientName: "backstop-infra",
    allow: INFRA_TOOL_ALLOW_LIST,
    refuse,
    ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
    ...(opts.headers ? { headers: opts.headers } : {}),
  });
  return {
    cluster,
    tools: () => mcp.tools(),
    async namespaces() {
      const out = await mcp.call("namespaces", withCluster({}));
      return parseToolOutput("namespaces", out, NamespacesOutputSchema).namespaces;
    },
    async deploymentStatus(namespace, name) {
      const out = await mcp.call("deployment_status", withCluster({ namespace, name }));
      return parseToolOutput("deployment_status", out, WorkloadSignalSchema);
    },
    async getSignals(namespace, workload, window) {
      const args: Record<string, unknown> = withCluster({ namespace, workload });
      if (window !== undefined) args.window = window;
      const out = await mcp.call("get_signals", args);
      const signals = parseToolOutput("get_signals", out, SignalsSchema);
      if (cluster !== null && signals.cluster !== cluster) {
        throw new BackstopError(
          "mcp.invalid_output",
          `get_signals answered for cluster "${signals.cluster ?? "(none)"}", not the requested "${cluster}"`,
        );
      }
      return signals;
    },
    async resolveOwner(namespace, kind, name) {
      const out = await mcp.call("resolve_owner", withCluster({ namespace, kind, name }));
      return parseToolOutput("resolve_owner", out, ResolveOwnerResultSchema);
    },
    async call(name, args) {
      const out = await mcp.call(name, withCluster(args));
      return out.structured ?? out.text;
    },
    usable: () => mcp.usable(),
    close: () => mcp.close(),
  };
}
