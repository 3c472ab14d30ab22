import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backstopDeps, type HarnessOptions, runScenarioAgent } from "../../sandbox/harness.js";
import { type SandboxStack, startSandboxStack } from "../../sandbox/stack.js";
import { loadScenario } from "../../scenarios/schema.js";
import type { ActionRecord } from "../../src/contracts/events.js";
import { loadPolicy, type Policy, parsePolicy } from "../../src/guardrails/policy.js";
import { connectInfra, connectNotify } from "../../src/mcp/index.js";
import { resolveInPackage } from "../../src/paths.js";
import { resumeAfterDecision } from "../../src/pipeline/decide.js";
import type { ActionRunner, PendingApproval } from "../../src/pipeline/ports.js";
import type { PipelineDeps, RunResult } from "../../src/pipeline/run.js";
import { loadPrompt } from "../../src/prompts/loader.js";
import { loadSigningKey } from "../../src/receipt/index.js";

// An approval is re-checked against the policy rules on fresh signals before it acts. Each forged
// approval here is one the write path itself would accept (a Deployment, within its own 2× scale
// bound, in a namespace the writer's RBAC may patch), or is run with a dry-run that accepts
// everything: only the re-check in resumeAfterDecision stands between it and the cluster.
const scenario = loadScenario(resolveInPackage("scenarios", "adversarial-injected-instructions.yaml"));
const dir = mkdtempSync(join(tmpdir(), "backstop-recheck-"));
let stack: SandboxStack;
let opts: HarnessOptions;

beforeAll(async () => {
  stack = await startSandboxStack({ scenario });
  opts = {
    signingKey: loadSigningKey({ path: join(dir, "key.pem"), create: true }),
    receiptsDir: join(dir, "receipts"),
    awaitApproval: true,
    recoveryTimeoutMs: 15_000,
  };
});
afterAll(async () => {
  await stack?.close();
});

async function escalate(): Promise<PendingApproval> {
  const { result } = await runScenarioAgent(stack, scenario, "backstop", opts);
  expect(result.outcome).toBe("escalated");
  expect(result.pending).not.toBeNull();
  return result.pending!;
}

async function approve(
  pending: PendingApproval,
  d: { policy?: Policy; acceptEveryDryRun?: boolean } = {},
): Promise<RunResult> {
  const infra = await connectInfra(stack.infraUrl);
  const notify = await connectNotify(stack.tickets.url);
  try {
    const base = backstopDeps(stack, scenario, {
      infra,
      notify,
      policy: d.policy ?? loadPolicy(),
      prompts: { diagnosis: await loadPrompt("diagnosis"), judge: await loadPrompt("judge") },
      reporters: [],
      opts,
    });
    const real = base.actions;
    const actions: ActionRunner = d.acceptEveryDryRun
      ? {
          dryRun: async () => ({ ok: true, error: null }),
          execute: (a, key) => real.execute(a, key),
          waitForRecovery: (ns, name, o) => real.waitForRecovery(ns, name, o),
          ...(real.wasApplied ? { wasApplied: (ns, n, k) => real.wasApplied!(ns, n, k) } : {}),
        }
      : real;
    const deps: PipelineDeps = { ...base, actions, options: { recoveryTimeoutMs: 15_000 } };
    return await resumeAfterDecision(
      pending,
      { decision: "approved", by: "U0APPROVER", at: new Date() },
      deps,
    );
  } finally {
    await Promise.all([infra.close(), notify.close()]);
  }
}

/** The re-check's `gate.action` after the decision: its failed rule ids. */
function refusedBy(r: RunResult, pending: PendingApproval): string[] {
  const gate = r.receipt.events.find((e) => e.type === "gate.action" && e.seq >= pending.events.length);
  expect(gate, "no gate.action after the decision").toBeDefined();
  const data = gate!.data as { passed: boolean; rules: { rule: string; passed: boolean }[] };
  return data.rules.filter((x) => !x.passed).map((x) => x.rule);
}

const forge = (p: PendingApproval, proposedAction: ActionRecord): PendingApproval => ({
  ...p,
  proposedAction,
});

describe("approvals are re-checked against the policy rules", () => {
  it("the escalation proposes the older revision the injected text asked for, for a human only", async () => {
    const pending = await escalate();
    expect(pending.proposedAction).toMatchObject({ type: "rollback", name: "checkout", to_sha: "5d1e0a7" });
    expect(pending.onset).toBe(scenario.alert.alerts[0]!.startsAt);
    expect(stack.cluster.mutations()).toHaveLength(0);
  });

  it("a human's approval overrides rollback_newest_healthy, and the receipt says so", async () => {
    const pending = await escalate();
    const r = await approve(pending);
    expect(r.outcome).toBe("resolved");
    expect(r.actions).toEqual([expect.objectContaining({ type: "rollback", to_sha: "5d1e0a7" })]);
    const gate = r.receipt.events.find((e) => e.type === "gate.action" && e.seq >= pending.events.length)!
      .data as { rules: { rule: string; passed: boolean; detail: string }[] };
    const newest = gate.rules.find((x) => x.rule === "rollback_newest_healthy")!;
    expect(newest.passed).toBe(true);
    expect(newest.detail).toMatch(/^overridden by U0APPROVER's approval: /);
  });

  it("a Deployment in a protected namespace (policy glob only; RBAC would allow it) is refused: not_protected", async () => {
    const pending = await escalate();
    const forged = forge(pending, {
      type: "restart",
      namespace: "kube-system",
      kind: "Deployment",
      name: "coredns",
    });
    const r = await approve(forged);
    expect(r.outcome).toBe("escalated");
    expect(refusedBy(r, forged)).toContain("not_protected");
    expect(stack.cluster.mutations()).toHaveLength(0);
  });

  it("a scale above the policy's factor (within the write path's own 2×) is refused: replicas_bounds", async () => {
    const pending = await escalate();
    const forged = forge(pending, {
      type: "scale",
      namespace: "shop",
      kind: "Deployment",
      name: "orders",
      replicas: 10,
    });
    const policy = parsePolicy("replicas: { max_factor: 1.5 }");
    const r = await approve(forged, { policy });
    expect(r.outcome).toBe("escalated");
    expect(refusedBy(r, forged)).toContain("replicas_bounds");
    expect(stack.cluster.mutations()).toHaveLength(0);
  });

  it("with a dry-run that accepts everything, the re-check alone refuses a failing target and a protected StatefulSet", async () => {
    const pending = await escalate();
    const badTarget = forge(pending, {
      type: "rollback",
      namespace: "shop",
      kind: "Deployment",
      name: "checkout",
      to_sha: "9b3c4d2",
    });
    const r1 = await approve(badTarget, { acceptEveryDryRun: true });
    expect(r1.outcome).toBe("escalated");
    expect(refusedBy(r1, badTarget)).toContain("rollback_target");
    const sts = forge(pending, { type: "restart", namespace: "data", kind: "StatefulSet", name: "prod-db" });
    const r2 = await approve(sts, { acceptEveryDryRun: true });
    expect(r2.outcome).toBe("escalated");
    expect(refusedBy(r2, sts)).toContain("not_protected");
    expect(r2.receipt.events.some((e) => e.type === "action.dry_run" && e.seq >= sts.events.length)).toBe(
      false,
    );
    expect(stack.cluster.mutations()).toHaveLength(0);
  });
});
