import { ANOMALY_KINDS, type AnomalyKind } from "./policy.js";

/**
 * The anomaly budget (a points-based circuit breaker) and the loop cap of one run.
 *
 * Each anomaly costs points (`policy.anomaly.costs`, defaults: gate_failure 2, fallback 1,
 * tool_error 2, low_confidence 1, action_failure 3); when the points spent reach `budget` (default 6)
 * the breaker trips and the run escalates to a human. `step()` counts pipeline steps against the loop
 * cap `max_steps` (default 8): the step past the cap is refused and trips the breaker too.
 *
 * Why not cockatiel's breakers: `ConsecutiveBreaker` counts consecutive failures and `CountBreaker` a
 * failure ratio over a sliding window of calls; both treat every failure alike and half-open again after
 * a timer. Here anomalies have different weights and a run never "recovers" its budget, so this is a
 * small piece of domain logic rather than a resilience policy. Pure: no I/O, no clock.
 */

/** The result of {@link AnomalyBudget.record}: points charged, points spent so far, the budget, tripped. */
export interface AnomalyRecordResult {
  cost: number;
  spent: number;
  budget: number;
  tripped: boolean;
}

/** The result of {@link AnomalyBudget.step}: steps taken including this one, the cap, whether over it. */
export interface StepResult {
  steps: number;
  max: number;
  exceeded: boolean;
}

/** Settings of the budget; the shape of `policy.anomaly` (src/guardrails/policy.ts). */
export interface AnomalyBudgetOptions {
  budget: number;
  max_steps: number;
  costs: Record<AnomalyKind, number>;
}

/** Default settings, equal to `policy/default.yaml`. */
export const DEFAULT_ANOMALY_BUDGET: AnomalyBudgetOptions = {
  budget: 6,
  max_steps: 8,
  costs: { gate_failure: 2, fallback: 1, tool_error: 2, low_confidence: 1, action_failure: 3 },
};

/**
 * One run's anomaly budget and loop cap. Build one per run from `policy.anomaly`.
 * Once tripped it stays tripped; later records still add up (the receipt shows them).
 */
export class AnomalyBudget {
  /** Points available before the breaker trips. */
  readonly budget: number;
  /** The loop cap: the most steps a run may take. */
  readonly maxSteps: number;
  private readonly costs: Record<string, number>;
  private spentPoints = 0;
  private stepCount = 0;
  private tripReason: string | null = null;
  private readonly log: { kind: string; cost: number; detail: string }[] = [];

  constructor(opts: AnomalyBudgetOptions = DEFAULT_ANOMALY_BUDGET) {
    this.budget = opts.budget;
    this.maxSteps = opts.max_steps;
    this.costs = { ...DEFAULT_ANOMALY_BUDGET.costs, ...opts.costs };
  }

  /** Points spent so far. */
  get spent(): number {
    return this.spentPoints;
  }

  /** Steps taken so far. */
  get steps(): number {
    return this.stepCount;
  }

  /** True once the budget is spent or the loop cap exceeded. */
  get tripped(): boolean {
    return this.tripReason !== null;
  }

  /** Why it tripped (e.g. `anomaly budget spent: 6/6 points (gate_failure 2, …)`), or null. */
  get reason(): string | null {
    return this.tripReason;
  }

  /** The anomalies recorded so far, in order. */
  get anomalies(): readonly { kind: string; cost: number; detail: string }[] {
    return this.log;
  }

  /**
   * Charges one anomaly. `kind` is one of {@link ANOMALY_KINDS}; an unknown kind is charged the highest
   * configured cost (fail towards escalating, never towards ignoring). Trips when spent ≥ budget.
   */
  record(kind: AnomalyKind | (string & {}), detail: string): AnomalyRecordResult {
    const known = (ANOMALY_KINDS as readonly string[]).includes(kind);
    const cost = known ? (this.costs[kind] ?? 0) : Math.max(...Object.values(this.costs));
    this.spentPoints += cost;
    this.log.push({ kind, cost, detail });
    if (this.tripReason === null && this.spentPoints >= this.budget) {
      const parts = this.log.map((a) => `${a.kind} ${a.cost}`).join(", ");
      this.tripReason = `anomaly budget spent: ${this.spentPoints}/${this.budget} points (${parts})`;
    }
    return { cost, spent: this.spentPoints, budget: this.budget, tripped: this.tripped };
  }

  /** Counts one pipeline step; the step past `maxSteps` is `exceeded` and trips the breaker. */
  step(): StepResult {
    this.stepCount += 1;
    const exceeded = this.stepCount > this.maxSteps;
    if (exceeded && this.tripReason === null) {
      this.tripReason = `loop cap reached: step ${this.stepCount} of at most ${this.maxSteps}`;
    }
    return { steps: this.stepCount, max: this.maxSteps, exceeded };
  }
}
