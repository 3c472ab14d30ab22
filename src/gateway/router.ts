import {
  BrokenCircuitError,
  type CircuitBreakerPolicy,
  CircuitState,
  ConsecutiveBreaker,
  circuitBreaker,
  DelegateBackoff,
  handleWhen,
  type IRetryBackoffContext,
  retry,
  TaskCancelledError,
  TimeoutStrategy,
  timeout,
} from "cockatiel";
import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from "openai";
import type { ChatCompletionMessageParam } from "openai/resources/chat/completions";
import { z } from "zod";
import type { RunEventDataMap } from "../contracts/events.js";
import { BackstopError, errorMessage } from "../errors.js";
import { childLogger } from "../log.js";
import { startModelCallSpan } from "../observability/observer.js";
import { type BudgetStore, MemoryBudgetStore, utcDay } from "./store.js";

export type { ChatCompletionMessageParam };

const log = childLogger("gateway");

/**
 * One model endpoint the router may call: an OpenAI-compatible Chat Completions API at `baseURL`
 * (ending in `/v1`), `model` as the API names it, `apiKey` already read from the env var the config names
 * (undefined: the target is skipped with reason `no_api_key`). `tier` 1 is tried first; higher tiers are
 * stronger. Prices are USD per 1M input/output tokens; `timeoutMs` bounds one HTTP request; `rpm` is an
 * optional requests-per-minute limit enforced by the router. `headers` are sent with every request to this
 * target, e.g. Portkey's `x-portkey-config` (a fallback config) or a gateway's own routing headers; they
 * never override the router's `X-TFY-*` headers.
 */
export interface ModelTarget {
  name: string;
  baseURL: string;
  model: string;
  apiKey: string | undefined;
  tier: number;
  inputUsdPerMTok: number;
  outputUsdPerMTok: number;
  timeoutMs: number;
  rpm?: number;
  headers?: Record<string, string>;
}

/**
 * Router configuration.
 * - `mode`: `chain` walks `targets` in tier order (priority fallback); `virtual`: each target is a gateway
 *   virtual model that falls back by itself (the lowest eligible tier is called first); when Backstop
 *   still sees a 429/5xx from it, it moves to the next eligible target like the chain does. The served
 *   model is read from the `x-tfy-resolved-model` header (TrueFoundry AI Gateway) or the body's `model`.
 * - Order within a tier: by recent latency (an EWMA kept in the `store`, shared by all workers), targets
 *   with no recent sample first (in config order) so each gets measured; across tiers, lowest tier first.
 * - `judge`: the only target for `purpose: "judge"` (no chain).
 * - `dailyBudgetUsd`: spend cap across all targets per UTC day.
 * - `cooldownMs` (default 300000): how long a target that keeps failing is skipped.
 * - `breakerThreshold` (default 1): consecutive failed calls (after retries) that cool a target down.
 * - `maxRetries` (default 2): retries on the same target for 408/429/5xx/timeouts/connection errors —
 *   only when no later target is available (not cooled down, has a key); otherwise the router fails
 *   over at once and the failing target cools down for at least its `Retry-After`.
 * - `backoffBaseMs` (default 250): first backoff; doubles per retry. `maxRetryAfterMs` (default 10000):
 *   cap on any wait, including a server's `Retry-After`.
 * - `latencyAlpha` (default 0.3): EWMA smoothing factor in (0, 1] for latency routing; `latencyRouting`
 *   (default true): false keeps the configured order within a tier.
 * - `loggingConfig` (default `{"enabled":true}`): the `X-TFY-LOGGING-CONFIG` header value.
 * - `store` (default a new {@link MemoryBudgetStore}); `now` (default `Date.now`, ms) for budgets,
 *   rate windows and cooldowns.
 */
export interface RouterOptions {
  mode: "chain" | "virtual";
  targets: ModelTarget[];
  judge: ModelTarget;
  dailyBudgetUsd: number;
  cooldownMs?: number;
  breakerThreshold?: number;
  maxRetries?: number;
  backoffBaseMs?: number;
  maxRetryAfterMs?: number;
  latencyAlpha?: number;
  latencyRouting?: boolean;
  loggingConfig?: string;
  store?: BudgetStore;
  now?: () => number;
}

/**
 * One completion request. `messages` are OpenAI Chat Completions messages; `minTier` keeps only targets
 * with `tier >= minTier` (the quality gate re-routes to a stronger tier this way); `metadata` joins
 * `run_id` and `purpose` in `X-TFY-METADATA`; `prompt` is recorded on `model.call`; `validate` rejects a
 * reply (the router then falls back, reason `invalid_reply`); `onEvent` receives every `model.call` and
 * `model.fallback` and is awaited in order; `signal` aborts the call.
 */
