/**
 * Where the model router keeps its shared policy state: spend per UTC day (USD), request counts per
 * target per minute (fixed windows), and target cooldowns. Async so a Redis implementation can follow
 * (`INCRBYFLOAT` for spend, `INCR` + `PEXPIRE` for a minute window, `SET … PXAT` for a cooldown), letting
 * several workers share one budget; {@link MemoryBudgetStore} is the in-process one.
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
}

/**
 * In-memory {@link BudgetStore} for one process (tests, the CLI, a single worker). Old minute windows
 * are dropped as new ones open, so memory stays bounded by the number of targets.
 */
export class MemoryBudgetStore implements BudgetStore {
  private readonly spend = new Map<string, number>();
  private readonly windows = new Map<string, { start: number; count: number }>();
  private readonly cooldowns = new Map<string, number>();

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
}

/** The UTC day (`YYYY-MM-DD`) of `ms` since epoch: the key of the daily budget. */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}
