import type { Diagnosis } from "../../src/contracts/diagnosis.js";
import type { ActionRecord, RunReporter } from "../../src/contracts/events.js";
import { errorMessage } from "../../src/errors.js";
import type { ModelRouter } from "../../src/gateway/router.js";
import { extractFirstJsonObject } from "../../src/guardrails/extract.js";
import { endRun, RunContext, signalsSummary } from "../../src/pipeline/context.js";
import type { ActionRunner, SignalsSource } from "../../src/pipeline/ports.js";
import type { RunInput, RunResult } from "../../src/pipeline/run.js";
import { type LoadedPrompt, render } from "../../src/prompts/loader.js";
import type { SigningKey } from "../../src/receipt/index.js";

/** The naive agent's hands: every tool, the admin credential (see `sandbox/naive/tools.ts`). */
export interface NaiveHands {
  rollback(a: {
    namespace: string;
    kind: string;
    name: string;
    to_sha?: string;
    scope?: string;
  }): Promise<ActionRecord[]>;
  restart(a: { namespace: string; kind: string; name: string }): Promise<ActionRecord[]>;
  scale(a: { namespace: string; kind: string; name: string; replicas: number }): Promise<ActionRecord[]>;
  delete(a: { namespace: string; kind: string; name: string }): Promise<ActionRecord[]>;
}

/** What the naive agent runs over: one model (no fallback), signals as the server sends them, every tool. */
export interface NaiveDeps {
  signals: SignalsSource;
  /** A router holding exactly one target, with retries off: the naive agent has one model. */
  router: Pick<ModelRouter, "complete">;
  hands: NaiveHands;
  /** Read-only recovery watch, to tell whether its action fixed the target. */
  watch: Pick<ActionRunner, "waitForRecovery">;
  prompt: LoadedPrompt;
  reporters: RunReporter[];
  signingKey: SigningKey;
  recoveryTimeoutMs?: number;
}

/**
 * The naive baseline: one model, every tool, no gates, the admin token. It sends the signals as
 * mcp-infra returns them (the server redacts them; the naive pipeline adds no redaction of its own,
 * not of the alert nor of the reply), takes the first JSON object of the reply at face value (no schema), and executes the recommended action literally,
 * `scope: all` included. It exists only to show in the sandbox what Backstop prevents; the tools
 * refuse any cluster but the sandbox. Outcome: `failed` when the model or an API call fails,
 * `resolved` when the target recovers, else `failed`; the harness marks blast radius as `damaged`.
 */
export async function runNaive(input: RunInput, deps: NaiveDeps): Promise<RunResult> {
  const started = Date.now();
  const ctx = new RunContext(input.runId, deps.reporters);
  const actions: ActionRecord[] = [];
  let diagnosis: Diagnosis | null = null;
  const { namespace, workload } = input.target;
  await ctx.emit("run.started", {
    run_id: input.runId,
    agent: "naive",
    trigger: input.trigger,
    namespace,
    workload,
    alertname: input.alert?.commonLabels.alertname ?? input.alert?.alerts[0]?.labels.alertname ?? null,
    scenario: input.scenario ?? null,
    note: input.note ?? null,
  });

  const done = (outcome: "resolved" | "failed", summary: string): Promise<RunResult> =>
    endRun(ctx, {
      runId: input.runId,
      agent: "naive",
      outcome,
      summary,
      startedMs: started,
      signingKey: deps.signingKey,
      actions,
      escalation: null,
      diagnosis,
    });

  try {
    const signals = await deps.signals.getSignals(namespace, workload, "15m");
    await ctx.emit("signals.gathered", signalsSummary(signals, [{ tool: "get_signals", ms: 0, ok: true }]));
    const rendered = render(deps.prompt, {
      alert: JSON.stringify(input.alert),
      signals: JSON.stringify(signals),
    });
    const reply = await deps.router.complete({
      purpose: "diagnose",
      runId: input.runId,
      messages: [
        { role: "system", content: rendered.system },
        { role: "user", content: rendered.user },
      ],
      onEvent: (e) => ctx.emit(e.type, e.data as never).then(() => undefined),
    });
    // It finds the JSON in the reply, then trusts it: no schema, no gate.
    const found = extractFirstJsonObject(reply.text);
    if (!found) throw new Error("no JSON object in the model's reply");
    diagnosis = found.value as Diagnosis;
    await ctx.emit("diagnosis.parsed", {
      model: reply.servedModel,
      ok: true,
      error: null,
      diagnosis,
      extraction: "plain",
    });
  } catch (err) {
    return done("failed", `The naive agent crashed before acting: ${errorMessage(err)}`);
  }

  const a = diagnosis.recommended_action;
  try {
    const performed =
      a.type === "rollback"
        ? await deps.hands.rollback(a)
        : a.type === "restart"
          ? await deps.hands.restart(a)
          : a.type === "scale"
            ? await deps.hands.scale({ ...a, replicas: a.replicas ?? 0 })
            : [];
    for (const record of performed) {
      actions.push(record);
      await ctx.emit("action.executed", { action: record, idempotency_key: "", revision: null });
    }
  } catch (err) {
    const record: ActionRecord = {
      type: a.type === "none" ? "restart" : a.type,
      namespace: a.namespace,
      kind: a.kind,
      name: a.name,
    };
    await ctx.emit("action.failed", {
      action: record,
      error: errorMessage(err),
      status: null,
      changed: actions.length > 0,
    });
    return done("failed", `The naive agent crashed mid-action: ${errorMessage(err)}`);
  }
  const recovery = await deps.watch.waitForRecovery(namespace, workload, {
    timeoutMs: deps.recoveryTimeoutMs ?? 30_000,
  });
  await ctx.emit("recovery.verified", {
    ok: recovery.ok,
    workload: `${namespace}/${workload}`,
    ready: recovery.ready,
    desired: recovery.desired,
    waited_ms: recovery.waited_ms,
  });
  return recovery.ok
    ? done("resolved", `${namespace}/${workload} recovered after ${actions.length} action(s)`)
    : done(
        "failed",
        `${namespace}/${workload} did not recover (${recovery.ready}/${recovery.desired} ready)`,
      );
}
