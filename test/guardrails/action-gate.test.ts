import { describe, expect, it, vi } from "vitest";
import type { ActionRecord, RuleResult } from "../../src/contracts/events.js";
import {
  APPROVABLE_RULES,
  checkActionRules,
  checkHardRules,
  HARD_RULES,
  newestHealthyBefore,
  runActionGate,
} from "../../src/guardrails/action-gate.js";
import { defaultPolicy, parsePolicy } from "../../src/guardrails/policy.js";
import { makeDiagnosis, makeSignals, ONSET } from "./gate-fixtures.js";

const policy = defaultPolicy();
// The namespaces the fixtures use, with their labels as the `namespaces` tool reports them.
const labels = { namespaceLabels: { shop: {}, payments: {}, data: {}, "kube-system": {} }, onset: ONSET };

function byId(rules: RuleResult[], id: string): RuleResult {
  const r = rules.find((x) => x.rule === id);
  if (!r) throw new Error(`no rule ${id} in ${rules.map((x) => x.rule).join(",")}`);
  return r;
}

const dryOk = async () => ({ ok: true, error: null });

describe("checkActionRules", () => {
  it("passes the true rollback and resolves the target revision", () => {
    const { rules, action } = checkActionRules(
      makeDiagnosis({}, { to_sha: "2222222" }),
      makeSignals("crash"),
      policy,
      labels,
    );
    expect(rules.filter((r) => !r.passed)).toEqual([]);
    expect(rules.map((r) => r.rule)).toEqual([
      ...HARD_RULES,
      "rollback_target",
      "rollback_newest_healthy",
      "deploy_within_window",
      "restart_needs_unhealthy",
      "action_matches_evidence",
    ]);
    expect(action).toEqual({
      type: "rollback",
      namespace: "shop",
      kind: "Deployment",
      name: "checkout",
      to_sha: "2222222bbbb",
      to_revision: 2,
    });
  });

  it("rollback_target: absent to_sha resolves to the latest earlier healthy revision", () => {
    const { rules, action } = checkActionRules(
      makeDiagnosis({}, { to_sha: undefined }),
      makeSignals("crash"),
      policy,
      labels,
    );
    expect(byId(rules, "rollback_target").passed).toBe(true);
    expect(action?.to_revision).toBe(2);
  });

  it("rollback_target: the current, an unknown-health, a failing or a missing revision fails", () => {
    const s = makeSignals("crash");
    expect(
      byId(
        checkActionRules(makeDiagnosis({}, { to_sha: "3f9c2a1d0e" }), s, policy, labels).rules,
        "rollback_target",
      ).passed,
    ).toBe(false);
    expect(
      byId(
        checkActionRules(makeDiagnosis({}, { to_sha: "cafebabe00" }), s, policy, labels).rules,
        "rollback_target",
      ).passed,
    ).toBe(false);
    const unknown = makeSignals("crash");
    unknown.rollout_history[1]!.health = "unknown";
    const r = byId(checkActionRules(makeDiagnosis(), unknown, policy, labels).rules, "rollback_target");
    expect(r.passed).toBe(false);
    expect(r.detail).toContain("unknown");
    const failing = makeSignals("crash");
    failing.rollout_history[1]!.health = "failing";
    expect(
      byId(checkActionRules(makeDiagnosis(), failing, policy, labels).rules, "rollback_target").passed,
    ).toBe(false);
    // Revision 1 is still healthy and earlier: allowed.
    expect(
      byId(
        checkActionRules(makeDiagnosis({}, { to_sha: "1111111aaaa" }), failing, policy, labels).rules,
        "rollback_target",
      ).passed,
    ).toBe(true);
  });

  it("restart_needs_unhealthy: passes with not-ready pods, fails when every pod is ready", () => {
    const restart = makeDiagnosis({ suspected_deploy_sha: null }, { type: "restart", to_sha: undefined });
    expect(
      byId(checkActionRules(restart, makeSignals("stuck"), policy, labels).rules, "restart_needs_unhealthy")
        .passed,
    ).toBe(true);
    expect(
      byId(checkActionRules(restart, makeSignals("healthy"), policy, labels).rules, "restart_needs_unhealthy")
        .passed,
    ).toBe(false);
  });

  it("action_matches_evidence: an action on another workload than the suspected one fails", () => {
    const d = makeDiagnosis({}, { name: "payments" });
    expect(
      byId(checkActionRules(d, makeSignals("crash"), policy, labels).rules, "action_matches_evidence").passed,
    ).toBe(false);
    const d2 = makeDiagnosis({ suspected_resource: "shop/Deployment/payments" });
    expect(
      byId(checkActionRules(d2, makeSignals("crash"), policy, labels).rules, "action_matches_evidence")
        .passed,
    ).toBe(false);
    const d3 = makeDiagnosis({ suspected_resource: "shop/deployment/checkout" }, { kind: "deployment" });
    const ok = checkActionRules(d3, makeSignals("crash"), policy, labels);
    expect(byId(ok.rules, "action_matches_evidence").passed).toBe(true);
    expect(ok.action?.kind).toBe("Deployment");
  });

  it("not_protected: a labelled namespace and a StatefulSet disguised as a Deployment are refused", () => {
    const s = makeSignals("crash");
    const lab = { namespaceLabels: { shop: { "backstop.dev/protected": "true" } } };
    const r = byId(checkActionRules(makeDiagnosis(), s, policy, lab).rules, "not_protected");
    expect(r.passed).toBe(false);
    expect(r.detail).toContain("backstop.dev/protected");
    const sts = makeSignals("crash");
    sts.workload.kind = "StatefulSet";
    expect(byId(checkActionRules(makeDiagnosis(), sts, policy, labels).rules, "not_protected").passed).toBe(
      false,
    );
  });

  it("a `none` recommendation yields no action and fails type_allowed", () => {
    const d = makeDiagnosis({ suspected_deploy_sha: null }, { type: "none", to_sha: undefined });
    const { rules, action } = checkActionRules(d, makeSignals("healthy"), policy, labels);
    expect(action).toBeNull();
    expect(byId(rules, "type_allowed").passed).toBe(false);
  });
});

