/**
 * What the demo's console shows, kept in memory: each agent's current run (events, outcome, receipt),
 * fed by run reporters, and the change listeners the console subscribes with; plus the cluster views.
 */
import type { RunEvent, RunOutcome, RunReporter } from "../../src/contracts/events.js";
import type { AgentView, ClusterView, ConsoleChange } from "../console/backend.js";
import type { SandboxStack } from "../stack.js";

/** One agent's run as the console follows it. `receipt` is the naive agent's receipt text once it ends. */
export interface AgentState {
  runId: string;
  scenario: string;
  events: RunEvent[];
  outcome: AgentView["outcome"];
  receipt: string | null;
}

/** The demo's in-memory state and its listeners. */
export interface DemoFeed {
  state: { backstop: AgentState | null; naive: AgentState | null; fires: number };
  listeners: Set<(what: ConsoleChange) => void>;
  /** Tells every listener that `what` changed. */
  changed(what: ConsoleChange): void;
  /** A reporter that records run `runId` of `scenario` into `agent`'s state while it is the current run. */
  follow(agent: "backstop" | "naive", runId: string, scenario: string): RunReporter;
}

/** A fresh {@link DemoFeed}: no runs yet, no listeners. */
export function createDemoFeed(): DemoFeed {
  const listeners = new Set<(what: ConsoleChange) => void>();
  const changed = (what: ConsoleChange) => {
    for (const l of listeners) l(what);
  };
  const state: DemoFeed["state"] = { backstop: null, naive: null, fires: 0 };
  const follow = (agent: "backstop" | "naive", runId: string, scenario: string): RunReporter => ({
    emit(event: RunEvent) {
      const s = state[agent];
      if (!s || s.runId !== runId || s.scenario !== scenario) return;
      s.events.push(event);
      if (event.type === "escalation.opened") s.outcome = "awaiting_approval";
      if (event.type === "approval.decided") s.outcome = "running";
      if (event.type === "run.finished") s.outcome = (event.data as { outcome: RunOutcome }).outcome;
      changed(agent);
    },
  });
  return { state, listeners, changed, follow };
}

/** The cluster a run's `run.started` event names, or null. */
export function runCluster(events: readonly RunEvent[]): string | null {
  const started = events.find((e) => e.type === "run.started");
  const c = (started?.data as { cluster?: unknown } | undefined)?.cluster;
  return typeof c === "string" ? c : null;
}

/** A sandbox cluster as the console shows it: its namespaces and workloads (replicas, revision, image, health). */
export function clusterView(stack: SandboxStack): ClusterView {
  const snap = stack.cluster.snapshot();
  return {
    name: stack.clusterNames[0]!,
    namespaces: snap.namespaces.map((n) => ({ name: n.name, protected: n.protected })),
    workloads: snap.workloads.map((w) => ({
      kind: w.kind,
      namespace: w.namespace,
      name: w.name,
      replicas: { desired: w.replicas.desired, ready: w.replicas.ready },
      revision: w.revision,
      image: w.image,
      sha: w.sha,
      health: w.health,
      protected: w.protected,
    })),
  };
}
