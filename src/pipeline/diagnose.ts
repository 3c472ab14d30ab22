import { z } from "zod";
import type { AlertmanagerWebhook } from "../contracts/alertmanager.js";
import type { Diagnosis } from "../contracts/diagnosis.js";
import type { Signals } from "../contracts/signals.js";
import { BackstopError, errorMessage, isBackstopError } from "../errors.js";
import type { ChatCompletionMessageParam, CompletionResult, RouterEvent } from "../gateway/router.js";
import { parseDiagnosis, parseJsonReply } from "../guardrails/extract.js";
import type { JudgeFn } from "../guardrails/quality.js";
import { type LoadedPrompt, render } from "../prompts/loader.js";
import { escalateRun } from "./record.js";
import { type RunState, type StageDone, spendAnomaly } from "./state.js";

const JudgeReplySchema = z.object({ grounded: z.boolean(), reason: z.string().default("") });

/**
 * What the model-facing stages share for one run: the alert as prompt JSON (`alertBody`), the alert as
 * plain evidence text for the quality gate (`evidenceText`; the operator's note is never evidence),
 * the router event sink that redacts provider errors, and the quality gate's judge.
 */
export interface ModelIO {
  alertBody: string;
  evidenceText: string;
  routerEvent: (e: RouterEvent) => Promise<void>;
  judge: JudgeFn;
}

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

/** A rendered prompt as Chat Completions messages: its system part, then its user part. */
function chatMessages(rendered: { system: string; user: string }): ChatCompletionMessageParam[] {
  return [
    { role: "system", content: rendered.system },
    { role: "user", content: rendered.user },
  ];
}

/** The prompt's identity as the router records it on `model.call`. */
function promptInfo(p: LoadedPrompt): { name: string; version: string; sha256: string } {
  return { name: p.name, version: p.version, sha256: p.sha256 };
}

/**
 * Builds the run's {@link ModelIO}. The judge is `deps.judge` when given, otherwise the router's judge
 * model: its reply must parse as `{ grounded, reason }` (else `BackstopError("judge.unparseable")`),
 * and its reason is redacted before anything of it is recorded.
 */
export function modelIO(state: RunState): ModelIO {
  const { ctx, out, input, deps } = state;
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
      messages: chatMessages(rendered),
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
  return { alertBody, evidenceText, routerEvent, judge: deps.judge ?? modelJudge };
}

/** A parsed, redacted diagnosis and the completion it came from. */
export interface Diagnosed {
  diagnosis: Diagnosis;
  result: CompletionResult;
}

/**
 * Stage 2, diagnose: one diagnosis call through the router at `minTier` or above (fallbacks are
 * `fallback` anomalies), the reply parsed and redacted, `diagnosis.parsed` emitted. Returns the
 * diagnosis, `{ retryTier }` when the reply did not parse (a `gate_failure` anomaly; the router
 * validated it, so this is defensive), or `{ done }` when the run escalated (no model, model budget
 * exhausted, anomaly budget spent).
 */
export async function diagnose(
  state: RunState,
  signals: Signals,
  io: ModelIO,
  minTier: number,
): Promise<Diagnosed | StageDone | { retryTier: number }> {
  const { ctx, out, input, deps, budget } = state;
  let result: CompletionResult;
  const rendered = render(deps.prompts.diagnosis, { alert: io.alertBody, signals: JSON.stringify(signals) });
  try {
    result = await deps.router.complete({
      purpose: "diagnose",
      runId: input.runId,
      minTier,
      // A gateway passes X-TFY-METADATA to its guardrails: the quality-gate guardrail needs the onset.
      metadata: { onset: input.onset.toISOString() },
      messages: chatMessages(rendered),
      prompt: promptInfo(deps.prompts.diagnosis),
      validate: (text) => {
        const p = parseDiagnosis(text);
        return p.ok ? { ok: true } : { ok: false, error: p.error };
      },
      onEvent: async (e) => {
        await io.routerEvent(e);
        if (e.type === "model.fallback")
          await spendAnomaly(state, "fallback", `${e.data.from}: ${e.data.reason}`);
      },
    });
  } catch (err) {
    if (isBackstopError(err, "gateway.budget_exhausted"))
      return { done: await escalateRun(state, `model budget exhausted: ${err.message}`) };
    return { done: await escalateRun(state, `no model produced a diagnosis: ${errorMessage(err)}`) };
  }
  if (budget.tripped) return { done: await escalateRun(state, budget.reason ?? "anomaly budget spent") };

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
    if (await spendAnomaly(state, "gate_failure", `unparseable diagnosis from ${result.servedModel}`)) {
      return { done: await escalateRun(state, "anomaly budget spent") };
    }
    return { retryTier: result.target.tier + 1 };
  }
  state.lastDiagnosis = parsed.diagnosis;
  return { diagnosis: parsed.diagnosis, result };
}