describe("rollback_newest_healthy", () => {
  it("accepts only the newest healthy revision before the current one; an older one is approvable", () => {
    const s = makeSignals("crash");
    expect(newestHealthyBefore(s.rollout_history, s.rollout_history[2]!)?.revision).toBe(2);
    const older = checkActionRules(makeDiagnosis({}, { to_sha: "1111111aaaa" }), s, policy, labels);
    // Revision 1 is earlier and healthy (rollback_target passes) but not the newest healthy one.
    expect(byId(older.rules, "rollback_target").passed).toBe(true);
    const r = byId(older.rules, "rollback_newest_healthy");
    expect(r.passed).toBe(false);
    expect(r.detail).toContain("newest healthy revision before 3 is 2");
    expect(older.action?.to_revision).toBe(1);
    expect(APPROVABLE_RULES).toEqual(["rollback_newest_healthy"]);
    // Without to_sha the gate picks the newest healthy itself.
    expect(
      byId(
        checkActionRules(makeDiagnosis({}, { to_sha: undefined }), s, policy, labels).rules,
        "rollback_newest_healthy",
      ).passed,
    ).toBe(true);
  });

  it("skips failing and unknown revisions: when revision 2 failed, revision 1 is the newest healthy", () => {
    const s = makeSignals("crash");
    s.rollout_history[1]!.health = "failing";
    expect(
      byId(
        checkActionRules(makeDiagnosis({}, { to_sha: "1111111aaaa" }), s, policy, labels).rules,
        "rollback_newest_healthy",
      ).passed,
    ).toBe(true);
    s.rollout_history[1]!.health = "unknown";
    expect(
      byId(
        checkActionRules(makeDiagnosis({}, { to_sha: "1111111aaaa" }), s, policy, labels).rules,
        "rollback_newest_healthy",
      ).passed,
    ).toBe(true);
  });

  it("fails a rollback with no healthy earlier revision and one on another workload", () => {
    const s = makeSignals("crash");
    for (const r of s.rollout_history) if (!r.current) r.health = "failing";
    expect(
      byId(
        checkActionRules(makeDiagnosis({}, { to_sha: undefined }), s, policy, labels).rules,
        "rollback_newest_healthy",
      ).passed,
    ).toBe(false);
    const other = makeDiagnosis({}, { name: "payments" });
    expect(
      byId(checkActionRules(other, makeSignals("crash"), policy, labels).rules, "rollback_newest_healthy")
        .passed,
    ).toBe(false);
  });

  it("is n/a (passes) for restart and scale", () => {
    const restart = makeDiagnosis({ suspected_deploy_sha: null }, { type: "restart", to_sha: undefined });
    const rules = checkActionRules(restart, makeSignals("stuck"), policy, labels).rules;
    expect(byId(rules, "rollback_newest_healthy")).toMatchObject({ passed: true, detail: "n/a for restart" });
    expect(byId(rules, "deploy_within_window")).toMatchObject({ passed: true, detail: "n/a for restart" });
  });
});

