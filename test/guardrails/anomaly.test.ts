import { describe, expect, it } from "vitest";
import { AnomalyBudget } from "../../src/guardrails/anomaly.js";
import { defaultPolicy, parsePolicy } from "../../src/guardrails/policy.js";

describe("AnomalyBudget", () => {
  it("trips exactly when the spent points reach the budget", () => {
    const b = new AnomalyBudget(defaultPolicy().anomaly);
    expect(b.record("fallback", "tier 1 429")).toEqual({ cost: 1, spent: 1, budget: 6, tripped: false });
    expect(b.record("gate_failure", "sha_in_history")).toEqual({
      cost: 2,
      spent: 3,
      budget: 6,
      tripped: false,
    });
    expect(b.record("low_confidence", "0.4")).toEqual({ cost: 1, spent: 4, budget: 6, tripped: false });
    expect(b.tripped).toBe(false);
    expect(b.reason).toBeNull();
    expect(b.record("tool_error", "get_signals 500")).toEqual({
      cost: 2,
      spent: 6,
      budget: 6,
      tripped: true,
    });
    expect(b.tripped).toBe(true);
    expect(b.reason).toContain("6/6");
    // Stays tripped; later anomalies still add up.
    expect(b.record("fallback", "x")).toEqual({ cost: 1, spent: 7, budget: 6, tripped: true });
    expect(b.anomalies.map((a) => a.kind)).toEqual([
      "fallback",
      "gate_failure",
      "low_confidence",
      "tool_error",
      "fallback",
    ]);
  });

  it("one point under the budget does not trip", () => {
    const b = new AnomalyBudget(defaultPolicy().anomaly);
    b.record("action_failure", "patch 500");
    expect(b.record("gate_failure", "x").tripped).toBe(false);
    expect(b.spent).toBe(5);
    expect(b.record("fallback", "y").tripped).toBe(true);
  });

  it("costs and budget come from the policy file", () => {
    const p = parsePolicy("anomaly:\n  budget: 2\n  costs:\n    fallback: 2\n");
    const b = new AnomalyBudget(p.anomaly);
    expect(b.record("fallback", "one").tripped).toBe(true);
    expect(b.budget).toBe(2);
  });

  it("an unknown kind is charged the highest cost", () => {
    const b = new AnomalyBudget();
    expect(b.record("mystery", "?").cost).toBe(3);
  });

  it("the loop cap allows max_steps steps and trips on the next", () => {
    const b = new AnomalyBudget({ ...defaultPolicy().anomaly, max_steps: 3 });
    expect(b.step()).toEqual({ steps: 1, max: 3, exceeded: false });
    b.step();
    expect(b.step()).toEqual({ steps: 3, max: 3, exceeded: false });
    expect(b.tripped).toBe(false);
    expect(b.step()).toEqual({ steps: 4, max: 3, exceeded: true });
    expect(b.tripped).toBe(true);
    expect(b.reason).toContain("loop cap");
    expect(b.maxSteps).toBe(3);
    expect(b.steps).toBe(4);
  });

  it("defaults to a loop cap of 8", () => {
    const b = new AnomalyBudget();
    for (let i = 0; i < 8; i++) expect(b.step().exceeded).toBe(false);
    expect(b.step().exceeded).toBe(true);
  });
});