export interface CompletionRequest {
  purpose: "diagnose" | "judge";
  runId: string;
  messages: ChatCompletionMessageParam[];
  minTier?: number;
  metadata?: Record<string, string>;
  prompt?: { name: string; version: string; sha256: string };
  validate?: (text: string) => { ok: true } | { ok: false; error: string };
  onEvent?: (e: RouterEvent) => void | Promise<void>;
  signal?: AbortSignal;
}

/** What the router reports per call: the exact `data` of the run events of the same type. */
export type RouterEvent =
  | { type: "model.call"; data: RunEventDataMap["model.call"] }
  | { type: "model.fallback"; data: RunEventDataMap["model.fallback"] };

/**
 * A successful completion: the reply `text`, the `target` that answered, the model that served it (per the
 * gateway), its token `usage`, its `costUsd` (USD, this call only) and `attempts` (HTTP requests made by
 * this `complete()` across all targets, including failed ones).
 */
export interface CompletionResult {
  text: string;
  target: ModelTarget;
  servedModel: string;
  usage: { input: number; output: number };
  costUsd: number;
  attempts: number;
}

const TargetSchema = z.object({
  name: z.string().min(1),
  baseURL: z.url(),
  model: z.string().min(1),
  apiKey: z.string().optional(),
  tier: z.number().int().min(1),
  inputUsdPerMTok: z.number().nonnegative(),
  outputUsdPerMTok: z.number().nonnegative(),
  timeoutMs: z.number().int().positive(),
  rpm: z.number().int().positive().optional(),
  headers: z.record(z.string(), z.string()).optional(),
});

const OptionsSchema = z.object({
  mode: z.enum(["chain", "virtual"]),
  targets: z.array(TargetSchema).min(1),
  judge: TargetSchema,
  dailyBudgetUsd: z.number().nonnegative(),
  cooldownMs: z.number().int().nonnegative().optional(),
  breakerThreshold: z.number().int().min(1).optional(),
  maxRetries: z.number().int().min(0).optional(),
  backoffBaseMs: z.number().nonnegative().optional(),
  maxRetryAfterMs: z.number().nonnegative().optional(),
  latencyAlpha: z.number().gt(0).max(1).optional(),
  latencyRouting: z.boolean().optional(),
  loggingConfig: z.string().optional(),
});

const RequestSchema = z.object({
  purpose: z.enum(["diagnose", "judge"]),
  runId: z.string().min(1),
  messages: z.array(z.unknown()).min(1),
  minTier: z.number().int().min(1).optional(),
  metadata: z.record(z.string(), z.string()).optional(),
});

/** A reply the caller's `validate` rejected. Not retried, not a target failure. */
class InvalidReplyError extends Error {}
/** The router's own rpm limit for a target was reached. Not retried, not a target failure. */
class LocalRateLimitError extends Error {}

/** How one failed attempt is classified: the fallback `reason`, HTTP `status`, and what the router does. */
interface Failure {
  reason: string;
  status: number | null;
  error: string;
  retryable: boolean;
  fallback: boolean;
  /** Counts toward the target's breaker (cooldown). */
  targetFault: boolean;
}

/**
 * Classifies an error from one attempt. Rules: OpenAI-node's error hierarchy (`src/core/error.ts`);
 * `APIConnectionTimeoutError` is checked before its parent `APIConnectionError`. Fallback on
 * 401/403/404/408/429/5xx, timeouts, connection errors; retry only 408/429/5xx/timeouts/connection errors.
 */
