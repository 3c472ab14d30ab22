import { BrokenCircuitError } from "cockatiel";
import { z } from "zod";
import { ModelTargetSchema } from "../contracts/model-target.js";
import { BackstopError, formatZodIssues } from "../errors.js";
import { childLogger } from "../log.js";
import { TargetCaller } from "./call.js";
import { assertBudget } from "./cost.js";
import { classify, retryAfterMs } from "./failures.js";
import { availableAfter, planTargets } from "./plan.js";
import { type BudgetStore, MemoryBudgetStore } from "./store.js";
import type { CompletionRequest, CompletionResult, RouterEvent, RouterOptions } from "./types.js";

export { costUsd } from "./cost.js";
export { retryAfterMs, retryDelayMs } from "./failures.js";
// The public types (`ModelTarget`, `RouterOptions`, `CompletionRequest`, `CompletionResult`,
// `RouterEvent`, `ChatCompletionMessageParam`) live in ./types.js; importers keep importing them here.
export type * from "./types.js";

const log = childLogger("gateway");

/** Shape check of `RouterOptions` (without the store and clock). */
const OptionsSchema = z.object({
  mode: z.enum(["chain", "virtual"]),
  targets: z.array(ModelTargetSchema).min(1),
  judge: ModelTargetSchema,
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

/** Shape check of a `CompletionRequest`'s plain fields. */
const RequestSchema = z.object({
  purpose: z.enum(["diagnose", "judge"]),
  runId: z.string().min(1),
  messages: z.array(z.unknown()).min(1),
  minTier: z.number().int().min(1).optional(),
  metadata: z.record(z.string(), z.string()).optional(),
});

/*
 * The router in modules: `types.ts` (targets, options, requests, results), `plan.ts` (target order:
 * tier, then latency), `call.ts` (one target: client, breaker, retries, the HTTP attempt and its
 * `model.call`), `failures.ts` (error classification, Retry-After), `cost.ts` (prices, daily budget).
 * This file walks the plan: cooldowns, failover and `model.fallback` events.
 */

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
  private readonly caller: TargetCaller;

  /** @throws BackstopError `gateway.config` when the options are invalid (names every bad field). */
  constructor(opts: RouterOptions) {
    const parsed = OptionsSchema.safeParse(opts);
    if (!parsed.success) {
      throw new BackstopError("gateway.config", `invalid router options: ${formatZodIssues(parsed.error)}`);
    }
    this.opts = opts;
    this.store = opts.store ?? new MemoryBudgetStore();
    this.now = opts.now ?? Date.now;
    this.caller = new TargetCaller(opts, this.store, this.now);
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
        `invalid completion request: ${formatZodIssues(check.error)}`,
      );
    }
    const candidates = await planTargets(this.opts, this.store, req);
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
      await assertBudget(this.store, this.now(), this.opts.dailyBudgetUsd);

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
      this.caller.resetOpenBreaker(target.name);
      if (!target.apiKey) {
        await fallback({ reason: "no_api_key", status: null, error: "no API key configured" }, null);
        continue;
      }

      // Retrying (and waiting out a Retry-After) is only for the last target still available: with a
      // healthier one next, a 429/5xx/timeout moves to it at once.
      const last = !(await availableAfter(this.store, this.now(), candidates, i));
      const why = after === null ? planned.why : `after ${after} failed; ${planned.why}`;
      try {
        return await this.caller.tryTarget(target, req, emit, counter, {
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
}
