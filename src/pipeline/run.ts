import { actStage } from "./act.js";
import { diagnose, modelIO } from "./diagnose.js";
import { escalateRun } from "./record.js";
import { startRun, triage } from "./triage.js";
import type { PipelineDeps, RunInput, RunResult } from "./types.js";
import { validate } from "./validate.js";

export { describeAction, fileTicket } from "./record.js";
export type { PipelineDeps, PipelineOptions, RunInput, RunResult } from "./types.js";

/**
 * Runs Backstop's guarded loop for one incident: triage → diagnose → validate → act or escalate →
 * record. Every stage is an event on the receipt and goes to every reporter as it happens. Each stage
 * is its own module (`triage.ts`, `diagnose.ts`, `validate.ts`, `act.ts`, `record.ts`) over a shared
 * `RunState` (`state.ts`); this function is the loop that re-routes a failed gate to a
 * stronger tier within the budgets (`maxReroutes`, default 2; the anomaly budget's step cap).
 *
 * It never throws for an incident-level failure (tool error, model outage, gate failure, API failure
 * mid-action): each becomes events and an `escalated` (or `failed`) outcome. It throws only for
 * programming errors and a failure to sign the receipt.
 */
export async function runBackstop(input: RunInput, deps: PipelineDeps): Promise<RunResult> {
  const state = await startRun(input, deps);
  // 1. Triage: read-only signals through the infra MCP server, then the input guardrail.
  const triaged = await triage(state);
  if ("done" in triaged) return triaged.done;
  const io = modelIO(state);

  // 2-3. Diagnose and validate, re-routing to a stronger tier on a failed gate, within the budgets.
  let minTier = 1;
  let reroutes = 0;
  const maxReroutes = state.opts.maxReroutes ?? 2;
  for (;;) {
    const step = state.budget.step();
    if (step.exceeded) {
      await state.ctx.emit("breaker.tripped", {
        reason: `loop cap of ${step.max} steps reached`,
        spent: state.budget.spent,
        budget: state.budget.budget,
        steps: step.steps,
        max_steps: step.max,
      });
      return escalateRun(state, `loop cap of ${step.max} steps reached`);
    }
    const diagnosed = await diagnose(state, triaged.signals, io, minTier);
    if ("done" in diagnosed) return diagnosed.done;
    if ("retryTier" in diagnosed) {
      minTier = diagnosed.retryTier;
      continue;
    }
    const tier = diagnosed.result.target.tier;
    const canReroute = reroutes < maxReroutes && tier < state.deps.router.maxTier();
    const validated = await validate(state, triaged, io, diagnosed, canReroute);
    if ("done" in validated) return validated.done;
    if ("reroute" in validated) {
      reroutes += 1;
      minTier = tier + 1;
      continue;
    }
    // 4-5. Act through the narrow write path, verify recovery, record.
    return actStage(state, validated.action, diagnosed.diagnosis);
  }
}