function classify(err: unknown, callerAborted: boolean): Failure {
  const msg = errorMessage(err);
  if (err instanceof InvalidReplyError) {
    return {
      reason: "invalid_reply",
      status: 200,
      error: msg,
      retryable: false,
      fallback: true,
      targetFault: false,
    };
  }
  if (err instanceof LocalRateLimitError) {
    return {
      reason: "rate_limited",
      status: null,
      error: msg,
      retryable: false,
      fallback: true,
      targetFault: false,
    };
  }
  if (err instanceof APIConnectionTimeoutError || (err instanceof TaskCancelledError && !callerAborted)) {
    return {
      reason: "timeout",
      status: null,
      error: msg,
      retryable: true,
      fallback: true,
      targetFault: true,
    };
  }
  if (err instanceof APIUserAbortError || err instanceof TaskCancelledError) {
    return {
      reason: "aborted",
      status: null,
      error: msg,
      retryable: false,
      fallback: false,
      targetFault: false,
    };
  }
  if (err instanceof APIConnectionError) {
    return {
      reason: "connection_error",
      status: null,
      error: msg,
      retryable: true,
      fallback: true,
      targetFault: true,
    };
  }
  if (err instanceof APIError && typeof err.status === "number") {
    const s = err.status;
    const retryable = s === 408 || s === 429 || s >= 500;
    const fallback = retryable || s === 401 || s === 403 || s === 404;
    return { reason: `http_${s}`, status: s, error: msg, retryable, fallback, targetFault: fallback };
  }
  return { reason: "error", status: null, error: msg, retryable: false, fallback: false, targetFault: false };
}

/**
 * Delay before a retry, in ms: the server's `retry-after-ms` or `Retry-After` (seconds or an HTTP-date,
 * RFC 9110 §10.2.3) when present, else `baseMs * 2^(attempt-1)`; both capped at `capMs`.
 */
export function retryDelayMs(
  err: unknown,
  attempt: number,
  baseMs: number,
  capMs: number,
  nowMs: number,
): number {
  if (err instanceof APIError && err.headers) {
    const ms = Number.parseFloat(err.headers.get("retry-after-ms") ?? "");
    if (Number.isFinite(ms) && ms >= 0) return Math.min(ms, capMs);
    const ra = err.headers.get("retry-after");
    if (ra !== null && ra !== "") {
      const seconds = Number(ra);
      if (Number.isFinite(seconds) && seconds >= 0) return Math.min(seconds * 1000, capMs);
      const date = Date.parse(ra);
      if (Number.isFinite(date)) return Math.min(Math.max(0, date - nowMs), capMs);
    }
  }
  return Math.min(baseMs * 2 ** Math.max(0, attempt - 1), capMs);
}

/**
 * The server's requested wait in ms from `retry-after-ms` or `Retry-After` (seconds or an HTTP-date,
 * RFC 9110 §10.2.3), uncapped, or null when the error carries neither.
 */
export function retryAfterMs(err: unknown, nowMs: number): number | null {
  if (!(err instanceof APIError) || !err.headers) return null;
  const ms = Number.parseFloat(err.headers.get("retry-after-ms") ?? "");
  if (Number.isFinite(ms) && ms >= 0) return ms;
  const ra = err.headers.get("retry-after");
  if (ra === null || ra === "") return null;
  const seconds = Number(ra);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(ra);
  return Number.isFinite(date) ? Math.max(0, date - nowMs) : null;
}

/** One target the router will try, and why it has its place (recorded on `model.call` as `route`). */
interface Planned {
  target: ModelTarget;
  why: string;
  ewma: number | null;
}

/** Cost in USD of `usage` tokens at per-1M-token prices. */
export function costUsd(
  usage: { input: number; output: number },
  target: Pick<ModelTarget, "inputUsdPerMTok" | "outputUsdPerMTok">,
): number {
  return (usage.input * target.inputUsdPerMTok + usage.output * target.outputUsdPerMTok) / 1_000_000;
}

/**
 * The model router (DESIGN.md, "Parts"): priority fallback over OpenAI-compatible targets with retries,
 * cooldowns (circuit breakers), timeouts, a per-target rpm limit and a daily USD budget; every call
 * reports `model.call` / `model.fallback` events. Retries, breakers and timeouts are cockatiel policies;
 * the `openai` client runs with `maxRetries: 0` and the target's timeout. Cooldowns live in the
 * {@link BudgetStore} (shared across runs and workers); the store is authoritative, the per-target
 * cockatiel breaker decides when a target has failed enough to be cooled down.
 */
export class ModelRouter {
  private readonly opts: RouterOptions;
  private readonly store: BudgetStore;
  private readonly now: () => number;
  private readonly clients = new Map<string, OpenAI>();
  private readonly breakers = new Map<string, CircuitBreakerPolicy>();

