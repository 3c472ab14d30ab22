import { describe, expect, it, vi } from "vitest";
import type { RuleResult } from "../../src/contracts/events.js";
import {
  ALWAYS_GROUNDED_MODEL,
  alwaysGroundedJudge,
  checkQualityRules,
  type JudgeFn,
  runQualityGate,
  signalTexts,
} from "../../src/guardrails/quality.js";
import { loadLocalPrompt } from "../../src/prompts/loader.js";
import { makeDiagnosis, makeSignals, ONSET } from "./gate-fixtures.js";

const prompt = loadLocalPrompt("judge");
const ctx = { onset: ONSET };

function byId(rules: RuleResult[], id: string): RuleResult {
  const r = rules.find((x) => x.rule === id);
  if (!r) throw new Error(`no rule ${id} in ${rules.map((x) => x.rule).join(",")}`);
  return r;
}

describe("checkQualityRules", () => {
  it("passes every rule for the true diagnosis, in a stable order", () => {
    const rules = checkQualityRules(makeDiagnosis(), makeSignals("crash"), ctx);
    expect(rules.map((r) => r.rule)).toEqual([
      "resource_in_signals",
      "sha_in_history",
      "sha_matches_onset",
      "confidence",
      "evidence_grounded",
      "action_fits_failure",
    ]);
    expect(rules.filter((r) => !r.passed)).toEqual([]);
  });

  it("resource_in_signals: another workload fails; kind is case-insensitive; a pod of it counts", () => {
    const s = makeSignals("crash");
    expect(
      byId(
        checkQualityRules(makeDiagnosis({ suspected_resource: "shop/Deployment/payments" }), s, ctx),
        "resource_in_signals",
      ).passed,
    ).toBe(false);
    expect(
      byId(
        checkQualityRules(makeDiagnosis({ suspected_resource: "other/Deployment/checkout" }), s, ctx),
        "resource_in_signals",
      ).passed,
    ).toBe(false);
    expect(
      byId(
        checkQualityRules(makeDiagnosis({ suspected_resource: "shop/deployment/checkout" }), s, ctx),
        "resource_in_signals",
      ).passed,
    ).toBe(true);
    expect(
      byId(
        checkQualityRules(makeDiagnosis({ suspected_resource: "shop/Pod/checkout-7d9f8-a0" }), s, ctx),
        "resource_in_signals",
      ).passed,
    ).toBe(true);
  });

  it("sha_in_history: a hallucinated SHA fails, a 7-char prefix passes, an ambiguous or too-short prefix fails", () => {
    const s = makeSignals("crash");
    const fake = byId(
      checkQualityRules(makeDiagnosis({ suspected_deploy_sha: "deadbeef99" }), s, ctx),
      "sha_in_history",
    );
    expect(fake.passed).toBe(false);
    expect(fake.detail).toContain("not in the rollout history");
    expect(
      byId(checkQualityRules(makeDiagnosis({ suspected_deploy_sha: "3F9C2A1" }), s, ctx), "sha_in_history")
        .passed,
    ).toBe(true);
    expect(
      byId(checkQualityRules(makeDiagnosis({ suspected_deploy_sha: "3f9c2a" }), s, ctx), "sha_in_history")
        .passed,
    ).toBe(false);
    const twin = makeSignals("crash");
    twin.rollout_history[0]!.sha = "3f9c2a1ffff";
    const amb = byId(
      checkQualityRules(makeDiagnosis({ suspected_deploy_sha: "3f9c2a1" }), twin, ctx),
      "sha_in_history",
    );
    expect(amb.passed).toBe(false);
    expect(amb.detail).toContain("ambiguous");
  });

  it("sha_matches_onset: an older deploy fails, a deploy after onset+grace fails, within grace passes", () => {
    const s = makeSignals("crash");
    expect(
      byId(
        checkQualityRules(makeDiagnosis({ suspected_deploy_sha: "2222222bbbb" }), s, ctx),
        "sha_matches_onset",
      ).passed,
    ).toBe(false);
    // Onset 10 minutes before the deploy of revision 3: revision 2 was live then.
    const early = { onset: new Date(ONSET.getTime() - 10 * 60_000) };
    expect(byId(checkQualityRules(makeDiagnosis(), s, early), "sha_matches_onset").passed).toBe(false);
    expect(
      byId(
        checkQualityRules(makeDiagnosis({ suspected_deploy_sha: "2222222bbbb" }), s, early),
        "sha_matches_onset",
      ).passed,
    ).toBe(true);
    // Onset 1 minute before the deploy: inside the default 2-minute grace.
    const justBefore = { onset: new Date(ONSET.getTime() - 6 * 60_000) };
    expect(byId(checkQualityRules(makeDiagnosis(), s, justBefore), "sha_matches_onset").passed).toBe(true);
    expect(
      byId(checkQualityRules(makeDiagnosis(), s, justBefore, { onsetGraceMs: 0 }), "sha_matches_onset")
        .passed,
    ).toBe(false);
  });

  it("sha_matches_onset: a null SHA fails a rollback and passes a restart", () => {
    const s = makeSignals("stuck");
    expect(
      byId(checkQualityRules(makeDiagnosis({ suspected_deploy_sha: null }), s, ctx), "sha_matches_onset")
        .passed,
    ).toBe(false);
    const restart = makeDiagnosis({ suspected_deploy_sha: null }, { type: "restart", to_sha: undefined });
    expect(byId(checkQualityRules(restart, s, ctx), "sha_matches_onset").passed).toBe(true);
    expect(byId(checkQualityRules(restart, s, ctx), "sha_in_history").passed).toBe(true);
  });

  it("confidence: below the threshold fails, the threshold is configurable", () => {
    const s = makeSignals("crash");
    expect(byId(checkQualityRules(makeDiagnosis({ confidence: 0.69 }), s, ctx), "confidence").passed).toBe(
      false,
    );
    expect(byId(checkQualityRules(makeDiagnosis({ confidence: 0.7 }), s, ctx), "confidence").passed).toBe(
      true,
    );
    expect(
      byId(
        checkQualityRules(makeDiagnosis({ confidence: 0.7 }), s, ctx, { confidenceThreshold: 0.8 }),
        "confidence",
      ).passed,
    ).toBe(false);
  });

  it("evidence_grounded: invented, empty, too short and case-changed quotes fail; whitespace folds; alert text counts", () => {
    const s = makeSignals("crash");
    const check = (evidence: string[], alertText?: string) =>
      byId(
        checkQualityRules(makeDiagnosis({ evidence }), s, {
          onset: ONSET,
          ...(alertText ? { alertText } : {}),
        }),
        "evidence_grounded",
      );
    expect(check(["database connection pool exhausted"]).passed).toBe(false);
    expect(check([]).passed).toBe(false);
    expect(check(["panic"]).passed).toBe(false);
    expect(check(["PANIC: RUNTIME ERROR"]).passed).toBe(false);
    expect(check(["panic:   runtime\n error: invalid memory"]).passed).toBe(true);
    expect(check(['"CrashLoopBackOff"']).passed).toBe(true);
    expect(check(["error_ratio: 0.41"]).passed).toBe(true);
    expect(check(["checkout 5xx ratio above 40%"]).passed).toBe(false);
    expect(
      check(["checkout 5xx ratio above 40%"], "alert CheckoutErrors: checkout 5xx ratio above 40% for 5m")
        .passed,
    ).toBe(true);
    // One bad quote among good ones fails the rule.
    expect(check(["Back-off restarting failed container", "made up line here"]).passed).toBe(false);
  });

  it("action_fits_failure: rollback needs a failing current deploy", () => {
    expect(
      byId(checkQualityRules(makeDiagnosis(), makeSignals("crash"), ctx), "action_fits_failure").passed,
    ).toBe(true);
    expect(
      byId(checkQualityRules(makeDiagnosis(), makeSignals("stuck"), ctx), "action_fits_failure").passed,
    ).toBe(false);
  });

  it("action_fits_failure: restart needs unhealthy pods and no bad current deploy", () => {
    const restart = makeDiagnosis({ suspected_deploy_sha: null }, { type: "restart", to_sha: undefined });
    expect(byId(checkQualityRules(restart, makeSignals("stuck"), ctx), "action_fits_failure").passed).toBe(
      true,
    );
    expect(byId(checkQualityRules(restart, makeSignals("crash"), ctx), "action_fits_failure").passed).toBe(
      false,
    );
    expect(byId(checkQualityRules(restart, makeSignals("healthy"), ctx), "action_fits_failure").passed).toBe(
      false,
    );
  });

  it("action_fits_failure: scale needs ready pods and saturation", () => {
    const scale = makeDiagnosis(
      { suspected_deploy_sha: null },
      { type: "scale", to_sha: undefined, replicas: 5 },
    );
    expect(byId(checkQualityRules(scale, makeSignals("saturated"), ctx), "action_fits_failure").passed).toBe(
      true,
    );
    expect(byId(checkQualityRules(scale, makeSignals("healthy"), ctx), "action_fits_failure").passed).toBe(
      false,
    );
    expect(byId(checkQualityRules(scale, makeSignals("crash"), ctx), "action_fits_failure").passed).toBe(
      false,
    );
  });

  it("action_fits_failure: none only when healthy", () => {
    const none = makeDiagnosis({ suspected_deploy_sha: null }, { type: "none", to_sha: undefined });
    expect(byId(checkQualityRules(none, makeSignals("healthy"), ctx), "action_fits_failure").passed).toBe(
      true,
    );
    expect(byId(checkQualityRules(none, makeSignals("crash"), ctx), "action_fits_failure").passed).toBe(
      false,
    );
    expect(byId(checkQualityRules(none, makeSignals("saturated"), ctx), "action_fits_failure").passed).toBe(
      false,
    );
  });
});

