import type { ModelStep, Scenario } from "../../scenarios/schema.js";
import { errorShape, formatReply } from "./reply.js";

/**
 * Scripting for the sandbox model provider: which step of `models.script[model][purpose]` the n-th call for
 * one (`run_id`, model, `purpose`) gets, and what that step answers. Past the end of a script, `diagnose`
 * answers `truth` and `judge` answers `ungrounded` (fail-closed: no sandbox judge ever compares a diagnosis
 * with the scenario's ground truth, which no real model could).
 */

/** What one scripted step answers: an HTTP error, or a reply text. `delayMs` is the scripted latency (ms). */
export type Outcome =
  | { kind: "error"; status: number; message: string; retryAfterS: number | undefined; delayMs: number }
  | {
      kind: "ok";
      text: string;
      finish: "stop" | "length";
      usage: { prompt_tokens: number; completion_tokens: number } | undefined;
      delayMs: number;
    };

/** The reason of the fail-closed answer to a judge call the scenario did not script. */
export const UNSCRIPTED_JUDGE_REASON =
  "sandbox: no judge reply is scripted for this call; an unscripted judge answers ungrounded (fail-closed)";

/** The JSON text a reply kind stands for, or an error message when the scenario lacks what it names. */
function replyJson(
  scenario: Scenario,
  step: ModelStep,
  reply: Exclude<ModelStep["reply"], "raw" | undefined>,
) {
  switch (reply) {
    case "truth":
      return { json: JSON.stringify(scenario.truth.diagnosis, null, 2) };
    case "wrong":
    case "diagnosis": {
      const d = reply === "wrong" ? scenario.wrong : step.diagnosis;
      if (!d) {
        const missing = reply === "wrong" ? "`wrong`" : "inline `diagnosis`";
        return { error: `sandbox: scenario scripts reply "${reply}" but has no ${missing}` };
      }
      return { json: JSON.stringify(d, null, 2) };
    }
    case "grounded":
      return {
        json: JSON.stringify({
          grounded: true,
          reason: step.reason ?? "the diagnosis is supported by the signals",
        }),
      };
    case "ungrounded":
      return {
        json: JSON.stringify({
          grounded: false,
          reason:
            step.reason ??
            (step.reply === undefined
              ? UNSCRIPTED_JUDGE_REASON
              : "the diagnosis is not supported by the signals"),
        }),
      };
  }
}

/**
 * Decides what one scripted step answers. The judge never reads the ground truth: it answers what
 * its step says (`grounded` / `ungrounded`, or any other reply kind), nothing else.
 */
export function stepOutcome(scenario: Scenario, step: ModelStep, purpose: string): Outcome {
  const delayMs = step.delay_ms ?? 0;
  if (step.status !== undefined) {
    return {
      kind: "error",
      status: step.status,
      message: step.message ?? errorShape(step.status).message,
      retryAfterS: step.retry_after_s,
      delayMs,
    };
  }
  const reply = step.reply ?? (purpose === "judge" ? "ungrounded" : "truth");
  if (reply === "raw") {
    return { kind: "ok", text: step.text ?? "", finish: "stop", usage: step.usage, delayMs };
  }
  const r = replyJson(scenario, step, reply);
  if (r.json === undefined) {
    return { kind: "error", status: 500, message: r.error, retryAfterS: undefined, delayMs };
  }
  return {
    kind: "ok",
    text: formatReply(r.json, step.format),
    finish: step.format === "truncated" ? "length" : "stop",
    usage: step.usage,
    delayMs,
  };
}

/** The scripted latency (`latency_ms`, ms) of a model named in the scenario's chain or judge; 0 otherwise. */
export function modelLatencyMs(scenario: Scenario, model: string): number {
  const t = [...scenario.models.chain, scenario.models.judge].find((x) => x.model === model);
  return t?.latency_ms ?? 0;
}

/** Per-(run, model, purpose) call counters over a scenario's script, and the models seen so far. */
export class ScriptCursor {
  scenario: Scenario;
  private readonly counters = new Map<string, number>();
  private readonly seen = new Set<string>();

  constructor(scenario: Scenario) {
    this.scenario = scenario;
  }

  private steps(model: string, purpose: string): ModelStep[] {
    return this.scenario.models.script[model]?.[purpose === "judge" ? "judge" : "diagnose"] ?? [];
  }

  /** True when every scripted step for (`runId`, `model`, `purpose`) has been used. */
  usedUp(runId: string, model: string, purpose: string): boolean {
    const n = this.counters.get(JSON.stringify([runId, model, purpose])) ?? 0;
    return n >= this.steps(model, purpose).length;
  }

  /** The next step for (`runId`, `model`, `purpose`), advancing its counter; the default step past the end. */
  next(runId: string, model: string, purpose: string): ModelStep {
    const key = JSON.stringify([runId, model, purpose]);
    const n = this.counters.get(key) ?? 0;
    this.counters.set(key, n + 1);
    return (
      this.steps(model, purpose)[n] ??
      (purpose === "judge" ? { format: "plain" } : { reply: "truth", format: "plain" })
    );
  }

  /** Notes a requested model (it is listed by `GET /v1/models` from then on). */
  see(model: string): void {
    this.seen.add(model);
  }

  /** Every model of the scenario's chain, judge and script, the `extra` names, and every model requested. */
  models(extra: string[]): string[] {
    const names = new Set<string>();
    for (const t of this.scenario.models.chain) names.add(t.model);
    names.add(this.scenario.models.judge.model);
    for (const m of Object.keys(this.scenario.models.script)) names.add(m);
    for (const m of extra) names.add(m);
    for (const m of this.seen) names.add(m);
    return [...names];
  }

  /** Swaps the scenario and forgets every counter and seen model. */
  reset(scenario: Scenario): void {
    this.scenario = scenario;
    this.counters.clear();
    this.seen.clear();
  }
}