  /** @throws BackstopError `gateway.config` when the options are invalid (names every bad field). */
  constructor(opts: RouterOptions) {
    const parsed = OptionsSchema.safeParse(opts);
    if (!parsed.success) {
      throw new BackstopError(
        "gateway.config",
        `invalid router options: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
      );
    }
    this.opts = opts;
    this.store = opts.store ?? new MemoryBudgetStore();
    this.now = opts.now ?? Date.now;
  }

  /** The highest tier among the diagnosis targets (the judge is not counted). */
  maxTier(): number {
    return Math.max(...this.opts.targets.map((t) => t.tier));
  }

  /**
   * Runs one completion through the policies. `purpose: "judge"` uses `opts.judge` only.
   * @throws BackstopError `gateway.invalid_request` on a bad request; `gateway.budget_exhausted` when the
   *   UTC day's spend reached `dailyBudgetUsd` (no call is made); `gateway.no_targets` when no target has
   *   `tier >= minTier`; `gateway.rejected` on a non-fallback HTTP error (400, 422, …);
   *   `gateway.aborted` when `signal` aborts; `gateway.exhausted` when every target failed, with
   *   `details.failures: {target, reason, status, error}[]`.
   */
  async complete(req: CompletionRequest): Promise<CompletionResult> {
    const check = RequestSchema.safeParse(req);
    if (!check.success) {
      throw new BackstopError(
        "gateway.invalid_request",
        `invalid completion request: ${check.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
      );
    }
    const candidates = await this.plan(req);
    if (candidates.length === 0) {
      throw new BackstopError("gateway.no_targets", `no model target with tier >= ${req.minTier ?? 1}`, {
        details: { min_tier: req.minTier ?? 1, max_tier: this.maxTier() },
      });
    }
    const emit = async (e: RouterEvent): Promise<void> => {
      if (req.onEvent) await req.onEvent(e);
    };
    const failures: { target: string; reason: string; status: number | null; error: string }[] = [];
    const counter = { attempts: 0 };

    let after: string | null = null;
    for (let i = 0; i < candidates.length; i++) {
      const planned = candidates[i]!;
      const target = planned.target;
      const next = candidates[i + 1]?.target.name ?? null;
      if (req.signal?.aborted) throw new BackstopError("gateway.aborted", "the model call was aborted");
      await this.assertBudget();

      const fallback = async (
        f: { reason: string; status: number | null; error: string },
        cooldownUntil: number | null,
      ) => {
        failures.push({ target: target.name, ...f });
        after = `${target.name} (${f.reason})`;
        await emit({
          type: "model.fallback",
          data: {
            from: target.name,
            to: next,
            reason: f.reason,
            status: f.status,
            cooldown_until: cooldownUntil === null ? null : new Date(cooldownUntil).toISOString(),
          },
        });
      };

      const until = await this.store.cooldownUntil(target.name);
      if (until !== null && until > this.now()) {
        await fallback(
          { reason: "cooldown", status: null, error: `cooled down until ${new Date(until).toISOString()}` },
          until,
        );
        continue;
      }
      if (until !== null) await this.store.clearCooldown(target.name);
      // The store is authoritative: a breaker still open by its own clock after the store's cooldown ended
      // (an injected clock, an operator clearing the cooldown) starts afresh.
      if (this.breakers.get(target.name)?.state === CircuitState.Open) this.breakers.delete(target.name);
      if (!target.apiKey) {
        await fallback({ reason: "no_api_key", status: null, error: "no API key configured" }, null);
        continue;
      }

      // Retrying (and waiting out a Retry-After) is only for the last target still available: with a
      // healthier one next, a 429/5xx/timeout moves to it at once.
      const last = !(await this.availableAfter(candidates, i));
      const why = after === null ? planned.why : `after ${after} failed; ${planned.why}`;
      try {
        return await this.tryTarget(target, req, emit, counter, {
          retries: last ? (this.opts.maxRetries ?? 2) : 0,
          route: { why, ewma_ms: planned.ewma === null ? null : Math.round(planned.ewma) },
        });
      } catch (err) {
        if (err instanceof BackstopError) throw err;
        const f = classify(err, req.signal?.aborted === true);
        if (err instanceof BrokenCircuitError) {
          f.reason = "cooldown";
          f.fallback = true;
        }
        if (f.reason === "aborted")
          throw new BackstopError("gateway.aborted", "the model call was aborted", { cause: err });
        if (!f.fallback) {
          throw new BackstopError("gateway.rejected", `${target.name} rejected the request: ${f.error}`, {
            cause: err,
            details: { target: target.name, status: f.status },
          });
        }
        let cooled = await this.store.cooldownUntil(target.name);
        const wait =
          f.status === 429 || (f.status !== null && f.status >= 500) ? retryAfterMs(err, this.now()) : null;
        if (wait !== null && wait > 0 && (cooled === null || cooled < this.now() + wait)) {
          // The target asked not to be called for `wait` ms: no worker calls it before then.
          cooled = this.now() + wait;
          await this.store.setCooldown(target.name, cooled);
        }
        await fallback(
          { reason: f.reason, status: f.status, error: f.error },
          cooled !== null && cooled > this.now() ? cooled : null,
        );
        log.warn(
          { target: target.name, reason: f.reason, status: f.status, run_id: req.runId },
          "model target failed",
        );
      }
    }
    throw new BackstopError(
      "gateway.exhausted",
      `every model target failed for ${req.purpose}: ${failures.map((f) => `${f.target} (${f.reason})`).join(", ")}`,
      { details: { purpose: req.purpose, failures } },
    );
  }

  /**
   * Targets to try, in order, each with why it has its place: the judge alone; otherwise every target
   * with `tier >= minTier`, lowest tier first, and within a tier by recent latency (EWMA from the store):
   * unsampled targets first in config order (so each gets measured), then fastest first, ties in config
   * order.
   */
  private async plan(req: CompletionRequest): Promise<Planned[]> {
    if (req.purpose === "judge") {
      const [ewma] = await this.store.latencies([this.opts.judge.name]);
      return [{ target: this.opts.judge, why: "the judge target (no chain)", ewma: ewma ?? null }];
    }
    const minTier = req.minTier ?? 1;
    const eligible = this.opts.targets.map((t, i) => ({ t, i })).filter(({ t }) => t.tier >= minTier);
    const routing = this.opts.latencyRouting ?? true;
    const lat = eligible.length > 0 ? await this.store.latencies(eligible.map(({ t }) => t.name)) : [];
    const rows = eligible.map(({ t, i }, k) => ({ t, i, ewma: lat[k] ?? null }));
    const key = (r: { ewma: number | null }) => (!routing || r.ewma === null ? -1 : r.ewma);
    rows.sort((a, b) => a.t.tier - b.t.tier || key(a) - key(b) || a.i - b.i);
    return rows.map((r) => {
      const peers = rows.filter((x) => x.t.tier === r.t.tier);
      const rank = peers.indexOf(r) + 1;
      let why: string;
      if (peers.length === 1) why = `tier ${r.t.tier}: the only eligible target in its tier`;
      else if (!routing) why = `tier ${r.t.tier}: position ${rank} of ${peers.length} in configured order`;
      else if (r.ewma === null)
        why = `tier ${r.t.tier}: no recent latency sample, tried before measured targets (rank ${rank} of ${peers.length})`;
      else
        why = `tier ${r.t.tier}: recent latency ${Math.round(r.ewma)} ms (EWMA), rank ${rank} of ${peers.length} (${peers
          .filter((x) => x !== r)
          .map((x) => `${x.t.name} ${x.ewma === null ? "unsampled" : `${Math.round(x.ewma)} ms`}`)
          .join(", ")})`;
      return { target: r.t, why, ewma: r.ewma };
    });
  }

  /** Whether a target after position `i` could still be called now: it has a key and is not cooled down. */
  private async availableAfter(plan: readonly Planned[], i: number): Promise<boolean> {
    for (const p of plan.slice(i + 1)) {
      if (!p.target.apiKey) continue;
      const until = await this.store.cooldownUntil(p.target.name);
      if (until === null || until <= this.now()) return true;
    }
    return false;
  }

  /** @throws BackstopError `gateway.budget_exhausted` when today's (UTC) spend reached the budget. */
  private async assertBudget(): Promise<void> {
    const day = utcDay(this.now());
    const spent = await this.store.spent(day);
    if (spent >= this.opts.dailyBudgetUsd) {
      throw new BackstopError(
        "gateway.budget_exhausted",
        `daily model budget of ${this.opts.dailyBudgetUsd} USD is spent (${spent.toFixed(4)} USD on ${day})`,
        { details: { day, spent_usd: spent, budget_usd: this.opts.dailyBudgetUsd } },
      );
    }
  }

  private client(target: ModelTarget): OpenAI {
    let c = this.clients.get(target.name);
    if (!c) {
      c = new OpenAI({
        apiKey: target.apiKey,
        baseURL: target.baseURL,
        maxRetries: 0,
        timeout: target.timeoutMs,
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

  /** Calls one target with retries (cockatiel), inside its breaker; cools it down when the breaker opens. */
  private async tryTarget(
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
      log.warn({ target: target.name, err: errorMessage(err) }, "could not record a latency sample");
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
    await this.assertBudget();
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
