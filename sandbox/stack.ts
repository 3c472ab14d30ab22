import { startInfraMcpHttp } from "../mcp-infra/index.js";
import { type Scenario, scenarioForCluster } from "../scenarios/schema.js";
import { DEFAULT_CLUSTER_NAME } from "../src/contracts/cluster.js";
import { BackstopError } from "../src/errors.js";
import { type SandboxCluster, startSandboxCluster } from "./cluster/index.js";
import { type SandboxModelProvider, startSandboxModelProvider } from "./model/index.js";
import type { LiveUpstream } from "./model/provider.js";
import { type SandboxTickets, startSandboxTickets } from "./tickets/index.js";

/**
 * The name a single-cluster sandbox serves its cluster under unless told otherwise: the same as a
 * single-cluster install's default (`default`), so a bot configured without clusters runs on it.
 */
export const DEFAULT_SANDBOX_CLUSTER = DEFAULT_CLUSTER_NAME;

/**
 * The whole sandbox world on loopback: one Kubernetes API (+ Prometheus) per cluster, model provider,
 * mcp-infra serving every cluster, tickets.
 */
export interface SandboxStack {
  scenario: Scenario;
  /** The first cluster (the only one of a single-cluster scenario). */
  cluster: SandboxCluster;
  /** Every cluster by name, in the scenario's order. */
  clusters: ReadonlyMap<string, SandboxCluster>;
  /** The cluster names, in order. */
  clusterNames: readonly string[];
  models: SandboxModelProvider;
  tickets: SandboxTickets;
  /** mcp-infra's streamable-HTTP endpoint (`http://127.0.0.1:PORT/mcp`), backed by the read-only token. */
  infraUrl: string;
  /**
   * A fresh world for `scenario`: cluster state, faults, mutation log, model call counters, tickets.
   * A single-cluster scenario fits a single-cluster stack (whatever its name); a multi-cluster one needs
   * the stack's cluster names. @throws BackstopError `sandbox.clusters` otherwise.
   */
  reset(scenario: Scenario): void;
  /** Stops every server it started. */
  close(): Promise<void>;
}

/** The cluster names a scenario defines: its `clusters`, or `[fallback]` for a single-cluster one. */
export function scenarioClusterNames(scenario: Scenario, fallback = DEFAULT_SANDBOX_CLUSTER): string[] {
  return scenario.clusters?.map((c) => c.name) ?? [fallback];
}

/**
 * Starts every sandbox part for a scenario on `host` (default 127.0.0.1), each on a free port, with
 * mcp-infra reading each sandbox cluster through its read-only token and its Prometheus API. A
 * single-cluster scenario's cluster is served as `clusterName` (default {@link DEFAULT_SANDBOX_CLUSTER}).
 * `modelLog` is a JSON Lines file that receives every model request; `live` sends the calls past a
 * scenario's script to real endpoints (`backstop run --live`).
 * @throws whatever a server's start throws (e.g. EADDRINUSE on a fixed port); started parts are closed.
 */
export async function startSandboxStack(opts: {
  scenario: Scenario;
  host?: string;
  modelLog?: string;
  /** `--live`: the real endpoint for a (model, purpose) once its script is used up. */
  live?: (model: string, purpose: string) => LiveUpstream | null;
  clusterName?: string;
}): Promise<SandboxStack> {
  const host = opts.host ?? "127.0.0.1";
  const closers: (() => Promise<void>)[] = [];
  try {
    const names = scenarioClusterNames(opts.scenario, opts.clusterName);
    const clusters = new Map<string, SandboxCluster>();
    for (const name of names) {
      const c = await startSandboxCluster({ scenario: scenarioForCluster(opts.scenario, name), host });
      closers.push(() => c.close());
      clusters.set(name, c);
    }
    const cluster = clusters.get(names[0]!)!;
    const models = await startSandboxModelProvider({
      scenario: opts.scenario,
      host,
      ...(opts.modelLog ? { logFile: opts.modelLog } : {}),
      ...(opts.live ? { live: opts.live } : {}),
    });
    closers.push(() => models.close());
    const tickets = await startSandboxTickets({ host });
    closers.push(() => tickets.close());
    const infra = await startInfraMcpHttp({
      clusters: names.map((name) => ({
        name,
        kubeConfig: clusters.get(name)!.kubeConfig("readonly"),
        prometheusUrl: clusters.get(name)!.url,
      })),
      host,
    });
    closers.push(() => infra.close());
    const stack: SandboxStack = {
      scenario: opts.scenario,
      cluster,
      clusters,
      clusterNames: names,
      models,
      tickets,
      infraUrl: infra.url,
      reset(scenario) {
        const want = scenario.clusters ? scenario.clusters.map((c) => c.name) : null;
        const fits = want === null ? names.length === 1 : want.join("\n") === names.join("\n");
        if (!fits) {
          throw new BackstopError(
            "sandbox.clusters",
            `scenario ${scenario.name} defines clusters ${want?.join(", ") ?? "(one)"}, but this sandbox runs ${names.join(", ")}`,
          );
        }
        stack.scenario = scenario;
        for (const [name, c] of clusters) c.reset(scenarioForCluster(scenario, name));
        models.reset(scenario);
        tickets.reset();
      },
      async close() {
        for (const close of closers.reverse()) await close().catch(() => undefined);
      },
    };
    return stack;
  } catch (err) {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    throw err;
  }
}
