import { startInfraMcpHttp } from "../mcp-infra/index.js";
import type { Scenario } from "../scenarios/schema.js";
import { type SandboxCluster, startSandboxCluster } from "./cluster/index.js";
import { type SandboxModelProvider, startSandboxModelProvider } from "./model/index.js";
import type { LiveUpstream } from "./model/provider.js";
import { type SandboxTickets, startSandboxTickets } from "./tickets/index.js";

/** The whole sandbox world on loopback: cluster (+ Prometheus), model provider, mcp-infra, tickets. */
export interface SandboxStack {
  scenario: Scenario;
  cluster: SandboxCluster;
  models: SandboxModelProvider;
  tickets: SandboxTickets;
  /** mcp-infra's streamable-HTTP endpoint (`http://127.0.0.1:PORT/mcp`), backed by the read-only token. */
  infraUrl: string;
  /** A fresh world for `scenario`: cluster state, faults, mutation log, model call counters, tickets. */
  reset(scenario: Scenario): void;
  /** Stops every server it started. */
  close(): Promise<void>;
}

/**
 * Starts every sandbox part for a scenario on `host` (default 127.0.0.1), each on a free port, with
 * mcp-infra reading the sandbox cluster through the read-only token and its Prometheus API.
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
}): Promise<SandboxStack> {
  const host = opts.host ?? "127.0.0.1";
  const closers: (() => Promise<void>)[] = [];
  try {
    const cluster = await startSandboxCluster({ scenario: opts.scenario, host });
    closers.push(() => cluster.close());
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
      kubeConfig: cluster.kubeConfig("readonly"),
      prometheusUrl: cluster.url,
      host,
    });
    closers.push(() => infra.close());
    const stack: SandboxStack = {
      scenario: opts.scenario,
      cluster,
      models,
      tickets,
      infraUrl: infra.url,
      reset(scenario) {
        stack.scenario = scenario;
        cluster.reset(scenario);
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
