import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BackstopError, isBackstopError } from "../../src/errors.js";
import {
  DEFAULT_POLICY_PATH,
  defaultPolicy,
  durationMs,
  globMatch,
  isProtected,
  loadPolicy,
  parsePolicy,
} from "../../src/guardrails/policy.js";

function expectInvalid(text: string, ...fields: string[]) {
  try {
    parsePolicy(text, "test.yaml");
  } catch (err) {
    expect(isBackstopError(err, "policy.invalid")).toBe(true);
    for (const f of fields) expect((err as Error).message).toContain(f);
    return;
  }
  throw new Error("expected policy.invalid");
}

describe("policy file", () => {
  it("the default file loads and equals the schema's defaults", () => {
    expect(DEFAULT_POLICY_PATH.endsWith(join("policy", "default.yaml"))).toBe(true);
    const p = loadPolicy();
    expect(p).toEqual(defaultPolicy());
    expect(p.allowed_actions).toEqual(["rollback", "restart", "scale"]);
    expect(p.protect_statefulsets).toBe(true);
    expect(p.replicas).toEqual({ max_factor: 2, min: 1 });
    expect(p.protected.namespace_labels).toEqual({ "backstop.dev/protected": "true" });
    expect(p.rollback).toEqual({ max_deploy_age_before_onset: "2h" });
    expect(p.anomaly).toEqual({
      budget: 6,
      max_steps: 8,
      costs: { gate_failure: 2, fallback: 1, tool_error: 2, low_confidence: 1, action_failure: 3 },
    });
  });

  it("a partial file keeps the other defaults; an empty file is the default", () => {
    const p = parsePolicy("replicas:\n  max_factor: 3\n");
    expect(p.replicas).toEqual({ max_factor: 3, min: 1 });
    expect(p.protect_statefulsets).toBe(true);
    expect(parsePolicy("")).toEqual(defaultPolicy());
  });

  it("invalid values are refused naming the field", () => {
    expectInvalid("allowed_actions: [rollback, delete]\n", "allowed_actions.1");
    expectInvalid("replicas:\n  max_factor: 0.5\n", "replicas.max_factor");
    expectInvalid("protect_statefulsets: 'no'\n", "protect_statefulsets");
    expectInvalid("anomaly:\n  costs:\n    fallback: -1\n", "anomaly.costs.fallback");
    expectInvalid("protected:\n  workloads: ['just-a-name']\n", "protected.workloads.0");
    for (const bad of ["2 hours", "0h", "-1h", "1.5h", "90", "2w"]) {
      expectInvalid(
        `rollback:\n  max_deploy_age_before_onset: "${bad}"\n`,
        "rollback.max_deploy_age_before_onset",
      );
    }
  });

  it("durationMs reads the policy's durations and refuses anything else", () => {
    expect(durationMs("90s")).toBe(90_000);
    expect(durationMs("30m")).toBe(1_800_000);
    expect(durationMs("2h")).toBe(7_200_000);
    expect(durationMs("1d")).toBe(86_400_000);
    expect(() => durationMs("2 h")).toThrow(/not a duration like 90s, 30m, 2h or 1d/);
    expect(() => durationMs("")).toThrow(BackstopError);
  });

  it("unknown keys are refused naming the key (a typo cannot turn a protection off)", () => {
    expectInvalid("protect_statefulset: false\n", "protect_statefulset");
    expectInvalid("protected:\n  namespace: [data]\n", "protected.namespace");
  });

  it("YAML syntax errors and unreadable files are BackstopErrors", () => {
    expectInvalid("allowed_actions: [rollback\n", "not valid YAML");
    expect(() => loadPolicy("/nonexistent/policy.yaml")).toThrow(
      expect.objectContaining({ code: "policy.read" }),
    );
    const dir = mkdtempSync(join(tmpdir(), "policy-"));
    const file = join(dir, "p.yaml");
    writeFileSync(file, "replicas:\n  min: 0\n");
    expect(() => loadPolicy(file)).toThrow(/replicas\.min/);
  });
});

describe("protection patterns", () => {
  const p = defaultPolicy();

  it("globs match within one path segment", () => {
    expect(globMatch("data/*", "data/prod-db")).toBe(true);
    expect(globMatch("*/prod-db", "shop/prod-db")).toBe(true);
    expect(globMatch("*/prod-db", "shop/prod-db-2")).toBe(false);
    expect(globMatch("*", "a/b")).toBe(false);
    expect(globMatch("web-?", "web-1")).toBe(true);
    expect(globMatch("a.b", "axb")).toBe(false);
  });

  it("isProtected: namespace, workload patterns, labels and StatefulSets", () => {
    expect(isProtected(p, { namespace: "data", kind: "Deployment", name: "etl" }).protected).toBe(true);
    expect(isProtected(p, { namespace: "shop", kind: "Deployment", name: "prod-db" }).why).toContain(
      "*/prod-db",
    );
    expect(isProtected(p, { namespace: "kube-system", kind: "Deployment", name: "coredns" }).protected).toBe(
      true,
    );
    expect(isProtected(p, { namespace: "shop", kind: "StatefulSet", name: "cache" }).protected).toBe(true);
    expect(isProtected(p, { namespace: "shop", kind: "Deployment", name: "checkout" })).toEqual({
      protected: false,
      why: null,
    });
    expect(
      isProtected(
        p,
        { namespace: "shop", kind: "Deployment", name: "checkout" },
        { "backstop.dev/protected": "true" },
      ).protected,
    ).toBe(true);
    expect(
      isProtected(
        p,
        { namespace: "shop", kind: "Deployment", name: "checkout" },
        { "backstop.dev/protected": "false" },
      ).protected,
    ).toBe(false);
  });

  it("isProtected: StatefulSets allowed when the policy says so; Kind-qualified patterns", () => {
    const q = parsePolicy("protect_statefulsets: false\nprotected:\n  workloads: ['shop/Deployment/pay*']\n");
    expect(isProtected(q, { namespace: "shop", kind: "StatefulSet", name: "cache" }).protected).toBe(false);
    expect(isProtected(q, { namespace: "shop", kind: "deployment", name: "payments" }).protected).toBe(true);
    expect(isProtected(q, { namespace: "shop", kind: "StatefulSet", name: "payments" }).protected).toBe(
      false,
    );
  });
});
