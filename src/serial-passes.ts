/**
 * Runs `pass` one at a time, for a writer that batches: work is queued synchronously by the caller,
 * then {@link SerialPasses.request} asks for a pass. Every request made before a pass starts shares
 * that pass (it picks up everything queued by then); a request made while a pass runs gets the next
 * one, chained after it. A pass that rejects does not stop later ones. Used by the worker's run
 * reporters (the Slack thread and the incident's stage), so a burst of events is one Slack or Redis
 * round of calls instead of one per event.
 */
export class SerialPasses<T> {
  private chain: Promise<unknown> = Promise.resolve();
  private next: Promise<T> | null = null;

  constructor(private readonly pass: () => Promise<T>) {}

  /** The pass not started yet (shared), or a new one after the running pass. Resolves with its result. */
  request(): Promise<T> {
    if (this.next) return this.next;
    const p = this.chain.then(() => {
      this.next = null;
      return this.pass();
    });
    this.next = p;
    this.chain = p.catch(() => undefined);
    return p;
  }
}

/**
 * One pending timer at a time that calls `fire` after a delay (ms), for a writer that holds work back
 * (a gather window, a minimum interval) and then asks for a pass. The timer never keeps Node alive.
 */
export class PassTimer {
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly fire: () => void) {}

  /** True while a timer is pending. */
  get pending(): boolean {
    return this.timer !== null;
  }

  /** Starts the timer for `ms` unless one is pending (then that one stands). */
  start(ms: number): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.fire();
    }, ms);
    this.timer.unref();
  }

  /** Cancels the pending timer, if any. */
  cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
