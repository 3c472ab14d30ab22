import { z } from "zod";
import type { AlertmanagerWebhook } from "../contracts/alertmanager.js";
import type { Diagnosis } from "../contracts/diagnosis.js";
import type { ActionRecord, RunOutcome } from "../contracts/events.js";
import type { Signals } from "../contracts/signals.js";
import { BackstopError, errorMessage, isBackstopError } from "../errors.js";
import type { CompletionResult, ModelRouter, RouterEvent } from "../gateway/router.js";
import { APPROVABLE_RULES, checkActionRules, runActionGate } from "../guardrails/action-gate.js";
import { AnomalyBudget } from "../guardrails/anomaly.js";
import { parseDiagnosis, parseJsonReply } from "../guardrails/extract.js";
import type { Policy } from "../guardrails/policy.js";
import {
  alwaysGroundedJudge,
  type JudgeFn,
  type QualityGateOptions,
  runQualityGate,
} from "../guardrails/quality.js";
import { type LoadedPrompt, render } from "../prompts/loader.js";
import type { Receipt, SigningKey } from "../receipt/index.js";
import { actAndVerify } from "./act.js";
import { endRun, RunContext, type RunTiming, type RunTotals, signalsSummary, timedPorts } from "./context.js";
import type { ActionRunner, Escalation, PendingApproval, SignalsSource, TicketSink } from "./ports.js";
import { InputSanitizer, OutputRedactor } from "./sanitize.js";
import { type RunTarget, resolveRunTarget } from "./target.js";

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
  reporters: import("../contracts/events.js").RunReporter[];
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

const JudgeReplySchema = z.object({ grounded: z.boolean(), reason: z.string().default("") });

/** Renders an alert notification as plain text for prompts and the quality gate's evidence check. */
function alertText(alert: AlertmanagerWebhook | null): string {
  if (!alert) return "";
  return alert.alerts
    .map((a) =>
      [
        Object.entries(a.labels)
          .map(([k, v]) => `${k}=${v}`)
          .join(" "),
        ...Object.values(a.annotations),
      ].join("\n"),
    )
    .join("\n");
}

/**
 * The alert and the operator's note as the prompts get them: JSON (labels, annotations, status and
 * start of each alert, then the note). Untrusted data; `render` fences it.
 */
function alertJson(alert: AlertmanagerWebhook | null, note: string | null): string {
  return JSON.stringify({
    alerts: (alert?.alerts ?? []).map((a) => ({
      status: a.status,
      labels: a.labels,
      annotations: a.annotations,
      startsAt: a.startsAt ?? null,
    })),
    common_annotations: alert?.commonAnnotations ?? {},
    note,
  });
}

/**
 * Runs Backstop's guarded loop for one incident: triage → diagnose → validate → act or escalate →
 * record. Every stage is an event on the receipt and goes to every reporter as it happens.
 *
 * It never throws for an incident-level failure (tool error, model outage, gate failure, API failure
 * mid-action): each becomes events and an `escalated` (or `failed`) outcome. It throws only for
 * programming errors and a failure to sign the receipt.
 */