describe("deploy_within_window", () => {
  const at = (minutesAfterOnset: number) => new Date(ONSET.getTime() + minutesAfterOnset * 60_000);
  const windowRule = (onset: Date | undefined, p = policy) =>
    byId(
      checkActionRules(makeDiagnosis(), makeSignals("crash"), p, {
        namespaceLabels: labels.namespaceLabels,
        ...(onset ? { onset } : {}),
      }).rules,
      "deploy_within_window",
    );

  it("passes a deploy 5 min before the onset, and up to the policy's limit (default 2h)", () => {
    expect(windowRule(ONSET)).toMatchObject({ passed: true });
    expect(windowRule(ONSET).detail).toContain("5 min before the onset (limit 2h)");
    // The current revision went live 5 min before ONSET: an onset 115 min later is 2 h after it.
    expect(windowRule(at(115)).passed).toBe(true);
    expect(windowRule(at(116)).passed).toBe(false);
  });

  it("refuses a deploy four days before the onset: a rollback is not the fix", () => {
    const r = windowRule(at(4 * 24 * 60));
    expect(r.passed).toBe(false);
    expect(r.detail).toMatch(/4\.0 days before the onset .*limit 2h.*a rollback is not the fix/);
  });

  it("follows the policy setting", () => {
    const strict = parsePolicy("rollback: { max_deploy_age_before_onset: 3m }");
    expect(windowRule(ONSET, strict).passed).toBe(false);
    const loose = parsePolicy("rollback: { max_deploy_age_before_onset: 5d }");
    expect(windowRule(at(4 * 24 * 60), loose).passed).toBe(true);
  });

  it("refuses a deploy that went live after the onset (beyond 2 min of skew), and an unknown onset", () => {
    expect(windowRule(at(-6)).passed).toBe(true); // deployed 1 min after the onset: clock skew
    const late = windowRule(at(-10));
    expect(late.passed).toBe(false);
    expect(late.detail).toContain("did not start this incident");
    const unknown = windowRule(undefined);
    expect(unknown).toMatchObject({ passed: false, detail: "the incident's onset is unknown" });
    expect(windowRule(new Date(Number.NaN)).passed).toBe(false);
  });

  it("fails closed when the current revision has no deploy time", () => {
    const s = makeSignals("crash");
    s.rollout_history[2]!.deployed_at = "";
    const r = byId(checkActionRules(makeDiagnosis(), s, policy, labels).rules, "deploy_within_window");
    expect(r).toMatchObject({ passed: false });
    expect(r.detail).toContain("no deploy time");
  });
});

