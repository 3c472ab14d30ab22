import {
  type CircuitBreakerPolicy,
  CircuitState,
  ConsecutiveBreaker,
  circuitBreaker,
  DelegateBackoff,
  handleWhen,
  type IRetryBackoffContext,
  retry,
  TimeoutStrategy,
  timeout,
} from "cockatiel";
import OpenAI, { APIError } from "openai";
import { BackstopError } from "../errors.js";
import { backstopFetch } from "../http.js";
import { childLogger } from "../log.js";
import { startModelCallSpan } from "../observability/observer.js";
import { assertBudget, costUsd } from "./cost.js";
import { classify, InvalidReplyError, LocalRateLimitError, retryDelayMs } from "./failures.js";
import { type BudgetStore, utcDay } from "./store.js";
import type {
  CompletionRequest,
  CompletionResult,
  ModelTarget,
  RouterEvent,
  RouterOptions,
} from "./types.js";

const log = childLogger("gateway");

/**
 * One-call execution for the router: per target an OpenAI client (`maxRetries: 0`, the target's
 * timeout and headers) and a cockatiel circuit breaker (`breakerThreshold` consecutive target faults
 * open it; see `classify`), and the HTTP attempt itself: budget and rpm checks, the request with the
 * `X-TFY-*` headers, latency sample, spend, the caller's `validate`, a GenAI span and a `model.call`
 * event. Clients and breakers live as long as the router.
 */
export class TargetCaller {
  private readonly clients = new Map<string, OpenAI>();
  private readonly breakers = new Map<string, CircuitBreakerPolicy>();

  constructor(
    private readonly opts: RouterOptions,
    private readonly store: BudgetStore,
    private readonly now: () => number,
  ) {}

  /**
   * Drops `name`'s breaker when it is still open by its own clock: the store is authoritative, so a
   * target whose store cooldown ended (an injected clock, an operator clearing it) starts afresh.
   */
  resetOpenBreaker(name: string): void {
    if (this.breakers.get(name)?.state === CircuitState.Open) this.breakers.delete(name);
  }

  private client(target: ModelTarget): OpenAI {
    let c = this.clients.get(target.name);
    if (!c) {
      c = new OpenAI({
        apiKey: target.apiKey,
        baseURL: target.baseURL,
        maxRetries: 0,
        timeout: target.timeoutMs,
        fetch: backstopFetch(),
        ...(target.headers ? { defaultHeaders: target.headers } : {}),
      });
      this.clients.set(target.name, c);
    }
    return c;
  }

  private breaker(target: ModelTarget): CircuitBreakerPolicy {
    let b = this.breakers.get(target.name);
    if (!b) {
      b = circuitBreaker(
        handleWhen((e) => classify(e, false).targetFault),
        {
          halfOpenAfter: this.opts.cooldownMs ?? 300_000,
          breaker: new ConsecutiveBreaker(this.opts.breakerThreshold ?? 1),
        },
      );
      this.breakers.set(target.name, b);
    }
    return b;
  }

  /**
   * Calls one target with `plan.retries` retries (cockatiel; delays from {@link retryDelayMs}), inside
   * its breaker and a timeout backstop; cools it down in the store for `cooldownMs` when the breaker
   * opens. Every HTTP request emits `model.call` and bumps `counter.attempts`. Errors of the last
   * attempt propagate unchanged (the router classifies them).
   */
  async tryTarget(
    target: ModelTarget,
    req: CompletionRequest,
    emit: (e: RouterEvent) => Promise<void>,
    counter: { attempts: number },
    plan: { retries: number; route: { why: string; ewma_ms: number | null } },
  ): Promise<CompletionResult> {
    const baseMs = this.opts.backoffBaseMs ?? 250;
    const capMs = this.opts.maxRetryAfterMs ?? 10_000;
    const retryPolicy = retry(
      handleWhen((e) => classify(e, req.signal?.aborted === true).retryable),
      {
        maxAttempts: plan.retries,
        backoff: new DelegateBackoff((ctx: IRetryBackoffContext<unknown>) =>
          retryDelayMs(
            "error" in ctx.result ? ctx.result.error : undefined,
            ctx.attempt,
            baseMs,
            capMs,
            this.now(),
          ),
        ),
      },
    );
    // A backstop over the openai client's own timeout, which normally fires first.
    const timeoutPolicy = timeout(target.timeoutMs + 1000, TimeoutStrategy.Aggressive);
    const breaker = this.breaker(target);
    let broke = false;
    const sub = breaker.onBreak(() => {
      broke = true;
    });
    let attempt = 0;
    try {
      return await breaker.execute(
        () =>
          retryPolicy.execute(
            () =>
              timeoutPolicy.execute(
                (_ctx, signal) =>
                  this.attempt(target, req, emit, counter, signal, plan.route, () => {
                    attempt += 1;
                    counter.attempts += 1;
                    return attempt;
                  }),
                req.signal,
              ),
            req.signal,
          ),
        req.signal,
      );
    } finally {
      sub.dispose();
      if (broke) {
        const until = this.now() + (this.opts.cooldownMs ?? 300_000);
        await this.store.setCooldown(target.name, until);
        log.warn(
          { target: target.name, cooldown_until: new Date(until).toISOString() },
          "model target cooled down",
        );
      }
    }
  }

