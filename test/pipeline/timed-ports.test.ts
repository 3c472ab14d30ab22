import { describe, expect, it } from "vitest";
import type { ActionRecord } from "../../src/contracts/events.js";
import { RunContext, timedPorts } from "../../src/pipeline/context.js";
import type { ActionRunner, SignalsSource } from "../../src/pipeline/ports.js";

// timedPorts wraps the run's ports to time them; it must not drop what a port offers. A signals
// source that can resolve an owner (a pod, an HPA, a Job → its workload) keeps that after wrapping,
// or runBackstop would triage a pod's name instead of its Deployment.
const actions: ActionRunner = {
  dryRun: async (_a: ActionRecord) => ({ ok: true, error: null }),
  execute: async () => ({ executed: true, alreadyApplied: false, revision: 1 }),
  waitForRecovery: async () => ({ recovered: true, waitedMs: 0 }) as never,
};
const router = { maxTier: () => 1, complete: async () => ({}) as never };

describe("timedPorts", () => {
  it("passes resolveOwner through, timed as signals", async () => {
    const calls: string[] = [];
    const signals: SignalsSource = {
      namespaces: async () => [],
      getSignals: async () => ({}) as never,
      resolveOwner: async (ns, kind, name) => {
        calls.push(`${ns}/${kind}/${name}`);
        return { kind: "Deployment", name: "checkout" };
      },
    };
    const ctx = new RunContext("run-timed-ports", []);
    const wrapped = timedPorts(ctx, { signals, router, actions });
    expect(wrapped.signals.resolveOwner).toBeTypeOf("function");
    await expect(wrapped.signals.resolveOwner?.("shop", "Pod", "checkout-7d9f-abcde")).resolves.toEqual({
      kind: "Deployment",
      name: "checkout",
    });
    expect(calls).toEqual(["shop/Pod/checkout-7d9f-abcde"]);
  });

  it("offers no resolveOwner when the source has none", () => {
    const signals: SignalsSource = { namespaces: async () => [], getSignals: async () => ({}) as never };
    const wrapped = timedPorts(new RunContext("run-timed-ports-2", []), { signals, router, actions });
    expect(wrapped.signals.resolveOwner).toBeUndefined();
  });
});
