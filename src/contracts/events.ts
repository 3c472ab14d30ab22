/**
 * Run events: the receipt's body and the source every reporter (CLI timeline, Slack thread, console)
 * renders. Shapes follow DESIGN.md, "Contracts". `hash = sha256(canonical({seq, at, type, data, prev_hash}))`
 * (plus `duration_ms` inside the hashed object when the event carries it) over RFC 8785 canonical JSON; see `src/receipt/`.
 */
/**
 * Every run event type, in run order, with what is known of it by its type: `cluster`, whether its data
 * names a workload or an action and so carries the run's cluster (stamped by the run context,
 * `src/pipeline/context.ts`). Checked against {@link RunEventDataMap}: the same types, and `cluster` is
 * true exactly where the data has a `cluster` field.
 */
export const RUN_EVENTS = {
  "run.started": { cluster: true },
  "signals.gathered": { cluster: true },
  "redaction.applied": { cluster: false },
  "model.call": { cluster: false },
  "model.fallback": { cluster: false },
  "diagnosis.parsed": { cluster: false },
  "gate.quality": { cluster: false },
  "gate.action": { cluster: true },
  "breaker.anomaly": { cluster: false },
  "breaker.tripped": { cluster: false },
  "action.dry_run": { cluster: true },
  "action.executed": { cluster: true },
  "action.failed": { cluster: true },
  "recovery.verified": { cluster: true },
  "escalation.opened": { cluster: true },
  "approval.decided": { cluster: true },
  "ticket.filed": { cluster: true },
  "run.finished": { cluster: false },
} as const satisfies {
  [K in keyof RunEventDataMap]: { cluster: "cluster" extends keyof RunEventDataMap[K] ? true : false };
};

export type RunEventType = keyof typeof RUN_EVENTS;

/** Every run event type, in run order (the keys of {@link RUN_EVENTS}). */
export const RUN_EVENT_TYPES = Object.keys(RUN_EVENTS) as [RunEventType, ...RunEventType[]];

/** One rule of a gate and how it went; `rule` is a stable id such as `sha_in_history`. */
export interface RuleResult {
  rule: string;
  passed: boolean;
  detail: string;
}

/** The outcome of a run, as reported by the CLI, the bot and `eval`. */
export type RunOutcome = "resolved" | "escalated" | "damaged" | "failed";

