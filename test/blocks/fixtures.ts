import type { RunEvent, RunEventDataMap, RunEventType } from "../../src/contracts/events.js";
import { ReceiptRecorder } from "../../src/receipt/index.js";

/** Real, hash-chained events for the builders and the reporter (fixed clock). */
export function recorder(runId = "run-1"): {
  add<T extends RunEventType>(type: T, data: RunEventDataMap[T]): RunEvent;
  events(): readonly RunEvent[];
} {
  const r = new ReceiptRecorder({ runId, clock: () => new Date("2026-05-01T10:00:00.000Z") });
  return { add: (type, data) => r.append(type, data) as RunEvent, events: () => r.events() };
}

export const ROLLBACK = {
  type: "rollback",
  namespace: "shop",
  kind: "Deployment",
  name: "checkout",
  to_sha: "3f9c2a1",
} as const;

/** A full resolved run: every event type that gets a reply, in pipeline order. */
export function resolvedRun(runId = "run-1"): RunEvent[] {
  const r = recorder(runId);
  r.add("run.started", {
    run_id: runId,
    agent: "backstop",
    trigger: "alert",
    namespace: "shop",
    workload: "checkout",
    alertname: "CheckoutErrors",
    scenario: null,
    note: null,
  });
  r.add("signals.gathered", {
    namespace: "shop",
    workload: "checkout",
    pods: 4,
    unhealthy_pods: 2,
    revisions: 3,
    events: 7,
    log_lines: 40,
    tool_calls: [
      { tool: "get_signals", ms: 12, ok: true },
      { tool: "namespaces", ms: 3, ok: true },
    ],
  });
  r.add("redaction.applied", { counts: { aws_access_key: 1, email: 2 }, total: 3 });
  r.add("model.call", {
    purpose: "diagnose",
    target: "primary",
    model: "gpt-small",
    served_model: "gpt-small",
    tier: 1,
    attempt: 1,
    ok: false,
    status: 503,
    error: "unavailable",
    latency_ms: 5,
    tokens: { input: 0, output: 0 },
    cost_usd: 0,
    prompt: null,
  });
  r.add("model.fallback", {
    from: "gpt-small",
    to: "claude-mid",
    reason: "upstream 503",
    status: 503,
    cooldown_until: "2026-05-01T10:01:00.000Z",
  });
  r.add("diagnosis.parsed", {
    model: "claude-mid",
    ok: true,
    error: null,
    extraction: "fenced",
    diagnosis: {
      hypothesis: "Deploy 9d1e7f0 broke checkout",
      suspected_resource: "shop/Deployment/checkout",
      suspected_deploy_sha: "9d1e7f0",
      confidence: 0.82,
      evidence: ["NullPointerException in PaymentClient"],
      recommended_action: {
        type: "rollback",
        namespace: "shop",
        kind: "Deployment",
        name: "checkout",
        to_sha: "3f9c2a1",
      },
    },
  });
  r.add("gate.quality", {
    passed: true,
    model: "claude-mid",
    rules: [{ rule: "sha_in_history", passed: true, detail: "ok" }],
    judge: { model: "judge-1", grounded: true, reason: "quotes match", error: null },
    reroute_to_tier: null,
  });
  r.add("gate.action", {
    passed: true,
    action: { ...ROLLBACK },
    rules: [{ rule: "protected", passed: true, detail: "" }],
  });
  r.add("action.dry_run", { action: { ...ROLLBACK }, ok: true, error: null });
  r.add("action.executed", { action: { ...ROLLBACK }, idempotency_key: `${runId}-rollback`, revision: 4 });
  r.add("recovery.verified", { ok: true, workload: "shop/checkout", ready: 4, desired: 4, waited_ms: 2300 });
  r.add("ticket.filed", {
    id: "TCK-12",
    url: "https://tickets.example/TCK-12?a=1&b=2",
    tool: "create_issue",
  });
  r.add("run.finished", {
    outcome: "resolved",
    summary: "rollback shop/Deployment/checkout to 3f9c2a1; 4/4 ready.",
    wall_ms: 4200,
    cost_usd: 0.0123,
    tokens: { input: 1200, output: 300 },
  });
  return [...r.events()];
}

/** A run that escalates with a proposed action after the quality gate fails (awaitApproval). */
export function escalatedRun(runId = "run-2"): RunEvent[] {
  const r = recorder(runId);
  r.add("run.started", {
    run_id: runId,
    agent: "backstop",
    trigger: "command",
    namespace: "shop",
    workload: "checkout",
    alertname: null,
    scenario: null,
    note: null,
  });
  r.add("gate.quality", {
    passed: false,
    model: "gpt-small",
    rules: [
      { rule: "sha_in_history", passed: false, detail: "SHA deadbee is not in the rollout history" },
      { rule: "evidence_quoted", passed: true, detail: "" },
    ],
    judge: { model: "judge-1", grounded: false, reason: "evidence <b>invented</b>", error: null },
    reroute_to_tier: 2,
  });
  r.add("breaker.tripped", {
    reason: "anomaly budget spent (3/3)",
    spent: 3,
    budget: 3,
    steps: 4,
    max_steps: 8,
  });
  r.add("escalation.opened", {
    reason: "anomaly budget spent",
    proposed_action: { ...ROLLBACK },
    context: { hypothesis: "bad deploy", failed_rules: ["sha_in_history"] },
  });
  return [...r.events()];
}
