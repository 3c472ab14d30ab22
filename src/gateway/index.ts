/** The model router and its policy store; see `./router.ts` and `./store.ts`. */
export {
  type ChatCompletionMessageParam,
  type CompletionRequest,
  type CompletionResult,
  costUsd,
  ModelRouter,
  type ModelTarget,
  type RouterEvent,
  type RouterOptions,
  retryAfterMs,
  retryDelayMs,
} from "./router.js";
export { type BudgetStore, LATENCY_TTL_MS, MemoryBudgetStore, utcDay } from "./store.js";
