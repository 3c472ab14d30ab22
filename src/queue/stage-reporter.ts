import type { RunEvent, RunReporter } from "../contracts/events.js";
import { BackstopError } from "../errors.js";
import { childLogger } from "../log.js";
import { PassTimer, SerialPasses } from "../serial-passes.js";
import type { IncidentRecord, RunStore } from "./store.js";

const log = childLogger("worker");

/** Default of the {@link StageReporter}'s `intervalMs`: a stage alone is written at most this often (ms). */
export const STAGE_INTERVAL_MS = 1000;

/**
 * Keeps the incident record and the job's progress in step with the run's stage. Writes run one at a
 * time and patches that arrive while one is in flight are merged into the next, so a burst of events is
 * one Redis write. A stage-only patch is written in the background (the run does not wait for it), at
 * most once per `intervalMs` (the latest stage when the interval ends: a run's events come in bursts,
 * and `/backstop status` need not show each of them); a patch that changes the incident's status
 * (`awaiting_approval`, the outcome) is written at once and awaited, and with it every earlier patch.
 * A write Redis could not take is logged and retried with the next one (the worker flushes at the end
 * of the run); other failures are logged. Never throws.
 */
export class StageReporter implements RunReporter {
  private lastStage: string | null = null;
  /** What is not written yet: the merged incident patch and the job's stage. */
  private patch: Partial<IncidentRecord> | null = null;
  private stage: string | null = null;
  private readonly writes = new SerialPasses(() => this.write());
  /** When the last write started (epoch ms), and the timer of a stage held back by the interval. */
  private lastWriteAt = Number.NEGATIVE_INFINITY;
  private readonly timer = new PassTimer(() => void this.writes.request());

  /**
   * `setStage` writes the job's progress (BullMQ `job.updateProgress`), or null for none; `intervalMs`
   * (ms, default {@link STAGE_INTERVAL_MS}, 0 for every stage) spaces stage-only writes.
   */
  constructor(
    private readonly store: Pick<RunStore, "updateIncident">,
    private readonly key: string,
    private readonly setStage: ((stage: string) => Promise<void>) | null,
    private readonly intervalMs: number = STAGE_INTERVAL_MS,
  ) {}

  /** Merges the event's patch; returns the write's promise only when the event changes the status. */
  emit(event: RunEvent): Promise<void> | undefined {
    const patch: Partial<IncidentRecord> = { stage: event.type };
    // Only an escalation with a proposed action waits for a human; one without ends as escalated.
    if (event.type === "escalation.opened" && (event.data as { proposed_action: unknown }).proposed_action) {
      patch.status = "awaiting_approval";
    }
    if (event.type === "run.finished") {
      const d = event.data as { outcome: string; summary: string };
      patch.status = d.outcome;
      patch.summary = d.summary;
      patch.stage = null;
    }
    this.patch = { ...this.patch, ...patch };
    // The job's progress changes with the stage, not with every event of it.
    const stage = event.type.split(".")[0]!;
    if (this.setStage && stage !== this.lastStage) {
      this.lastStage = stage;
      this.stage = stage;
    }
    if (patch.status !== undefined) return this.flush();
    const wait = this.lastWriteAt + this.intervalMs - Date.now();
    if (wait <= 0 && !this.timer.pending) void this.writes.request();
    else this.timer.start(wait);
    return undefined;
  }

  /** Writes everything emitted so far; resolves when it is written (or failed and was logged). */
  flush(): Promise<void> {
    this.timer.cancel();
    return this.writes.request();
  }

  /** One write: everything merged since the last one. Never throws. */
  private async write(): Promise<void> {
    this.lastWriteAt = Date.now();
    const patch = this.patch;
    const stage = this.stage;
    this.patch = null;
    this.stage = null;
    try {
      if (patch) await this.store.updateIncident(this.key, patch);
      if (stage !== null) await this.setStage?.(stage);
    } catch (err) {
      // Redis unreachable: keep what failed (under anything newer) for the next write. Any other
      // failure (an invalid patch, an incident that is gone) would fail again: it is only logged.
      const transient = err instanceof BackstopError && err.code === "store.unavailable";
      if (transient) {
        this.patch = { ...(patch ?? {}), ...(this.patch ?? {}) };
        this.stage ??= stage;
      }
      log.warn(
        { err, incidentKey: this.key, transient },
        transient ? "could not record the run's stage; will retry" : "could not record the run's stage",
      );
    }
  }
}
