import type { RunEvent, RunEventDataMap, RunEventType, RunReporter } from "../contracts/events.js";
import { errorMessage } from "../errors.js";
import { childLogger } from "../log.js";
import { ReceiptRecorder } from "../receipt/chain.js";

const log = childLogger("pipeline");

/** Totals over a run's model calls: tokens, USD, how many calls and fallbacks. */
export interface RunTotals {
  modelCalls: number;
  fallbacks: number;
  tokens: { input: number; output: number };
  costUsd: number;
}

/**
 * One run's event sink: appends each event to the hash-chained receipt, then hands it to every
 * reporter in order. A reporter that throws is logged and skipped; it never stops the run.
 */
export class RunContext {
  readonly recorder: ReceiptRecorder;
  readonly totals: RunTotals = { modelCalls: 0, fallbacks: 0, tokens: { input: 0, output: 0 }, costUsd: 0 };
  private readonly reporters: readonly RunReporter[];

  /**
   * A fresh chain, or with `prior` the continuation of one (a run resumed after a human decision).
   * @throws BackstopError `receipt.chain` when `prior.events` does not verify.
   */
  constructor(
    runId: string,
    reporters: readonly RunReporter[],
    clock?: () => Date,
    prior?: { events: readonly RunEvent[]; totals: RunTotals },
  ) {
    const base = clock ? { runId, clock } : { runId };
    this.recorder = prior
      ? ReceiptRecorder.resume({ ...base, events: prior.events })
      : new ReceiptRecorder(base);
    if (prior) {
      this.totals = structuredClone(prior.totals);
    }
    this.reporters = reporters;
  }

  /** Appends one typed event to the receipt and reports it. Returns the chained event. */
  async emit<T extends RunEventType>(type: T, data: RunEventDataMap[T]): Promise<RunEvent<T>> {
    if (type === "model.call") {
      const d = data as RunEventDataMap["model.call"];
      this.totals.modelCalls += 1;
      this.totals.tokens.input += d.tokens.input;
      this.totals.tokens.output += d.tokens.output;
      this.totals.costUsd += d.cost_usd;
    } else if (type === "model.fallback") {
      this.totals.fallbacks += 1;
    }
    const event = this.recorder.append(type, data);
    for (const reporter of this.reporters) {
      try {
        await reporter.emit(event);
      } catch (err) {
        log.warn({ err: errorMessage(err), type }, "a run reporter failed; the run goes on");
      }
    }
    return event;
  }
}
