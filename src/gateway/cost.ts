import { BackstopError } from "../errors.js";
import { type BudgetStore, utcDay } from "./store.js";
import type { ModelTarget } from "./types.js";

/** Cost in USD of `usage` tokens at per-1M-token prices. */
export function costUsd(
  usage: { input: number; output: number },
  target: Pick<ModelTarget, "inputUsdPerMTok" | "outputUsdPerMTok">,
): number {
  return (usage.input * target.inputUsdPerMTok + usage.output * target.outputUsdPerMTok) / 1_000_000;
}

/**
 * Checks the daily spend cap: the store's spend for the UTC day of `nowMs` must be below `budgetUsd`.
 * @throws BackstopError `gateway.budget_exhausted` when today's (UTC) spend reached the budget, with
 *   `details: { day, spent_usd, budget_usd }`.
 */
export async function assertBudget(store: BudgetStore, nowMs: number, budgetUsd: number): Promise<void> {
  const day = utcDay(nowMs);
  const spent = await store.spent(day);
  if (spent >= budgetUsd) {
    throw new BackstopError(
      "gateway.budget_exhausted",
      `daily model budget of ${budgetUsd} USD is spent (${spent.toFixed(4)} USD on ${day})`,
      { details: { day, spent_usd: spent, budget_usd: budgetUsd } },
    );
  }
}