describe("checkHardRules", () => {
  const base = { namespace: "shop", kind: "Deployment", name: "checkout" };

  it("refuses scope: all, *, selectors and lists; accepts the workload's own name", () => {
    for (const scope of ["all", "*", "app=checkout", "checkout,payments", "!canary", "tier in (web)"]) {
      const r = byId(checkHardRules({ type: "restart", ...base, scope }, policy, labels), "no_wide_scope");
      expect(r.passed, scope).toBe(false);
    }
    expect(
      byId(checkHardRules({ type: "restart", ...base, scope: "checkout" }, policy, labels), "no_wide_scope")
        .passed,
    ).toBe(true);
    expect(byId(checkHardRules({ type: "restart", ...base }, policy, labels), "no_wide_scope").passed).toBe(
      true,
    );
  });

  it("fails closed on a namespace whose labels are unknown (it may carry the protection label)", () => {
    const rules = checkHardRules(
      { type: "restart", namespace: "zz-payments", kind: "Deployment", name: "api" },
      policy,
      labels,
    );
    expect(byId(rules, "not_protected")).toMatchObject({ passed: false });
    expect(byId(rules, "not_protected").detail).toContain("unknown");
  });

  it("refuses a StatefulSet restart and data/prod-db", () => {
    const sts = byId(
      checkHardRules(
        { type: "restart", namespace: "shop", kind: "StatefulSet", name: "cache" },
        policy,
        labels,
      ),
      "not_protected",
    );
    expect(sts.passed).toBe(false);
    expect(sts.detail).toContain("StatefulSet");
    const db = byId(
      checkHardRules(
        { type: "restart", namespace: "data", kind: "Deployment", name: "prod-db" },
        policy,
        labels,
      ),
      "not_protected",
    );
    expect(db.passed).toBe(false);
    expect(
      byId(
        checkHardRules(
          { type: "restart", namespace: "kube-system", kind: "Deployment", name: "coredns" },
          policy,
          labels,
        ),
        "not_protected",
      ).passed,
    ).toBe(false);
    expect(byId(checkHardRules({ type: "restart", ...base }, policy, labels), "not_protected").passed).toBe(
      true,
    );
  });

  it("scale: refuses 0, ×3, fractions and an unknown current count; allows ×2", () => {
    const scale = (replicas: number, currentReplicas?: number) =>
      byId(
        checkHardRules({ type: "scale", ...base, replicas }, policy, {
          ...labels,
          ...(currentReplicas === undefined ? {} : { currentReplicas }),
        }),
        "replicas_bounds",
      ).passed;
    expect(scale(0, 3)).toBe(false);
    expect(scale(9, 3)).toBe(false);
    expect(scale(7, 3)).toBe(false);
    expect(scale(6, 3)).toBe(true);
    expect(scale(1, 3)).toBe(true);
    expect(scale(2.5, 3)).toBe(false);
    expect(scale(4)).toBe(false);
    const noReplicas = checkHardRules({ type: "scale", ...base } as ActionRecord, policy, {
      ...labels,
      currentReplicas: 3,
    });
    expect(byId(noReplicas, "replicas_bounds").passed).toBe(false);
  });

  it("refuses delete, none and disallowed types; refuses wildcard and list targets", () => {
    expect(byId(checkHardRules({ type: "delete", ...base }, policy, labels), "type_allowed").passed).toBe(
      false,
    );
    expect(byId(checkHardRules({ type: "none", ...base }, policy, labels), "type_allowed").passed).toBe(
      false,
    );
    const noScale = { ...policy, allowed_actions: ["rollback" as const] };
    expect(byId(checkHardRules({ type: "restart", ...base }, noScale, labels), "type_allowed").passed).toBe(
      false,
    );
    for (const name of ["*", "checkout,payments", "app=checkout", "Checkout"]) {
      expect(
        byId(checkHardRules({ type: "restart", ...base, name }, policy, labels), "single_workload").passed,
        name,
      ).toBe(false);
    }
    expect(
      byId(checkHardRules({ type: "restart", ...base, namespace: "*" }, policy, labels), "single_workload")
        .passed,
    ).toBe(false);
    expect(
      byId(checkHardRules({ type: "restart", ...base, kind: "DaemonSet" }, policy, labels), "single_workload")
        .passed,
    ).toBe(false);
  });
});

describe("runActionGate", () => {
  it("dry-runs the resolved action and passes when the API server accepts it", async () => {
    const dryRun = vi.fn(dryOk);
    const v = await runActionGate(makeDiagnosis(), makeSignals("crash"), policy, { ...labels, dryRun });
    expect(v.passed).toBe(true);
    expect(dryRun).toHaveBeenCalledWith(v.action);
    expect(v.action?.to_revision).toBe(2);
    expect(byId(v.rules, "server_dry_run").passed).toBe(true);
  });

  it("fails when the dry-run is refused or throws", async () => {
    const refused = await runActionGate(makeDiagnosis(), makeSignals("crash"), policy, {
      ...labels,
      dryRun: async () => ({ ok: false, error: 'admission webhook "policy.acme" denied the request' }),
    });
    expect(refused.passed).toBe(false);
    expect(byId(refused.rules, "server_dry_run").detail).toContain("denied");
    const thrown = await runActionGate(makeDiagnosis(), makeSignals("crash"), policy, {
      ...labels,
      dryRun: async () => {
        throw new Error("connect ECONNREFUSED");
      },
    });
    expect(thrown.passed).toBe(false);
    expect(byId(thrown.rules, "server_dry_run").passed).toBe(false);
  });

  it("skips the dry-run when a hard rule failed (the wrong diagnosis with scope: all)", async () => {
    const dryRun = vi.fn(dryOk);
    const wrong = makeDiagnosis({}, { type: "restart", to_sha: undefined, scope: "all" });
    const v = await runActionGate(wrong, makeSignals("crash"), policy, { ...labels, dryRun });
    expect(v.passed).toBe(false);
    expect(dryRun).not.toHaveBeenCalled();
    expect(v.rules.some((r) => r.rule === "server_dry_run")).toBe(false);
    expect(byId(v.rules, "no_wide_scope").passed).toBe(false);
  });
});
