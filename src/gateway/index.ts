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
  retryDelayMs,
} from "./router.js";
export { type BudgetStore, MemoryBudgetStore, utcDay } from "./store.js";