  /**
   * Folds a latency sample into the target's shared average. Best effort: latency only orders targets,
   * so a store failure is logged and the call's answer is kept (the budget checks still fail closed).
   */
  private async noteLatency(target: ModelTarget, ms: number): Promise<void> {
    try {
      await this.store.recordLatency(target.name, ms, this.opts.latencyAlpha ?? 0.3);
    } catch (err) {
      log.warn({ target: target.name, err }, "could not record a latency sample");
    }
  }

  /** One HTTP request to one target; emits its `model.call` event. */
  private async attempt(
    target: ModelTarget,
    req: CompletionRequest,
    emit: (e: RouterEvent) => Promise<void>,
    counter: { attempts: number },
    signal: AbortSignal,
    route: { why: string; ewma_ms: number | null },
    nextAttempt: () => number,
  ): Promise<CompletionResult> {
    await assertBudget(this.store, this.now(), this.opts.dailyBudgetUsd);
    if (target.rpm !== undefined) {
      const now = this.now();
      const windowStart = now - (now % 60_000);
      if (!(await this.store.tryAcquire(target.name, windowStart, target.rpm))) {
        throw new LocalRateLimitError(`${target.name}: ${target.rpm} requests per minute reached`);
      }
    }
    const attempt = nextAttempt();
    const started = performance.now();
    // A GenAI span per HTTP call (model, tokens, finish reasons; never the prompt): src/observability.
    const callSpan = startModelCallSpan({
      runId: req.runId,
      purpose: req.purpose,
      target: target.name,
      model: target.model,
      baseURL: target.baseURL,
      attempt,
    });
    const metadata = JSON.stringify({ ...(req.metadata ?? {}), run_id: req.runId, purpose: req.purpose });
    const base = {
      purpose: req.purpose,
      target: target.name,
      model: target.model,
      tier: target.tier,
      attempt,
      prompt: req.prompt ?? null,
      route:
        attempt === 1
          ? route
          : { ...route, why: `retry ${attempt - 1} on the last available target; ${route.why}` },
    };
    try {
      const { data, response } = await this.client(target)
        .chat.completions.create(
          { model: target.model, messages: req.messages },
          {
            headers: {
              "X-TFY-LOGGING-CONFIG": this.opts.loggingConfig ?? '{"enabled":true}',
              "X-TFY-METADATA": metadata,
            },
            signal,
            timeout: target.timeoutMs,
            maxRetries: 0,
          },
        )
        .withResponse();
      const latency = Math.round(performance.now() - started);
      await this.noteLatency(target, latency);
      const servedModel = response.headers.get("x-tfy-resolved-model") ?? data.model ?? target.model;
      const usage = { input: data.usage?.prompt_tokens ?? 0, output: data.usage?.completion_tokens ?? 0 };
      // In virtual mode the gateway may serve another model: price it as that model when it is known.
      const priced = this.opts.targets.find((t) => t.model === servedModel) ?? target;
      const cost = costUsd(usage, priced);
      await this.store.addSpend(utcDay(this.now()), cost);
      const text = data.choices[0]?.message.content ?? "";
      const verdict = req.validate ? req.validate(text) : ({ ok: true } as const);
      const invalid = verdict.ok ? null : `invalid reply: ${verdict.error}`;
      callSpan.end({
        ok: invalid === null,
        status: response.status,
        responseModel: servedModel,
        inputTokens: usage.input,
        outputTokens: usage.output,
        finishReasons: data.choices.flatMap((c) => (c.finish_reason ? [c.finish_reason] : [])),
        errorType: invalid === null ? null : "invalid_reply",
      });
      await emit({
        type: "model.call",
        data: {
          ...base,
          served_model: servedModel,
          ok: invalid === null,
          status: response.status,
          error: invalid,
          latency_ms: latency,
          tokens: usage,
          cost_usd: cost,
        },
      });
      if (invalid !== null) throw new InvalidReplyError(invalid);
      return { text, target, servedModel, usage, costUsd: cost, attempts: counter.attempts };
    } catch (err) {
      const failed = (status: number | null, errorType: string) => ({
        ok: false,
        status,
        responseModel: null,
        inputTokens: 0,
        outputTokens: 0,
        finishReasons: [],
        errorType,
      });
      if (err instanceof InvalidReplyError || err instanceof BackstopError) {
        callSpan.end(failed(null, "error"));
        throw err;
      }
      const f = classify(err, req.signal?.aborted === true);
      callSpan.end(failed(f.status, f.reason));
      const elapsed = Math.round(performance.now() - started);
      // A hung target is a slow one: its timeout counts as a latency sample so it sinks in its tier.
      if (f.reason === "timeout") await this.noteLatency(target, elapsed);
      const served = err instanceof APIError && err.headers ? err.headers.get("x-tfy-resolved-model") : null;
      await emit({
        type: "model.call",
        data: {
          ...base,
          served_model: served ?? target.model,
          ok: false,
          status: f.status,
          error: f.error,
          latency_ms: elapsed,
          tokens: { input: 0, output: 0 },
          cost_usd: 0,
        },
      });
      throw err;
    }
  }
}
