import type { Signals } from "../contracts/signals.js";
import { errorMessage } from "../errors.js";
import { AnomalyBudget } from "../guardrails/anomaly.js";
import { alwaysGroundedJudge } from "../guardrails/quality.js";
import { RunContext, signalsSummary, timedPorts } from "./context.js";
import { escalateRun } from "./record.js";
import { InputSanitizer, OutputRedactor } from "./sanitize.js";
import { type RunState, type StageDone, spendAnomaly } from "./state.js";
import { resolveRunTarget } from "./target.js";
import type { PipelineDeps, RunInput } from "./types.js";

/** What triage hands the later stages: the redacted signals and every namespace's labels. */
export interface Triaged {
  signals: Signals;
  namespaceLabels: Record<string, Record<string, string>>;
}

/**
 * Opens a run: its context (hash chain, reporters, cluster stamp), timed ports, anomaly budget and
 * redactors; resolves an alert that named a pod, an HPA or a Job to the workload that owns it; passes
 * the note and the alert through the input guardrail (invisible characters stripped, redacted,
 * bounded); emits `run.started`. Errors of `resolveRunTarget` propagate (programming/input errors).
 */
export async function startRun(rawInput: RunInput, rawDeps: PipelineDeps): Promise<RunState> {
  const startedMs = Date.now();
  const ctx = new RunContext(
    rawInput.runId,
    rawDeps.reporters,
    rawDeps.clock,
    undefined,
    rawInput.cluster ?? null,
  );
  const deps = timedPorts(ctx, rawDeps); // stage timings on the record (issue 11); behaviour unchanged
  let input = rawInput;
  // An alert that named a pod, an HPA or a Job: triage the workload that owns it (the worker has
  // usually resolved it already; `backstop run` has not).
  const resolved = await resolveRunTarget(input.target, deps.signals);
  if (resolved !== input.target) input = { ...input, target: resolved };
  // The input guardrail covers what a human typed too, before it reaches the receipt or the thread:
  // invisible characters stripped, then redacted, then bounded. The alert is covered the same way.
  const inputSide = new InputSanitizer();
  const current = input;
  input = await ctx.measure("redaction", async () => ({
    ...current,
    note: await inputSide.note(current.note),
    alert: await inputSide.deep(current.alert),
  }));
  const alertname = input.alert?.commonLabels.alertname ?? input.alert?.alerts[0]?.labels.alertname ?? null;
  await ctx.emit("run.started", {
    run_id: input.runId,
    agent: "backstop",
    trigger: input.trigger,
    namespace: input.target.namespace,
    workload: input.target.workload,
    alertname,
    scenario: input.scenario ?? null,
    note: input.note ?? null,
    judge:
      deps.judge === undefined ? "model" : deps.judge === alwaysGroundedJudge ? "always-grounded" : "custom",
  });
  return {
    input,
    deps,
    opts: deps.options ?? {},
    ctx,
    budget: new AnomalyBudget(deps.policy.anomaly),
    inputSide,
    out: new OutputRedactor(),
    startedMs,
    actions: [],
    lastDiagnosis: null,
    candidate: null,
    candidateClean: false,
    failedRules: [],
  };
}

/**
 * Stage 1, triage: read-only signals through the infra MCP server (`get_signals`, `namespaces`), then
 * the input guardrail over them; emits `signals.gathered` and `redaction.applied`. A tool error is a
 * `tool_error` anomaly and ends the run escalated (`{ done }`).
 */
export async function triage(state: RunState): Promise<Triaged | StageDone> {
  const { ctx, deps, opts, inputSide } = state;
  const { namespace, workload } = state.input.target;
  const toolCalls: { tool: string; ms: number; ok: boolean; error?: string }[] = [];
  try {
    const t0 = Date.now();
    const raw = await deps.signals.getSignals(namespace, workload, opts.window ?? "15m");
    toolCalls.push({ tool: "get_signals", ms: Date.now() - t0, ok: true });
    const t1 = Date.now();
    const nss = await deps.signals.namespaces();
    toolCalls.push({ tool: "namespaces", ms: Date.now() - t1, ok: true });
    const namespaceLabels = Object.fromEntries(nss.map((n) => [n.name, n.labels]));
    const signals = await ctx.measure("redaction", () => inputSide.signals(raw));
    await ctx.emit("signals.gathered", signalsSummary(signals, toolCalls));
    await ctx.emit("redaction.applied", inputSide.event());
    return { signals, namespaceLabels };
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
    await spendAnomaly(state, "tool_error", errorMessage(err));
    return {
      done: await escalateRun(
        state,
        `could not gather signals for ${namespace}/${workload}: ${errorMessage(err)}`,
      ),
    };
  }
}