export async function runBackstop(input: RunInput, deps: PipelineDeps): Promise<RunResult> {
  const started = Date.now();
  const opts = deps.options ?? {};
  const ctx = new RunContext(input.runId, deps.reporters, deps.clock, undefined, input.cluster ?? null);
  deps = timedPorts(ctx, deps); // stage timings on the record (issue 11); behaviour unchanged
  const budget = new AnomalyBudget(deps.policy.anomaly);
  const actions: ActionRecord[] = [];
  let lastDiagnosis: Diagnosis | null = null;
  let candidate: ActionRecord | null = null;
  // Whether the candidate passed every policy rule (false: it fails only rules an approval may override).
  let candidateClean = false;
  let failedRules: string[] = [];

  // An alert that named a pod, an HPA or a Job: triage the workload that owns it (the worker has
  // usually resolved it already; `backstop run` has not).
  const resolved = await resolveRunTarget(input.target, deps.signals);
  if (resolved !== input.target) input = { ...input, target: resolved };
  const { namespace, workload } = input.target;
  // The input guardrail covers what a human typed too, before it reaches the receipt or the thread:
  // invisible characters stripped, then redacted, then bounded. The alert is covered the same way.
  const inputSide = new InputSanitizer();
  const out = new OutputRedactor();
  input = await ctx.measure("redaction", async () => ({
    ...input,
    note: await inputSide.note(input.note),
    alert: await inputSide.deep(input.alert),
  }));
  const alertname = input.alert?.commonLabels.alertname ?? input.alert?.alerts[0]?.labels.alertname ?? null;
  await ctx.emit("run.started", {
    run_id: input.runId,
    agent: "backstop",
    trigger: input.trigger,
    namespace,
    workload,
    alertname,
    scenario: input.scenario ?? null,
    note: input.note ?? null,
    judge:
      deps.judge === undefined ? "model" : deps.judge === alwaysGroundedJudge ? "always-grounded" : "custom",
  });

  const anomaly = async (kind: string, detail: string): Promise<boolean> => {
    const r = budget.record(kind, detail);
    await ctx.emit("breaker.anomaly", { kind, cost: r.cost, spent: r.spent, budget: r.budget, detail });
    if (r.tripped) {
      await ctx.emit("breaker.tripped", {
        reason: `anomaly budget spent (${r.spent}/${r.budget}) after ${kind}`,
        spent: r.spent,
        budget: r.budget,
        steps: budget.steps,
        max_steps: budget.maxSteps,
      });
    }
    return r.tripped;
  };

  const finish = async (
    outcome: RunOutcome,
    rawSummary: string,
    rawEscalation: Escalation | null,
  ): Promise<RunResult> => {
    // Summaries and escalation reasons quote model output and router errors: redacted before recording.
    const summary = await out.text(rawSummary);
    const escalation = rawEscalation
      ? { ...rawEscalation, reason: await out.text(rawEscalation.reason) }
      : null;
    await out.flush(ctx, escalation ? "escalation" : "summary");
    if (escalation) {
      let pending: PendingApproval | null = null;
      await ctx.emit(
        "escalation.opened",
        {
          reason: escalation.reason,
          proposed_action: escalation.proposedAction,
          context: {
            hypothesis: escalation.diagnosis?.hypothesis ?? null,
            failed_rules: escalation.failedRules,
          },
        },
        async () => {
          if (!opts.awaitApproval || !escalation.proposedAction) return;
          pending = {
            runId: input.runId,
            ...(input.cluster ? { cluster: input.cluster } : {}),
            target: input.target,
            reason: escalation.reason,
            proposedAction: escalation.proposedAction,
            hypothesis: escalation.diagnosis?.hypothesis ?? null,
            events: [...ctx.recorder.events()],
            totals: structuredClone(ctx.totals),
            startedAt: new Date(started).toISOString(),
            onset: Number.isNaN(input.onset.getTime()) ? null : input.onset.toISOString(),
          };
          // Persisted before any reporter shows the escalation, so a click can never find nothing.
          await opts.onPending?.(pending);
        },
      );
      if (pending) return endRun(ctx, { ...ending(outcome, summary, escalation), pending });
    }
    await fileTicket(ctx, deps.tickets, input, outcome, summary, lastDiagnosis, actions);
    return endRun(ctx, ending(outcome, summary, escalation));
  };
  const ending = (outcome: RunOutcome, summary: string, escalation: Escalation | null) => ({
    runId: input.runId,
    agent: "backstop" as const,
    outcome,
    summary,
    startedMs: started,
    signingKey: deps.signingKey,
    actions,
    escalation,
    diagnosis: lastDiagnosis,
  });
  const escalate = (reason: string) =>
    finish("escalated", `Escalated to a human: ${reason}`, {
      reason,
      proposedAction: candidate,
      diagnosis: lastDiagnosis,
      failedRules,
    });

  // 1. Triage: read-only signals through the infra MCP server, then the input guardrail.
  let signals: Signals;
  let namespaceLabels: Record<string, Record<string, string>>;
  const toolCalls: { tool: string; ms: number; ok: boolean; error?: string }[] = [];
  try {
    const t0 = Date.now();
    const raw = await deps.signals.getSignals(namespace, workload, opts.window ?? "15m");
    toolCalls.push({ tool: "get_signals", ms: Date.now() - t0, ok: true });
    const t1 = Date.now();
    const nss = await deps.signals.namespaces();
    toolCalls.push({ tool: "namespaces", ms: Date.now() - t1, ok: true });
    namespaceLabels = Object.fromEntries(nss.map((n) => [n.name, n.labels]));
    signals = await ctx.measure("redaction", () => inputSide.signals(raw));
    await ctx.emit("signals.gathered", signalsSummary(signals, toolCalls));
    await ctx.emit("redaction.applied", inputSide.event());
  } catch (err) {
    toolCalls.push({ tool: "get_signals", ms: 0, ok: false, error: errorMessage(err) });
    await ctx.emit("signals.gathered", {
      namespace,
      workload,
      pods: 0,
      unhealthy_pods: 0,
      revisions: 0,
      events: 0,
      log_lines: 0,
      tool_calls: toolCalls,
    });
    await anomaly("tool_error", errorMessage(err));
    return escalate(`could not gather signals for ${namespace}/${workload}: ${errorMessage(err)}`);
  }

  // The note goes to the model as context but is never evidence: anyone who can type a command could
  // otherwise write the quotes a diagnosis is checked against.
  const evidenceText = alertText(input.alert);
  // Prompts get the data as JSON, inside tags named with a per-render random boundary (`render`).
  const alertBody = alertJson(input.alert, input.note ?? null);
  // A router event can carry a provider's error text, which may echo the request or the reply.
  const routerEvent = async (e: RouterEvent): Promise<void> => {
    if (e.type === "model.call" && e.data.error !== null) {
      await ctx.emit("model.call", { ...e.data, error: await out.text(e.data.error) });
    } else await ctx.emit(e.type, e.data as never);
  };
  const modelJudge = async (j: { diagnosis: Diagnosis; signals: Signals; prompt: LoadedPrompt }) => {
    const rendered = render(j.prompt, {
      diagnosis: JSON.stringify(j.diagnosis, null, 2),
      signals: JSON.stringify(j.signals),
      alert: alertBody,
    });
    const res = await deps.router.complete({
      purpose: "judge",
      runId: input.runId,
      messages: [
        { role: "system", content: rendered.system },
        { role: "user", content: rendered.user },
      ],
      prompt: promptInfo(j.prompt),
      validate: (text) => {
        const p = parseJsonReply(text, JudgeReplySchema);
        return p.ok ? { ok: true } : { ok: false, error: p.error };
      },
      onEvent: routerEvent,
    });
    const parsed = parseJsonReply(res.text, JudgeReplySchema);
    // The judge's reply is redacted before anything of it is recorded (gate.quality, the thread).
    if (!parsed.ok) throw new BackstopError("judge.unparseable", await out.text(parsed.error));
    const reason = await out.text(parsed.value.reason);
    return { grounded: parsed.value.grounded, reason, model: res.servedModel };
  };
  const judge: JudgeFn = deps.judge ?? modelJudge;

  // 2-3. Diagnose and validate, re-routing to a stronger tier on a failed gate, within the budgets.
  let minTier = 1;
  let reroutes = 0;
  const maxReroutes = opts.maxReroutes ?? 2;
  for (;;) {
    const step = budget.step();
    if (step.exceeded) {
      await ctx.emit("breaker.tripped", {
        reason: `loop cap of ${step.max} steps reached`,
        spent: budget.spent,
        budget: budget.budget,
        steps: step.steps,
        max_steps: step.max,
      });
      return escalate(`loop cap of ${step.max} steps reached`);
    }

    let result: CompletionResult;
    const rendered = render(deps.prompts.diagnosis, { alert: alertBody, signals: JSON.stringify(signals) });
    try {
      result = await deps.router.complete({
        purpose: "diagnose",
        runId: input.runId,
        minTier,
        // A gateway passes X-TFY-METADATA to its guardrails: the quality-gate guardrail needs the onset.
        metadata: { onset: input.onset.toISOString() },
        messages: [
          { role: "system", content: rendered.system },
          { role: "user", content: rendered.user },
        ],
        prompt: promptInfo(deps.prompts.diagnosis),
        validate: (text) => {
          const p = parseDiagnosis(text);
          return p.ok ? { ok: true } : { ok: false, error: p.error };
        },
        onEvent: async (e) => {
          await routerEvent(e);
          if (e.type === "model.fallback") await anomaly("fallback", `${e.data.from}: ${e.data.reason}`);
        },
      });
    } catch (err) {
      if (isBackstopError(err, "gateway.budget_exhausted"))
        return escalate(`model budget exhausted: ${err.message}`);
      return escalate(`no model produced a diagnosis: ${errorMessage(err)}`);
    }
    if (budget.tripped) return escalate(budget.reason ?? "anomaly budget spent");

    // Both directions: the reply passes the same redactor before anything of it is recorded or used.
    // The parsed diagnosis is redacted (not the raw text, so a mask can never break its JSON); the raw
    // reply text itself is never recorded.
    const rawParsed = parseDiagnosis(result.text);
    const parsed = rawParsed.ok
      ? { ...rawParsed, diagnosis: await out.deep(rawParsed.diagnosis) }
      : { ...rawParsed, error: await out.text(rawParsed.error) };
    await out.flush(ctx, "diagnose");
    await ctx.emit("diagnosis.parsed", {
      model: result.servedModel,
      ok: parsed.ok,
      error: parsed.ok ? null : parsed.error,
      diagnosis: parsed.ok ? parsed.diagnosis : null,
      extraction: parsed.ok ? parsed.extraction : null,
    });
    if (!parsed.ok) {
      // The router validated the reply, so this is defensive: treat it as a failed gate.
      if (await anomaly("gate_failure", `unparseable diagnosis from ${result.servedModel}`)) {
        return escalate("anomaly budget spent");
      }
      minTier = result.target.tier + 1;
      continue;
    }
    const diagnosis = parsed.diagnosis;
    lastDiagnosis = diagnosis;

    const qualityStarted = performance.now();
    const quality = await runQualityGate(
      diagnosis,
      signals,
      { onset: input.onset, alertText: evidenceText, judge, prompt: deps.prompts.judge },
      opts.quality,
    );
    ctx.addTime("quality", performance.now() - qualityStarted);
    const canReroute = reroutes < maxReroutes && result.target.tier < deps.router.maxTier();
    const nextTier = result.target.tier + 1;
    // Whatever the verdict, remember the best action a human could approve: one the hard rules allow.
    rememberCandidate(diagnosis, signals, namespaceLabels);
    // The judge's verdict (reason, error) and rule details quote model output: redacted too.
    const judgeVerdict = await out.deep(quality.judge);
    const qualityRules = await out.deep(quality.rules);
    await out.flush(ctx, "judge");
    await ctx.emit("gate.quality", {
      passed: quality.passed,
      model: result.servedModel,
      rules: qualityRules,
      judge: judgeVerdict,
      reroute_to_tier: !quality.passed && canReroute ? nextTier : null,
    });
    if (!quality.passed) {
      failedRules = quality.rules.filter((r) => !r.passed).map((r) => r.rule);
      if (quality.judge && quality.judge.grounded !== true && !failedRules.includes("judge_grounded")) {
        failedRules.push("judge_grounded");
      }
      let tripped = await anomaly("gate_failure", `quality gate failed: ${failedRules.join(", ")}`);
      if (!tripped && quality.rules.some((r) => r.rule === "confidence" && !r.passed)) {
        tripped = await anomaly("low_confidence", `confidence ${diagnosis.confidence}`);
      }
      if (tripped)
        return escalate(`the diagnosis stayed ungrounded (${failedRules.join(", ")}); anomaly budget spent`);
      if (!canReroute)
        return escalate(
          `the diagnosis is ungrounded (${failedRules.join(", ")}) and no stronger model is left`,
        );
      reroutes += 1;
      minTier = nextTier;
      continue;
    }

    if (diagnosis.recommended_action.type === "none") {
      return finish("resolved", `No action needed: ${diagnosis.hypothesis}`, null);
    }

    const gateStarted = performance.now();
    const verdict = await runActionGate(diagnosis, signals, deps.policy, {
      namespaceLabels,
      onset: input.onset,
      dryRun: async (a) => {
        const r = await deps.actions.dryRun(a);
        await ctx.emit("action.dry_run", { action: a, ok: r.ok, error: r.error });
        return r;
      },
    });
    ctx.addTime("action_gate", performance.now() - gateStarted);
    await ctx.emit("gate.action", { passed: verdict.passed, action: verdict.action, rules: verdict.rules });
    if (!verdict.passed || !verdict.action) {
      failedRules = verdict.rules.filter((r) => !r.passed).map((r) => r.rule);
      const tripped = await anomaly("gate_failure", `action gate failed: ${failedRules.join(", ")}`);
      if (tripped)
        return escalate(`the proposed action was refused (${failedRules.join(", ")}); anomaly budget spent`);
      if (!canReroute) return escalate(`the proposed action was refused (${failedRules.join(", ")})`);
      reroutes += 1;
      minTier = nextTier;
      continue;
    }

    // 4. Act through the narrow write path, then verify recovery.
    const action = verdict.action;
    candidate = action;
    const acted = await actAndVerify(
      ctx,
      deps.actions,
      input.runId,
      action,
      opts.recoveryTimeoutMs ?? 120_000,
    );
    if (acted.ok || acted.stage !== "execute") actions.push(action);
    if (!acted.ok) {
      await anomaly("action_failure", acted.reason);
      return escalate(acted.reason);
    }
    return finish(
      "resolved",
      `${describeAction(action)}; ${acted.ready}/${acted.desired} ready. ${diagnosis.hypothesis}`,
      null,
    );
  }

  function rememberCandidate(d: Diagnosis, s: Signals, labels: Record<string, Record<string, string>>): void {
    if (d.recommended_action.type === "none") return;
    // Only an action the gate's policy rules accept (hard rules, an earlier healthy rollback target
    // resolved to its revision, a deploy inside the onset window, restart only when unhealthy) can be
    // put to a human; one that fails only an approvable rule (an older healthy rollback target) can too,
    // unless a clean one is already on hand.
    const { rules, action } = checkActionRules(d, s, deps.policy, {
      namespaceLabels: labels,
      onset: input.onset,
    });
    if (!action || action.namespace !== namespace || action.name !== workload) return;
    const failed = rules.filter((r) => !r.passed).map((r) => r.rule);
    const approvable = (id: string) => (APPROVABLE_RULES as readonly string[]).includes(id);
    if (failed.length === 0) {
      candidate = action;
      candidateClean = true;
    } else if (failed.every(approvable) && !candidateClean) {
      candidate = action;
    }
  }
}

