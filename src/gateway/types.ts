import type { ChatCompletionMessageParam } from "openai/resources/chat/completions";
import type { RunEventDataMap } from "../contracts/events.js";
import type { ModelTarget } from "../contracts/model-target.js";
import type { BudgetStore } from "./store.js";

/** One model endpoint the router may call; the single definition is in `src/contracts/model-target.ts`. */
export type { ModelTarget } from "../contracts/model-target.js";
export type { ChatCompletionMessageParam };

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
