import { BackstopError } from "../errors.js";

/**
 * Where the model router keeps its shared policy state: spend per UTC day (USD), request counts per
 * target per minute (fixed windows), and target cooldowns. Async so a Redis implementation can follow
 * (`INCRBYFLOAT` for spend, `INCR` + `PEXPIRE` for a minute window, `SET … PXAT` for a cooldown, a
 * Lua EWMA per target for latency routing), letting several workers share one budget; {@link MemoryBudgetStore} is the in-process one.
 */
export interface BudgetStore {
  /** USD spent on `day` (`YYYY-MM-DD`, UTC); 0 when nothing was spent. */
  spent(day: string): Promise<number>;
  /** Adds `usd` (>= 0) to `day`'s spend and returns the new total in USD. */
  addSpend(day: string, usd: number): Promise<number>;
  /**
   * Takes one request slot for `target` in the minute window starting at `windowStartMs` (ms since
   * epoch, a multiple of 60000) if fewer than `limit` were taken; returns whether a slot was taken.
   */
  tryAcquire(target: string, windowStartMs: number, limit: number): Promise<boolean>;
  /** When `target`'s cooldown ends (ms since epoch), or null when it is not cooled down. */
  cooldownUntil(target: string): Promise<number | null>;
  /** Cools `target` down until `untilMs` (ms since epoch). */
  setCooldown(target: string, untilMs: number): Promise<void>;
  /** Ends `target`'s cooldown now. */
  clearCooldown(target: string): Promise<void>;
  /**
   * The recent latency of each of `targets` (same order): an exponentially weighted moving average in
   * ms, or null when the target has no sample in the last {@link LATENCY_TTL_MS} (a stale average
   * expires, so a target that was slow once is sampled again later).
   */
  latencies(targets: readonly string[]): Promise<(number | null)[]>;
  /**
   * Folds one latency sample (`ms` >= 0) into `target`'s average: `alpha * ms + (1 - alpha) * old`
   * (`alpha` in (0, 1]; with no previous sample the average is `ms`), and returns the new average in ms.
   * @throws BackstopError `input.invalid_latency` for a negative or non-finite `ms` or an `alpha` outside (0, 1].
   */
  recordLatency(target: string, ms: number, alpha: number): Promise<number>;
}

/** How long a latency average lives after its last sample (ms): 10 minutes. */
export const LATENCY_TTL_MS = 10 * 60 * 1000;

/**
 * Checks a latency sample and smoothing factor (see {@link BudgetStore.recordLatency}).
 * @throws BackstopError `input.invalid_latency`.
 */
export function checkLatencySample(ms: number, alpha: number): void {
  if (!Number.isFinite(ms) || ms < 0) {
    throw new BackstopError("input.invalid_latency", `a latency sample must be a finite ms >= 0, not ${ms}`);
  }
  if (!Number.isFinite(alpha) || alpha <= 0 || alpha > 1) {
    throw new BackstopError("input.invalid_latency", `the EWMA alpha must be in (0, 1], not ${alpha}`);
  }
}

/**
 * In-memory {@link BudgetStore} for one process (tests, the CLI, a single worker). Old minute windows
 * are dropped as new ones open, so memory stays bounded by the number of targets.
 */
export class MemoryBudgetStore implements BudgetStore {
  private readonly spend = new Map<string, number>();
  private readonly windows = new Map<string, { start: number; count: number }>();
  private readonly cooldowns = new Map<string, number>();
  private readonly latency = new Map<string, { ewma: number; at: number }>();

  /** @inheritdoc */
  async spent(day: string): Promise<number> {
    return this.spend.get(day) ?? 0;
  }

  /** @inheritdoc */
  async addSpend(day: string, usd: number): Promise<number> {
    const total = (this.spend.get(day) ?? 0) + Math.max(0, usd);
    this.spend.set(day, total);
    return total;
  }

  /** @inheritdoc */
  async tryAcquire(target: string, windowStartMs: number, limit: number): Promise<boolean> {
    const w = this.windows.get(target);
    const current = w && w.start === windowStartMs ? w : { start: windowStartMs, count: 0 };
    if (current.count >= limit) return false;
    current.count += 1;
    this.windows.set(target, current);
    return true;
  }

  /** @inheritdoc */
  async cooldownUntil(target: string): Promise<number | null> {
    return this.cooldowns.get(target) ?? null;
  }

  /** @inheritdoc */
  async setCooldown(target: string, untilMs: number): Promise<void> {
    this.cooldowns.set(target, untilMs);
  }

  /** @inheritdoc */
  async clearCooldown(target: string): Promise<void> {
    this.cooldowns.delete(target);
  }

  /** @inheritdoc Ages out on the process clock (`Date.now`), like the Redis key's TTL. */
  async latencies(targets: readonly string[]): Promise<(number | null)[]> {
    const now = Date.now();
    return targets.map((t) => {
      const l = this.latency.get(t);
      return l && now - l.at < LATENCY_TTL_MS ? l.ewma : null;
    });
  }

  /** @inheritdoc */
  async recordLatency(target: string, ms: number, alpha: number): Promise<number> {
    checkLatencySample(ms, alpha);
    const [old] = await this.latencies([target]);
    const ewma = old === null || old === undefined ? ms : alpha * ms + (1 - alpha) * old;
    this.latency.set(target, { ewma, at: Date.now() });
    return ewma;
  }
}

/** The UTC day (`YYYY-MM-DD`) of `ms` since epoch: the key of the daily budget. */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}