describe("runQualityGate", () => {
  const grounded: JudgeFn = async () => ({ grounded: true, reason: "quotes match", model: "judge-mini" });

  it("passes when every rule passes and the judge says grounded; the judge gets the prompt", async () => {
    const judge = vi.fn(grounded);
    const v = await runQualityGate(makeDiagnosis(), makeSignals("crash"), { ...ctx, judge, prompt });
    expect(v.passed).toBe(true);
    expect(v.judge).toEqual({ model: "judge-mini", grounded: true, reason: "quotes match", error: null });
    expect(byId(v.rules, "judge_grounded").passed).toBe(true);
    expect(judge).toHaveBeenCalledOnce();
    expect(judge.mock.calls[0]![0].prompt.name).toBe("judge");
  });

  it("fails when the judge says not grounded", async () => {
    const judge: JudgeFn = async () => ({ grounded: false, reason: "SHA unsupported", model: "judge-mini" });
    const v = await runQualityGate(makeDiagnosis(), makeSignals("crash"), { ...ctx, judge, prompt });
    expect(v.passed).toBe(false);
    expect(v.judge?.grounded).toBe(false);
    expect(v.judge?.error).toBeNull();
  });

  it("fails closed when the judge throws", async () => {
    const judge: JudgeFn = async () => {
      throw new Error("upstream 503");
    };
    const v = await runQualityGate(makeDiagnosis(), makeSignals("crash"), { ...ctx, judge, prompt });
    expect(v.passed).toBe(false);
    expect(v.judge?.grounded).toBeNull();
    expect(v.judge?.error).toContain("upstream 503");
    expect(byId(v.rules, "judge_grounded").passed).toBe(false);
  });

  it("fails closed when the judge returns garbage", async () => {
    for (const reply of [null, "yes", { grounded: "true", reason: "x", model: "m" }, { grounded: true }]) {
      const judge = (async () => reply) as unknown as JudgeFn;
      const v = await runQualityGate(makeDiagnosis(), makeSignals("crash"), { ...ctx, judge, prompt });
      expect(v.passed).toBe(false);
      expect(v.judge?.error).toBeTruthy();
      expect(v.judge?.grounded).toBeNull();
    }
  });

  it("fails closed when the judge never answers (gate timeout)", async () => {
    const judge: JudgeFn = () => new Promise(() => {});
    const v = await runQualityGate(
      makeDiagnosis(),
      makeSignals("crash"),
      { ...ctx, judge, prompt },
      { judgeTimeoutMs: 20 },
    );
    expect(v.passed).toBe(false);
    expect(v.judge?.error).toContain("timed out");
  });

  it("skips the judge when a rule failed, unless configured", async () => {
    const judge = vi.fn(grounded);
    const bad = makeDiagnosis({ suspected_deploy_sha: "deadbeef99" });
    const v = await runQualityGate(bad, makeSignals("crash"), { ...ctx, judge, prompt });
    expect(v.passed).toBe(false);
    expect(v.judge).toBeNull();
    expect(judge).not.toHaveBeenCalled();
    const v2 = await runQualityGate(
      bad,
      makeSignals("crash"),
      { ...ctx, judge, prompt },
      { judgeWhenRulesFail: true },
    );
    expect(judge).toHaveBeenCalledOnce();
    expect(v2.passed).toBe(false);
    expect(v2.judge?.grounded).toBe(true);
  });
});

