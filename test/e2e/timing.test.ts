import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AgentReport, type HarnessOptions, runScenarioAgent } from "../../sandbox/harness.js";
import { type SandboxStack, startSandboxStack } from "../../sandbox/stack.js";
import { loadScenario, type Scenario } from "../../scenarios/schema.js";
import type { RunEvent } from "../../src/contracts/events.js";
import { setLogLevel } from "../../src/log.js";
import { resolveInPackage } from "../../src/paths.js";
import {
  hashEvent,
  loadSigningKey,
  type Receipt,
  signReceipt,
  verifyReceipt,
} from "../../src/receipt/index.js";

// Stage timings on the record (issue 11): every event carries duration_ms, the report carries timing.
setLogLevel("silent");
const clean: Scenario = loadScenario(resolveInPackage("scenarios/clean-signal.yaml"));
const failover: Scenario = loadScenario(resolveInPackage("scenarios/model-failover.yaml"));
const dir = mkdtempSync(join(tmpdir(), "backstop-timing-"));
let stack: SandboxStack;
let opts: HarnessOptions;
const reports: Record<string, AgentReport> = {};

beforeAll(async () => {
  stack = await startSandboxStack({ scenario: clean });
  opts = {
    signingKey: loadSigningKey({ path: join(dir, "key.pem"), create: true }),
    receiptsDir: join(dir, "receipts"),
  };
  reports.clean = (await runScenarioAgent(stack, clean, "backstop", opts)).report;
  reports.naive = (await runScenarioAgent(stack, clean, "naive", opts)).report;
  reports.failover = (await runScenarioAgent(stack, failover, "backstop", opts)).report;
}, 120_000);

afterAll(async () => {
  await stack?.close();
});

const receiptOf = (r: AgentReport) => JSON.parse(readFileSync(r.receipt, "utf8")) as Receipt;

describe("stage timings", () => {
  it("every event carries a whole-ms duration, a model call its latency, and the receipt verifies", () => {
    for (const r of [reports.clean!, reports.naive!, reports.failover!]) {
      const receipt = receiptOf(r);
      for (const e of receipt.events) {
        expect(Number.isInteger(e.duration_ms)).toBe(true);
        expect(e.duration_ms).toBeGreaterThanOrEqual(0);
        if (e.type === "model.call")
          expect(e.duration_ms).toBe((e.data as { latency_ms: number }).latency_ms);
      }
      expect(verifyReceipt(receipt)).toMatchObject({ ok: true });
    }
  });

  it("a changed duration breaks the chain; an event without one hashes as before", () => {
    const receipt = receiptOf(reports.clean!);
    const tampered = structuredClone(receipt);
    const e = tampered.events[2]!;
    e.duration_ms = (e.duration_ms ?? 0) + 1;
    expect(verifyReceipt(tampered)).toMatchObject({
      ok: false,
      seq: 2,
      reason: expect.stringMatching(/hash/),
    });
    const { duration_ms: _d, hash: _h, ...body } = receipt.events[0]!;
    expect(hashEvent(body)).not.toBe(receipt.events[0]!.hash);
    const old = { ...body, hash: hashEvent(body) } as RunEvent;
    expect(verifyReceipt(signReceipt(receipt.run_id, [old], opts.signingKey))).toMatchObject({ ok: true });
    expect(verifyReceipt({ ...receipt, events: [{ ...receipt.events[0], duration_ms: -1 }] })).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/duration_ms/),
    });
  });

  it("the report's timing names every stage and own_ms is wall minus model, Kubernetes and recovery", () => {
    const t = reports.clean!.timing;
    const receipt = receiptOf(reports.clean!);
    expect(reports.clean!.outcome).toBe("resolved");
    const modelCalls = receipt.events.filter((e) => e.type === "model.call");
    expect(t.model_calls).toHaveLength(modelCalls.length);
    expect(t.model_calls.map((c) => c.purpose)).toEqual(
      modelCalls.map((e) => (e.data as { purpose: string }).purpose),
    );
    for (const k of [
      "signals_ms",
      "redaction_ms",
      "model_ms",
      "judge_ms",
      "dry_run_ms",
      "action_ms",
      "recovery_watch_ms",
      "ticket_ms",
      "receipt_signing_ms",
    ] as const) {
      expect(t[k], k).toBeGreaterThan(0);
    }
    expect(t.quality_rules_ms).toBeGreaterThanOrEqual(0);
    expect(t.action_gate_ms).toBeGreaterThanOrEqual(0);
    expect(t.kubernetes_ms).toBeCloseTo(t.signals_ms + t.dry_run_ms + t.action_ms, 1);
    expect(t.own_ms).toBeCloseTo(t.wall_ms - t.model_ms - t.kubernetes_ms - t.recovery_watch_ms, 0);
    expect(t.own_ms).toBeLessThanOrEqual(t.wall_ms);
    // the stage an event records is the measured one
    const recovery = receipt.events.find((e) => e.type === "recovery.verified")!;
    expect(recovery.duration_ms).toBe(Math.round(t.recovery_watch_ms));
    const signals = receipt.events.find((e) => e.type === "signals.gathered")!;
    expect(signals.duration_ms).toBe(Math.round(t.signals_ms));
  });

  it("model-failover: the rate-limited primary is called once, then the fallback at once", () => {
    const receipt = receiptOf(reports.failover!);
    const calls = receipt.events
      .filter((e) => e.type === "model.call")
      .map((e) => e.data as { target: string; purpose: string; status: number | null });
    const diagnose = calls.filter((c) => c.purpose === "diagnose");
    expect(diagnose.map((c) => [c.target, c.status])).toEqual([
      ["claude-sonnet-4", 429],
      ["llama-4-maverick", 200],
    ]);
    expect(reports.failover!.outcome).toBe("resolved");
  });
});
