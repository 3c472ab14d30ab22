import {
  type Context,
  context,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from "@opentelemetry/api";
import type { RunEvent, RunEventDataMap, RunReporter } from "../contracts/events.js";
import type { BackstopMetrics } from "./metrics.js";
import { type RunStage, stageOf, stageOfPurpose } from "./stages.js";
import { TRACER_NAME } from "./tracing.js";

/** Attribute keys on Backstop's own spans. */
export const ATTR = {
  runId: "backstop.run_id",
  stage: "backstop.stage",
  outcome: "backstop.outcome",
  trigger: "backstop.trigger",
  target: "backstop.model.target",
  purpose: "backstop.model.purpose",
} as const;

/** The open observers, by run id: the model router's spans find their run's stage here. */
const open = new Map<string, RunObserver>();

/** The observer of `runId` while its run is open in this process. */
export function observerOf(runId: string): RunObserver | undefined {
  return open.get(runId);
}

/** What one run is observed with: metrics (optional), a tracer, a clock (ms, monotonic). */
export interface ObserverDeps {
  metrics: BackstopMetrics | null;
  tracer: Tracer;
  now?: () => number;
}

function modelStatus(d: RunEventDataMap["model.call"]): string {
  if (d.ok) return "ok";
  if (d.error?.startsWith("invalid reply")) return "invalid_reply";
  if (d.status !== null) return String(d.status);
  return /time(d)?\s?out/i.test(d.error ?? "") ? "timeout" : "error";
}

/**
 * One run, seen from the outside: a {@link RunReporter} that turns the pipeline's typed events into
 * metrics and spans, without touching stage code. It opens a `backstop.run` span (child of the context
 * active when it is created, e.g. the worker's job span) and one `backstop.stage <name>` span per stage
 * as the run moves through triage → diagnose → validate → act / escalate → record, observing each
 * stage's duration in `backstop_stage_duration_seconds`. Model calls get their own GenAI spans from the
 * router ({@link startModelCallSpan}), parented on the current stage. `close()` ends what is open (a
 * run that waits for a human ends its spans here; the resumed run gets new ones).
 */
export class RunObserver implements RunReporter {
  private readonly tracer: Tracer;
  private readonly metrics: BackstopMetrics | null;
  private readonly now: () => number;
  private readonly runSpan: Span;
  private readonly runCtx: Context;
  private stage: { name: RunStage; started: number; span: Span; ctx: Context } | null = null;
  private trigger: string | null = null;
  /** The run's cluster, from the first event that names it (`run.started`, or `approval.decided` on resume). */
  private cluster: string | null = null;
  private closed = false;

  constructor(
    readonly runId: string,
    deps: ObserverDeps,
    parent: Context = context.active(),
  ) {
    this.tracer = deps.tracer;
    this.metrics = deps.metrics;
    this.now = deps.now ?? (() => performance.now());
    this.runSpan = this.tracer.startSpan("backstop.run", { attributes: { [ATTR.runId]: runId } }, parent);
    this.runCtx = trace.setSpan(parent, this.runSpan);
    open.set(runId, this);
  }

  /** The tracer this run's spans are made with (model call spans use it too). */
  tracerForCalls(): Tracer {
    return this.tracer;
  }

  /** The context of the current stage (or of the run before the first stage). */
  stageContext(): Context {
    return this.stage?.ctx ?? this.runCtx;
  }

  /** Moves the run to `name` (no-op when it is already there): ends the previous stage span and times it. */
  enterStage(name: RunStage): void {
    if (this.closed || this.stage?.name === name) return;
    this.endStage();
    const span = this.tracer.startSpan(
      `backstop.stage ${name}`,
      { attributes: { [ATTR.runId]: this.runId, [ATTR.stage]: name } },
      this.runCtx,
    );
    this.stage = { name, started: this.now(), span, ctx: trace.setSpan(this.runCtx, span) };
  }

  private endStage(): void {
    const s = this.stage;
    if (!s) return;
    this.stage = null;
    this.metrics?.stageDuration.observe({ stage: s.name }, Math.max(0, this.now() - s.started) / 1000);
    s.span.end();
  }

  emit(event: RunEvent): void {
    if (this.closed) return;
    const stage = stageOf(event);
    if (stage) this.enterStage(stage);
    const m = this.metrics;
    const span = this.stage?.span ?? this.runSpan;
    span.addEvent(event.type, { "backstop.seq": event.seq });
    const named = (event.data as { cluster?: unknown }).cluster;
    if (this.cluster === null && typeof named === "string") {
      this.cluster = named;
      this.runSpan.setAttribute("backstop.cluster", named);
    }
    const cluster = this.cluster ?? "unknown";
    switch (event.type) {
      case "run.started": {
        const d = event.data as RunEventDataMap["run.started"];
        this.trigger = d.trigger;
        this.runSpan.setAttribute(ATTR.trigger, d.trigger);
        this.runSpan.setAttribute("backstop.agent", d.agent);
        m?.runsStarted.inc({ trigger: d.trigger, cluster });
        break;
      }
      case "model.call": {
        const d = event.data as RunEventDataMap["model.call"];
        const labels = { target: d.target, purpose: d.purpose };
        m?.modelCalls.inc({ ...labels, status: modelStatus(d) });
        m?.modelCallDuration.observe(labels, d.latency_ms / 1000);
        if (d.tokens.input > 0) m?.tokens.inc({ target: d.target, type: "input" }, d.tokens.input);
        if (d.tokens.output > 0) m?.tokens.inc({ target: d.target, type: "output" }, d.tokens.output);
        if (d.cost_usd > 0) m?.costUsd.inc({ target: d.target }, d.cost_usd);
        break;
      }
      case "model.fallback": {
        const d = event.data as RunEventDataMap["model.fallback"];
        m?.fallbacks.inc({ from: d.from, to: d.to ?? "none", reason: d.reason });
        break;
      }
      case "redaction.applied": {
        const d = event.data as RunEventDataMap["redaction.applied"];
        for (const [type, n] of Object.entries(d.counts)) if (n > 0) m?.redactions.inc({ type }, n);
        break;
      }
      case "gate.quality":
      case "gate.action": {
        const gate = event.type === "gate.quality" ? "quality" : "action";
        const d = event.data as { passed: boolean; rules: { rule: string; passed: boolean }[] };
        for (const r of d.rules)
          m?.gateVerdicts.inc({ gate, rule: r.rule, result: r.passed ? "pass" : "fail" });
        m?.gateResults.inc({ gate, result: d.passed ? "pass" : "fail" });
        span.setAttribute(`backstop.gate.${gate}.passed`, d.passed);
        break;
      }
      case "breaker.anomaly":
        m?.anomalies.inc({ kind: (event.data as RunEventDataMap["breaker.anomaly"]).kind });
        break;
      case "breaker.tripped": {
        const reason = (event.data as RunEventDataMap["breaker.tripped"]).reason.startsWith("loop cap")
          ? "loop_cap"
          : "anomaly_budget";
        m?.breakerTrips.inc({ reason });
        break;
      }
      case "action.dry_run": {
        const d = event.data as RunEventDataMap["action.dry_run"];
        if (!d.ok) m?.actions.inc({ type: d.action.type, result: "dry_run_failed", cluster });
        break;
      }
      case "action.executed":
      case "action.failed": {
        const type = (event.data as RunEventDataMap["action.executed" | "action.failed"]).action.type;
        m?.actions.inc({ type, result: event.type === "action.executed" ? "executed" : "failed", cluster });
        break;
      }
      case "approval.decided":
        m?.approvals.inc({ decision: (event.data as RunEventDataMap["approval.decided"]).decision, cluster });
        break;
      case "run.finished": {
        const d = event.data as RunEventDataMap["run.finished"];
        m?.runs.inc({ trigger: this.trigger ?? "approval", outcome: d.outcome, cluster });
        m?.runDuration.observe({ outcome: d.outcome, cluster }, d.wall_ms / 1000);
        this.runSpan.setAttribute(ATTR.outcome, d.outcome);
        this.runSpan.setAttribute("backstop.cost_usd", d.cost_usd);
        if (d.outcome === "failed" || d.outcome === "damaged") {
          this.runSpan.setStatus({ code: SpanStatusCode.ERROR, message: d.outcome });
        }
        this.close();
        break;
      }
      default:
        break;
    }
  }

  /** Ends the open stage and the run span; safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.endStage();
    this.closed = true;
    this.runSpan.end();
    if (open.get(this.runId) === this) open.delete(this.runId);
  }
}

/** What a finished model call reports to its span (GenAI semantic conventions; never prompt or reply text). */
export interface ModelCallOutcome {
  ok: boolean;
  status: number | null;
  responseModel: string | null;
  inputTokens: number;
  outputTokens: number;
  finishReasons: string[];
  /** A short error class (`http_429`, `timeout`, `invalid_reply`, …), when it failed. */
  errorType: string | null;
}

/**
 * Starts the span of one model call, following the OpenTelemetry GenAI semantic conventions
 * (https://opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-spans/): name `chat {model}`, kind CLIENT,
 * `gen_ai.operation.name`, `gen_ai.provider.name` (`openai`: the OpenAI-compatible API), `gen_ai.request.model`,
 * `server.address`/`server.port`; {@link ModelCallSpan.end} adds `gen_ai.response.model`,
 * `gen_ai.usage.input_tokens`/`output_tokens`, `gen_ai.response.finish_reasons` and `error.type`. Prompt
 * and completion text are never recorded. When the run is observed in this process, the call also moves
 * it to its stage (diagnose, or validate for the judge) and the span is that stage's child.
 */
export function startModelCallSpan(call: {
  runId: string;
  purpose: string;
  target: string;
  model: string;
  baseURL: string;
  attempt: number;
}): ModelCallSpan {
  const observer = open.get(call.runId);
  observer?.enterStage(stageOfPurpose(call.purpose));
  const parent = observer?.stageContext() ?? context.active();
  const tracer = observer ? observer.tracerForCalls() : trace.getTracer(TRACER_NAME);
  let server: { address: string; port: number } | null = null;
  try {
    const u = new URL(call.baseURL);
    server = { address: u.hostname, port: u.port ? Number(u.port) : u.protocol === "https:" ? 443 : 80 };
  } catch {
    server = null;
  }
  const span = tracer.startSpan(
    `chat ${call.model}`,
    {
      kind: SpanKind.CLIENT,
      attributes: {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": call.model,
        [ATTR.runId]: call.runId,
        [ATTR.target]: call.target,
        [ATTR.purpose]: call.purpose,
        "backstop.model.attempt": call.attempt,
        ...(server ? { "server.address": server.address, "server.port": server.port } : {}),
      },
    },
    parent,
  );
  return new ModelCallSpan(span);
}

/** The span of one model call; end it once with what came back. */
export class ModelCallSpan {
  private ended = false;
  constructor(private readonly span: Span) {}

  /** Records the outcome and ends the span; later calls do nothing. */
  end(o: ModelCallOutcome): void {
    if (this.ended) return;
    this.ended = true;
    const s = this.span;
    if (o.responseModel) s.setAttribute("gen_ai.response.model", o.responseModel);
    s.setAttribute("gen_ai.usage.input_tokens", o.inputTokens);
    s.setAttribute("gen_ai.usage.output_tokens", o.outputTokens);
    if (o.finishReasons.length > 0) s.setAttribute("gen_ai.response.finish_reasons", o.finishReasons);
    if (o.status !== null) s.setAttribute("http.response.status_code", o.status);
    if (!o.ok) {
      s.setAttribute("error.type", o.errorType ?? "error");
      s.setStatus({ code: SpanStatusCode.ERROR, message: o.errorType ?? "error" });
    }
    s.end();
  }
}