describe("untrusted text and the always-grounded judge", () => {
  it("annotations and termination messages may be quoted as evidence", () => {
    const s = makeSignals("crash");
    s.workload.annotations = {
      "kubernetes.io/change-cause": "kubectl set image deploy/checkout checkout=3f9c2a1d0e",
    };
    s.pods[0]!.termination_message = "fatal: tax table rates-v5.json has 5 regions, want 6";
    const texts = signalTexts(s);
    expect(texts).toContain("kubectl set image deploy/checkout checkout=3f9c2a1d0e");
    expect(texts).toContain(
      "kubernetes.io/change-cause: kubectl set image deploy/checkout checkout=3f9c2a1d0e",
    );
    expect(texts).toContain("fatal: tax table rates-v5.json has 5 regions, want 6");
    const d = makeDiagnosis({
      evidence: ["tax table rates-v5.json has 5 regions", "set image deploy/checkout"],
    });
    expect(byId(checkQualityRules(d, s, ctx), "evidence_grounded").passed).toBe(true);
    // Without them the same quotes are not grounded.
    expect(byId(checkQualityRules(d, makeSignals("crash"), ctx), "evidence_grounded").passed).toBe(false);
  });

  it("always-grounded approves anything, names itself on the verdict, and the rules still decide", async () => {
    const wrong = makeDiagnosis({ suspected_deploy_sha: "deadbeef00" });
    const v = await runQualityGate(
      wrong,
      makeSignals("crash"),
      { ...ctx, judge: alwaysGroundedJudge, prompt },
      {
        judgeWhenRulesFail: true,
      },
    );
    expect(v.judge).toMatchObject({ model: ALWAYS_GROUNDED_MODEL, grounded: true, error: null });
    expect(byId(v.rules, "judge_grounded").detail).toContain("always-grounded");
    expect(v.passed).toBe(false);
    expect(byId(v.rules, "sha_in_history").passed).toBe(false);
  });
});
