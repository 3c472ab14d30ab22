import type { RunEvent } from "../contracts/events.js";
import { type RunStage, stageOf as stageFor } from "../contracts/stages.js";

export { RUN_STAGES, type RunStage, stageOfPurpose } from "../contracts/stages.js";

/**
 * The stage a run event moves the run's stage spans and stage histogram to, or null when it belongs to
 * whichever stage is current: the contracts' mapping as the `observer` reads it (see
 * `src/contracts/stages.ts`: a `model.call` by its purpose; `model.fallback`, `breaker.anomaly` and an
 * `output` redaction stay in the current stage).
 */
export function stageOf(event: Pick<RunEvent, "type" | "data">): RunStage | null {
  return stageFor(event, "observer");
}