function promptInfo(p: LoadedPrompt): { name: string; version: string; sha256: string } {
  return { name: p.name, version: p.version, sha256: p.sha256 };
}

/** `rollback shop/Deployment/checkout to 3f9c2a1`, for summaries and tickets. */
export function describeAction(a: ActionRecord): string {
  const ref = `${a.namespace}/${a.kind}/${a.name}`;
  if (a.type === "rollback") return `rollback ${ref} to ${a.to_sha ?? `revision ${a.to_revision}`}`;
  if (a.type === "scale") return `scale ${ref} to ${a.replicas}`;
  return `${a.type} ${ref}`;
}

export async function fileTicket(
  ctx: RunContext,
  tickets: TicketSink | undefined,
  input: RunInput,
  outcome: RunOutcome,
  summary: string,
  diagnosis: Diagnosis | null,
  actions: ActionRecord[],
): Promise<void> {
  if (!tickets) return;
  // The cluster leads the title and the body: the same namespace/workload exists in every cluster.
  const where = input.cluster ? `${input.cluster}/` : "";
  // What came from a model (summary, hypothesis) passes the redactor again, in full, before the title
  // cuts it: idempotent when the run already redacted it, and a safety net for any caller that did not.
  const out = new OutputRedactor();
  const safeSummary = await out.text(summary);
  const hypothesis = diagnosis ? await out.text(diagnosis.hypothesis) : null;
  await out.flush(ctx, "ticket");
  const body = [
    ...(input.cluster ? [`Cluster: ${input.cluster}`] : []),
    `Outcome: ${outcome}`,
    safeSummary,
    diagnosis ? `Hypothesis: ${hypothesis} (confidence ${diagnosis.confidence})` : "No grounded diagnosis.",
    actions.length > 0 ? `Actions: ${actions.map(describeAction).join("; ")}` : "Actions: none",
    `Receipt head: ${ctx.recorder.headHash()}`,
    `Run: ${input.runId}`,
  ].join("\n\n");
  try {
    const t = await tickets.createTicket({
      title: `[${outcome}] ${where}${input.target.namespace}/${input.target.workload}: ${hypothesis?.slice(0, 80) ?? "incident"}`,
      description: body,
      labels: ["backstop", outcome, ...(input.cluster ? [`cluster:${input.cluster}`] : [])],
    });
    await ctx.emit("ticket.filed", { id: t.id, url: t.url, tool: "create_issue" });
  } catch (err) {
    await ctx.emit("breaker.anomaly", {
      kind: "tool_error",
      cost: 0,
      spent: 0,
      budget: 0,
      detail: `ticket not filed: ${errorMessage(err)}`,
    });
  }
}
