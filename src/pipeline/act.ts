import { idempotencyKey } from "../actions/write-path.js";
import type { Diagnosis } from "../contracts/diagnosis.js";
import type { ActionRecord } from "../contracts/events.js";
import { errorMessage, isBackstopError } from "../errors.js";
import type { RunContext } from "./context.js";
import type { ActionRunner } from "./ports.js";
import { describeAction, escalateRun, finishRun } from "./record.js";
import { type RunState, spendAnomaly } from "./state.js";
import type { RunResult } from "./types.js";

/** How an act-then-verify step ended. `reason` is a sentence for the escalation. */
export type ActOutcome =
  | { ok: true; ready: number; desired: number }
  | { ok: false; stage: "execute" | "recovery"; reason: string };

/**
 * Stage 4: executes one validated action through the narrow write path with the run's idempotency
 * key (default derived from the run and the action, so a retried job never acts twice), then watches the workload recover for `recoveryTimeoutMs`.
 * Emits `action.executed` or `action.failed`, then `recovery.verified`. Never throws for API failures.
 */
export async function actAndVerify(
  ctx: RunContext,
  runner: ActionRunner,
  runId: string,
  action: ActionRecord,
  recoveryTimeoutMs: number,
  key: string = idempotencyKey(runId, action),
): Promise<ActOutcome> {
  try {
    const res = await runner.execute(action, key);
    await ctx.emit("action.executed", { action, idempotency_key: key, revision: res.revision });
  } catch (err) {
    const status =
      isBackstopError(err) && typeof err.details?.status === "number" ? err.details.status : null;
    const changed = isBackstopError(err) && err.details?.changed === true;
    await ctx.emit("action.failed", { action, error: errorMessage(err), status, changed });
    return {
      ok: false,
      stage: "execute",
      reason: `${action.type} of ${action.namespace}/${action.name} failed (${errorMessage(err)}); ${changed ? "the workload changed" : "nothing was changed"}`,
    };
  }
  const recovery = await runner.waitForRecovery(action.namespace, action.name, {
    timeoutMs: recoveryTimeoutMs,
  });
  await ctx.emit("recovery.verified", {
    ok: recovery.ok,
    workload: `${action.namespace}/${action.kind}/${action.name}`,
    ready: recovery.ready,
    desired: recovery.desired,
    waited_ms: recovery.waited_ms,
  });
  if (!recovery.ok) {
    return {
      ok: false,
      stage: "recovery",
      reason: `${action.namespace}/${action.name} did not recover after ${action.type} (${recovery.ready}/${recovery.desired} ready)`,
    };
  }
  return { ok: true, ready: recovery.ready, desired: recovery.desired };
}

/**
 * Stage 4 of `runBackstop`: makes the validated `action` the run's candidate, acts and verifies
 * recovery (see {@link actAndVerify}), and ends the run: `resolved` with the action and the ready
 * count, or escalated (an `action_failure` anomaly) when the write or the recovery failed. An action
 * that reached the cluster is on the result's `actions` either way.
 */
export async function actStage(
  state: RunState,
  action: ActionRecord,
  diagnosis: Diagnosis,
): Promise<RunResult> {
  state.candidate = action;
  const acted = await actAndVerify(
    state.ctx,
    state.deps.actions,
    state.input.runId,
    action,
    state.opts.recoveryTimeoutMs ?? 120_000,
  );
  if (acted.ok || acted.stage !== "execute") state.actions.push(action);
  if (!acted.ok) {
    await spendAnomaly(state, "action_failure", acted.reason);
    return escalateRun(state, acted.reason);
  }
  return finishRun(
    state,
    "resolved",
    `${describeAction(action)}; ${acted.ready}/${acted.desired} ready. ${diagnosis.hypothesis}`,
    null,
  );
}
