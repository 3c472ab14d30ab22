import { describe, expect, it } from "vitest";
import {
  ACTION_RULE_TABLE,
  checkActionRules,
  checkHardRules,
  HARD_RULE_TABLE,
  HARD_RULES,
} from "../../src/guardrails/action-gate.js";
import { defaultPolicy } from "../../src/guardrails/policy.js";
import { checkQualityRules, QUALITY_RULES } from "../../src/guardrails/quality.js";
import { namedRule, runRules } from "../../src/guardrails/rule-table.js";
import { makeDiagnosis, makeSignals, ONSET } from "./gate-fixtures.js";

const policy = defaultPolicy();
const gateCtx = { namespaceLabels: { shop: {} }, onset: ONSET };

describe("rule tables", () => {
  it("namedRule stamps its id on the result and runRules keeps the table order", () => {
    const table = [
      namedRule("b_rule", (n: number) => ({ passed: n > 1, detail: `n=${n}` })),
      namedRule("a_rule", (n: number) => ({ passed: n < 1, detail: "second" })),
    ];
    expect(runRules(table, 2)).toEqual([
      { rule: "b_rule", passed: true, detail: "n=2" },
      { rule: "a_rule", passed: false, detail: "second" },
    ]);
  });

  it("checkQualityRules runs exactly the quality table, in its order (the ids are pinned in quality.test)", () => {
    const d = makeDiagnosis();
    const s = makeSignals("crash");
    const rules = checkQualityRules(d, s, { onset: ONSET });
    expect(rules.map((r) => r.rule)).toEqual(QUALITY_RULES.map((r) => r.id));
    // Each table entry alone gives the same result as the whole run.
    for (const [i, r] of QUALITY_RULES.entries()) {
      expect(r.check({ diagnosis: d, signals: s, onset: ONSET, opts: {} })).toEqual(rules[i]);
    }
  });

  it("the hard-rule table is exactly HARD_RULES, and a failing hard rule fails alone", () => {
    expect(HARD_RULE_TABLE.map((r) => r.id)).toEqual([...HARD_RULES]);
    const rules = checkHardRules(
      { type: "scale", namespace: "shop", kind: "Deployment", name: "checkout", replicas: 0 },
      policy,
      { namespaceLabels: { shop: {} }, currentReplicas: 3 },
    );
    expect(rules.filter((r) => !r.passed).map((r) => r.rule)).toEqual(["replicas_bounds"]);
  });

  it("checkActionRules runs the hard rules then the policy table (ids pinned in action-gate.test); n/a rules pass", () => {
    const { rules, action } = checkActionRules(
      makeDiagnosis({ suspected_deploy_sha: null }, { type: "restart", to_sha: undefined }),
      makeSignals("stuck"),
      policy,
      gateCtx,
    );
    expect(rules.map((r) => r.rule)).toEqual([...HARD_RULES, ...ACTION_RULE_TABLE.map((r) => r.id)]);
    expect(rules.find((r) => r.rule === "rollback_target")?.detail).toBe("n/a for restart");
    expect(action).toEqual({ type: "restart", namespace: "shop", kind: "Deployment", name: "checkout" });
  });

  it("a rollback on another workload fails every rollback rule with the same reason and keeps no target", () => {
    const { rules, action } = checkActionRules(
      makeDiagnosis({}, { name: "cart", to_sha: "2222222" }),
      makeSignals("crash"),
      policy,
      gateCtx,
    );
    const rollback = rules.filter((r) => r.rule.startsWith("rollback_") || r.rule === "deploy_within_window");
    expect(rollback.map((r) => [r.rule, r.passed])).toEqual([
      ["rollback_target", false],
      ["rollback_newest_healthy", false],
      ["deploy_within_window", false],
    ]);
    for (const r of rollback)
      expect(r.detail).toBe("the rollback targets another workload than the signals' history");
    expect(action).toEqual({ type: "rollback", namespace: "shop", kind: "Deployment", name: "cart" });
  });
});
