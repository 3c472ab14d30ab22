import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backstopDeps, type HarnessOptions, runScenarioAgent } from "../../sandbox/harness.js";
import { type SandboxStack, startSandboxStack } from "../../sandbox/stack.js";
import { loadScenario } from "../../scenarios/schema.js";
import { loadPolicy } from "../../src/guardrails/policy.js";
import { connectInfra, connectNotify } from "../../src/mcp/index.js";
import { resolveInPackage } from "../../src/paths.js";
import { type Decision, resumeAfterDecision } from "../../src/pipeline/decide.js";
import type { PendingApproval } from "../../src/pipeline/ports.js";
import type { PipelineDeps } from "../../src/pipeline/run.js";
import { loadPrompt } from "../../src/prompts/loader.js";
import { loadSigningKey, verifyReceipt } from "../../src/receipt/index.js";

// An escalated run waits for a human; the decision continues the same receipt, re-checks the hard
// rules, and acts at most once. Real sandbox servers, real clients.
const scenario = loadScenario(resolveInPackage("scenarios", "cascading-failure.yaml"));
const dir = mkdtempSync(join(tmpdir(), "backstop-approval-"));
let stack: SandboxStack;
let opts: HarnessOptions;

beforeAll(async () => {
  stack = await startSandboxStack({ scenario });
  opts = {
    signingKey: loadSigningKey({ path: join(dir, "key.pem"), create: true }),
    receiptsDir: join(dir, "receipts"),
    awaitApproval: true,
  };
});
afterAll(async () => {
  await stack?.close();
});

async function escalate(): Promise<PendingApproval> {
  const { result, report } = await runScenarioAgent(stack, scenario, "backstop", opts);
  expect(report.outcome).toBe("escalated");
  expect(result.pending).not.toBeNull();
  return result.pending!;
}

async function decide(pending: PendingApproval, decision: Decision) {
  const infra = await connectInfra(stack.infraUrl);
  const notify = await connectNotify(stack.tickets.url);
  try {
    const deps: PipelineDeps = {
      ...backstopDeps(stack, scenario, {
        infra,
        notify,
        policy: loadPolicy(),
        prompts: { diagnosis: await loadPrompt("diagnosis"), judge: await loadPrompt("judge") },
        reporters: [],
        opts,
      }),
      options: { recoveryTimeoutMs: 20_000 },
    };
    return await resumeAfterDecision(pending, decision, deps);
  } finally {
    await Promise.all([infra.close(), notify.close()]);
  }
}

const writesTo = (name: string) => stack.cluster.mutations().filter((m) => m.name === name).length;

describe("approvals", () => {
  it("an escalation proposes the scoped fix and leaves the run open", async () => {
    const pending = await escalate();
    expect(pending.proposedAction).toMatchObject({
      type: "rollback",
      namespace: "shop",
      kind: "Deployment",
      name: "orders",
    });
    expect(pending.events.at(-1)?.type).toBe("escalation.opened");
    expect(pending.events.some((e) => e.type === "run.finished")).toBe(false);
    expect(stack.cluster.mutations()).toHaveLength(0);
  });

  it("approved: acts once on the same chain, even when the decision is processed twice", async () => {
    const pending = await escalate();
    const at = new Date();
    const first = await decide(pending, { decision: "approved", by: "U0APPROVER", at });
    expect(first.outcome).toBe("resolved");
    expect(writesTo("orders")).toBe(1);
    const types = first.receipt.events.map((e) => e.type);
    expect(types.indexOf("approval.decided")).toBe(pending.events.length);
    expect(types.filter((t) => t === "run.finished")).toHaveLength(1);
    expect(verifyReceipt(first.receipt)).toMatchObject({ ok: true });
    // A retried decision job: the idempotency key on the Deployment stops a second write.
    const again = await decide(pending, { decision: "approved", by: "U0APPROVER", at });
    expect(again.outcome).toBe("resolved");
    expect(writesTo("orders")).toBe(1);
    expect(stack.cluster.mutations().every((m) => m.name === "orders")).toBe(true);
  });

  it("rejected or expired: nothing changes", async () => {
    for (const decision of ["rejected", "expired"] as const) {
      const pending = await escalate();
      const r = await decide(pending, {
        decision,
        by: decision === "rejected" ? "U0APPROVER" : null,
        at: new Date(),
      });
      expect(r.outcome).toBe("escalated");
      expect(r.actions).toHaveLength(0);
      expect(stack.cluster.mutations()).toHaveLength(0);
      expect(r.receipt.events.find((e) => e.type === "approval.decided")?.data).toMatchObject({ decision });
    }
  });

  it("an approved action still passes the hard rules: a protected StatefulSet is refused", async () => {
    const pending = await escalate();
    const forged: PendingApproval = {
      ...pending,
      proposedAction: { type: "restart", namespace: "data", kind: "StatefulSet", name: "prod-db" },
    };
    const r = await decide(forged, { decision: "approved", by: "U0APPROVER", at: new Date() });
    expect(r.outcome).toBe("escalated");
    const gate = r.receipt.events.find((e) => e.type === "gate.action" && e.seq > pending.events.length);
    expect(gate?.data).toMatchObject({ passed: false });
    expect(stack.cluster.mutations()).toHaveLength(0);
  });
});
