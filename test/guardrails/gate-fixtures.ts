import type { Diagnosis } from "../../src/contracts/diagnosis.js";
import { type PodSignal, type Signals, SignalsSchema } from "../../src/contracts/signals.js";

/** The alert onset all fixtures are relative to. */
export const ONSET = new Date("2025-06-01T12:00:00.000Z");
const ago = (min: number) => new Date(ONSET.getTime() - min * 60_000).toISOString();

export type FixtureState = "crash" | "healthy" | "saturated" | "stuck";

/** A pod of shop/checkout in the given state. */
export function pod(i: number, state: FixtureState, image = "ghcr.io/acme/checkout:3f9c2a1d0e"): PodSignal {
  const crash = state === "crash";
  const stuck = state === "stuck";
  return {
    name: `checkout-7d9f8-${"abc"[i] ?? "x"}${i}`,
    phase: "Running",
    ready: !crash && !stuck,
    restarts: crash ? 7 : 0,
    waiting_reason: crash ? "CrashLoopBackOff" : null,
    last_termination_reason: crash ? "Error" : null,
    last_exit_code: crash ? 2 : null,
    image,
    revision: "3",
  };
}

/**
 * Signals for shop/Deployment/checkout: three revisions (1 and 2 healthy, 3 current, deployed 5 min
 * before onset), three pods in `state`. `crash`: current failing, pods CrashLoopBackOff; `healthy`: all
 * fine; `saturated`: ready but p99 4 s; `stuck`: pods not ready without crash, current revision healthy.
 */
export function makeSignals(state: FixtureState = "crash", patch: Partial<Signals> = {}): Signals {
  const crash = state === "crash";
  const ready = crash || state === "stuck" ? 0 : 3;
  const s: Signals = {
    namespace: "shop",
    window: "15m",
    collected_at: ONSET.toISOString(),
    workload: {
      kind: "Deployment",
      namespace: "shop",
      name: "checkout",
      replicas: { desired: 3, ready, available: ready, updated: 3 },
      image: "ghcr.io/acme/checkout:3f9c2a1d0e",
      revision: 3,
      conditions: [
        {
          type: "Available",
          status: ready === 3 ? "True" : "False",
          reason: ready === 3 ? "MinimumReplicasAvailable" : "MinimumReplicasUnavailable",
          message:
            ready === 3
              ? "Deployment has minimum availability."
              : "Deployment does not have minimum availability.",
        },
      ],
    },
    pods: [0, 1, 2].map((i) => pod(i, state)),
    rollout_history: [
      {
        revision: 1,
        sha: "1111111aaaa",
        image: "ghcr.io/acme/checkout:1111111aaaa",
        deployed_at: ago(180),
        current: false,
        health: "healthy",
      },
      {
        revision: 2,
        sha: "2222222bbbb",
        image: "ghcr.io/acme/checkout:2222222bbbb",
        deployed_at: ago(60),
        current: false,
        health: "healthy",
      },
      {
        revision: 3,
        sha: "3f9c2a1d0e",
        image: "ghcr.io/acme/checkout:3f9c2a1d0e",
        deployed_at: ago(5),
        current: true,
        health: crash ? "failing" : "healthy",
      },
    ],
    events: crash
      ? [
          {
            type: "Warning",
            reason: "BackOff",
            message: "Back-off restarting failed container checkout in pod checkout-7d9f8-a0",
            object: "Pod/checkout-7d9f8-a0",
            count: 12,
            last_seen: ago(1),
          },
        ]
      : [],
    logs: [
      {
        pod: "checkout-7d9f8-a0",
        container: "checkout",
        previous: crash,
        lines: crash
          ? [
              "starting checkout v3f9c2a1",
              "panic: runtime error: invalid memory address or nil pointer dereference",
            ]
          : ["GET /cart 200 12ms", "GET /checkout   200 4100ms"],
        truncated: false,
      },
    ],
    metrics: {
      source: "prometheus",
      error_ratio: crash ? 0.41 : 0.002,
      p99_latency_ms: state === "saturated" ? 4100 : 120,
      restarts: crash ? 21 : 0,
    },
    truncated: [],
    ...patch,
  };
  return SignalsSchema.parse(s);
}

/** The correct diagnosis for `makeSignals("crash")`: roll back to revision 2. */
export function makeDiagnosis(
  patch: Partial<Diagnosis> = {},
  action: Partial<Diagnosis["recommended_action"]> = {},
): Diagnosis {
  return {
    hypothesis: "Deploy 3f9c2a1d0e introduced a nil pointer dereference; pods crash-loop.",
    suspected_resource: "shop/Deployment/checkout",
    suspected_deploy_sha: "3f9c2a1d0e",
    confidence: 0.9,
    evidence: [
      "panic: runtime error: invalid memory address or nil pointer dereference",
      "Back-off restarting failed container",
    ],
    ...patch,
    recommended_action: {
      type: "rollback",
      namespace: "shop",
      kind: "Deployment",
      name: "checkout",
      to_sha: "2222222bbbb",
      ...action,
    },
  };
}

/** The onset as `minutes` before {@link ONSET}. */
export { ago };