/** Typed `data` for each event type. Everything here is secret-free (post-redaction). */
export interface RunEventDataMap {
  "run.started": {
    /** The cluster the run is on (set by the run context when the run has one). */
    cluster?: string;
    run_id: string;
    agent: "backstop" | "naive";
    trigger: "alert" | "command" | "cli";
    namespace: string;
    workload: string;
    alertname: string | null;
    scenario: string | null;
    note: string | null;
    /**
     * Backstop's quality-gate judge: `model` (the router's judge target) or `always-grounded` (a judge
     * that approves everything, `--judge always-grounded`); absent on the naive agent's receipts.
     */
    judge?: "model" | "always-grounded" | "custom";
  };
  "signals.gathered": {
    cluster?: string;
    namespace: string;
    workload: string;
    pods: number;
    unhealthy_pods: number;
    revisions: number;
    events: number;
    log_lines: number;
    tool_calls: { tool: string; ms: number; ok: boolean; error?: string }[];
  };
  /**
   * Counts per type, never values. `direction` (absent on older receipts, meaning `input`): `input` is
   * what was masked before any model saw the signals, alert and note (`invisible`: Unicode Cf
   * characters stripped from them, per kind); `output` is what was masked in a model's reply (or text
   * derived from one) before it was recorded; `stage` names where (`diagnose`, `judge`, `ticket`, …).
   */
  "redaction.applied": {
    counts: Record<string, number>;
    total: number;
    direction?: "input" | "output";
    stage?: string;
    invisible?: { counts: Record<string, number>; total: number };
  };
  "model.call": {
    purpose: "diagnose" | "judge";
    target: string;
    model: string;
    /** The model the gateway says served the call (`x-tfy-resolved-model` or the body's `model`). */
    served_model: string;
    tier: number;
    attempt: number;
    ok: boolean;
    status: number | null;
    error: string | null;
    latency_ms: number;
    tokens: { input: number; output: number };
    cost_usd: number;
    prompt: { name: string; version: string; sha256: string } | null;
    /**
     * Why the router called this target at this point (additive; older receipts lack it): `why` is a
     * sentence (tier, recent-latency rank or "no recent sample", the failed target it follows, retries),
     * `ewma_ms` the target's recent latency average when it was chosen (null: no sample).
     */
    route?: { why: string; ewma_ms: number | null };
  };
  "model.fallback": {
    from: string;
    to: string | null;
    reason: string;
    status: number | null;
    cooldown_until: string | null;
  };
  "diagnosis.parsed": {
    model: string;
    ok: boolean;
    error: string | null;
    diagnosis: import("./diagnosis.js").Diagnosis | null;
    extraction: string | null;
  };
  "gate.quality": {
    passed: boolean;
    model: string;
    rules: RuleResult[];
    judge: { model: string; grounded: boolean | null; reason: string; error: string | null } | null;
    reroute_to_tier: number | null;
  };
  "gate.action": { cluster?: string; passed: boolean; action: ActionRecord | null; rules: RuleResult[] };
  "breaker.anomaly": { kind: string; cost: number; spent: number; budget: number; detail: string };
  "breaker.tripped": { reason: string; spent: number; budget: number; steps: number; max_steps: number };
  "action.dry_run": { cluster?: string; action: ActionRecord; ok: boolean; error: string | null };
  "action.executed": {
    cluster?: string;
    action: ActionRecord;
    idempotency_key: string;
    revision: number | null;
  };
  "action.failed": {
    cluster?: string;
    action: ActionRecord;
    error: string;
    status: number | null;
    changed: boolean;
  };
  "recovery.verified": {
    cluster?: string;
    ok: boolean;
    workload: string;
    ready: number;
    desired: number;
    waited_ms: number;
  };
  "escalation.opened": {
    cluster?: string;
    reason: string;
    proposed_action: ActionRecord | null;
    context: { hypothesis: string | null; failed_rules: string[] };
  };
  "approval.decided": {
    cluster?: string;
    decision: "approved" | "rejected" | "expired" | "withdrawn";
    by: string | null;
    at: string;
  };
  "ticket.filed": { cluster?: string; id: string; url: string | null; tool: string };
  "run.finished": {
    outcome: RunOutcome;
    summary: string;
    wall_ms: number;
    cost_usd: number;
    tokens: { input: number; output: number };
  };
}

/** A concrete, typed action as executed or proposed (no `scope`: the write path has none). */
export interface ActionRecord {
  /** The cluster the action is (to be) taken on; stamped on receipt events by the run context. */
  cluster?: string;
  type: "rollback" | "restart" | "scale" | "delete";
  namespace: string;
  kind: string;
  name: string;
  to_sha?: string;
  to_revision?: number;
  replicas?: number;
}

/** One event as it sits on the receipt. `at` is ISO-8601; `prev_hash` of the first event is 64 zeros. */
export interface RunEvent<T extends RunEventType = RunEventType> {
  seq: number;
  at: string;
  type: T;
  data: RunEventDataMap[T];
  prev_hash: string;
  /**
   * How long the stage this event records took, in ms (additive; older receipts lack it): a measured
   * stage's time (signals, redaction, a gate, dry-run, action, recovery watch, ticket), a model call's
   * latency, else the time since the previous event. Hashed with the event when present.
   */
  duration_ms?: number;
  hash: string;
}

/**
 * Where the pipeline reports. The CLI prints, Slack posts, the console streams; the pipeline never
 * knows which. `emit` is awaited in order; a reporter that throws is logged and does not stop the run.
 * A reporter the run should not wait for returns at once and does its work behind (the worker's Slack
 * thread and stage record: `SlackThreadReporter.background()`, `StageReporter`), flushed by its owner.
 */
export interface RunReporter {
  emit(event: RunEvent): void | Promise<void>;
}
