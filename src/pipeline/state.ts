import type { Diagnosis } from "../contracts/diagnosis.js";
import type { ActionRecord } from "../contracts/events.js";
import type { AnomalyBudget } from "../guardrails/anomaly.js";
import type { RunContext } from "./context.js";
import type { InputSanitizer, OutputRedactor } from "./sanitize.js";
import type { PipelineDeps, PipelineOptions, RunInput, RunResult } from "./types.js";

/**
 * The state one `runBackstop` call threads through its stages (triage, diagnose, validate, act,
 * record). `input` is the resolved, sanitized input; `deps` the timed ports (see `timedPorts`);
 * `startedMs` is `Date.now()` at the start of the run. The mutable fields are what the record stage
 * reports: actions taken, the last parsed diagnosis, the best action a human could approve
 * (`candidate`, `candidateClean` when it passed every policy rule) and the rules that failed last.
 */
export interface RunState {
  readonly input: RunInput;
  readonly deps: PipelineDeps;
  readonly opts: PipelineOptions;
  readonly ctx: RunContext;
  readonly budget: AnomalyBudget;
  readonly inputSide: InputSanitizer;
  readonly out: OutputRedactor;
  readonly startedMs: number;
  actions: ActionRecord[];
  lastDiagnosis: Diagnosis | null;
  candidate: ActionRecord | null;
  candidateClean: boolean;
  failedRules: string[];
}

/** A stage's answer when the run is over: the finished (or pending) result. */
export interface StageDone {
  done: RunResult;
}

/**
 * Spends `kind` from the run's anomaly budget and records `breaker.anomaly` (and `breaker.tripped`
 * when the budget is spent). Returns true when the budget tripped.
 */
export async function spendAnomaly(state: RunState, kind: string, detail: string): Promise<boolean> {
  const { budget, ctx } = state;
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
}
