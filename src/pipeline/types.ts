import type { AlertmanagerWebhook } from "../contracts/alertmanager.js";
import type { Diagnosis } from "../contracts/diagnosis.js";
import type { ActionRecord, RunOutcome, RunReporter } from "../contracts/events.js";
import type { ModelRouter } from "../gateway/router.js";
import type { Policy } from "../guardrails/policy.js";
import type { JudgeFn, QualityGateOptions } from "../guardrails/quality.js";
import type { LoadedPrompt } from "../prompts/loader.js";
import type { Receipt, SigningKey } from "../receipt/index.js";
import type { ActionRunner, Escalation, PendingApproval, SignalsSource, TicketSink } from "./ports.js";
import type { RunTarget } from "./target.js";

/**
 * The pipeline's shared types: what a run takes (`RunInput`, `PipelineDeps`, `PipelineOptions`) and
 * what it returns (`RunResult`, with `RunTotals` and `RunTiming`). Every stage module imports them
 * from here, so `run`, `context`, `act`, `decide` and the stage modules import downward only.
 */

/** Tunables of one run. Durations in ms. */
export interface PipelineOptions {
  /** Signals window in Prometheus duration syntax (default `15m`). */
  window?: string;
  /** How many times a failed gate re-routes to a stronger tier (default 2). */
  maxReroutes?: number;
  /** How long to watch a workload recover after acting (default 120000 ms). */
  recoveryTimeoutMs?: number;
  quality?: QualityGateOptions;
  /**
   * When true (the Slack bot), an escalation that proposes an action leaves the run open for a human:
   * no ticket, no `run.finished`; the result carries `pending` for `resumeAfterDecision`. When false
   * (the CLI, eval), the run finishes as `escalated`.
   */
  awaitApproval?: boolean;
  /**
   * Called with the pending approval after `escalation.opened` is on the chain and before any reporter
   * sees it (the bot persists it here, so the Approve button it is about to post always finds it).
   */
  onPending?: (pending: PendingApproval) => Promise<void>;
}

/** Everything the run needs, injected; the pipeline knows nothing of Slack, BullMQ or the CLI. */
export interface PipelineDeps {
  signals: SignalsSource;
  router: Pick<ModelRouter, "complete" | "maxTier">;
  actions: ActionRunner;
  tickets?: TicketSink | undefined;
  policy: Policy;
  prompts: { diagnosis: LoadedPrompt; judge: LoadedPrompt };
  reporters: RunReporter[];
  signingKey: SigningKey;
  options?: PipelineOptions;
  clock?: () => Date;
  /**
   * Replaces the model judge of the quality gate (e.g. `alwaysGroundedJudge` for `--judge
   * always-grounded`, which proves the deterministic rules stand alone). Absent: the router's judge model.
   */
  judge?: JudgeFn;
}

/** What starts a run. `onset` is when the incident began (the alert's `startsAt`). */
export interface RunInput {
  runId: string;
  /**
   * The cluster the run is on (the bot always sets it). Every receipt event that names a workload
   * carries it, and so do the ticket and any pending approval; the deps must be that cluster's.
   */
  cluster?: string | null;
  trigger: "alert" | "command" | "cli";
  target: RunTarget;
  onset: Date;
  alert: AlertmanagerWebhook | null;
  note?: string | null;
  scenario?: string | null;
}

/** Totals over a run's model calls: tokens, USD, how many calls and fallbacks. */
export interface RunTotals {
  modelCalls: number;
  fallbacks: number;
  tokens: { input: number; output: number };
  costUsd: number;
}

/**
 * Where a run's time went, in ms (rounded to 0.01). `model_calls` lists every HTTP call the router made
 * (from `model.call` events). `quality_rules_ms` is the quality gate without the judge, `action_gate_ms`
 * the action gate without the dry-run. `kubernetes_ms` = signals + dry-run + action. `own_ms` = `wall_ms`
 * − model − Kubernetes API − recovery wait (issue 11's definition): Backstop's own work, guards,
 * receipts, reporters and the ticket included. `wall_ms` runs from the run's context to its signed
 * receipt (a resumed run: this process's part only, not the human's wait).
 */
export interface RunTiming {
  wall_ms: number;
  signals_ms: number;
  redaction_ms: number;
  model_ms: number;
  model_calls: { purpose: "diagnose" | "judge"; target: string; attempt: number; ok: boolean; ms: number }[];
  quality_rules_ms: number;
  judge_ms: number;
  action_gate_ms: number;
  dry_run_ms: number;
  action_ms: number;
  recovery_watch_ms: number;
  ticket_ms: number;
  receipt_signing_ms: number;
  kubernetes_ms: number;
  own_ms: number;
}

/** The result of a run: outcome, what was done, what waits for a human, the signed receipt, totals. */
export interface RunResult extends RunTotals {
  runId: string;
  agent: "backstop" | "naive";
  outcome: RunOutcome;
  actions: ActionRecord[];
  escalation: Escalation | null;
  diagnosis: Diagnosis | null;
  receipt: Receipt;
  wallMs: number;
  /** Where the run's time went (ms): stages, model calls and Backstop's own time (`own_ms`). */
  timing: RunTiming;
  /** Set when the run waits for an Approve/Reject decision (see `PipelineOptions.awaitApproval`). */
  pending: PendingApproval | null;
}
