import type { RunEvent, RunEventDataMap, RunEventType } from "./events.js";

/**
 * The stages of a run (DESIGN.md, "The run"), in run order, plus `escalate` for the hand-over to a
 * human: what the Slack thread shows as the current stage and what the stage spans and the stage
 * histogram are named by.
 */
export const RUN_STAGES = ["triage", "diagnose", "validate", "act", "escalate", "record"] as const;
export type RunStage = (typeof RUN_STAGES)[number];

/**
 * The stage of each event type, by its type alone. {@link stageOf} departs from it where an event's
 * data decides, or where the reader places an event differently (see {@link StageReader}).
 */
export const EVENT_STAGES: Readonly<Record<RunEventType, RunStage>> = {
  "run.started": "triage",
  "signals.gathered": "triage",
  "redaction.applied": "triage",
  "model.call": "diagnose",
  "model.fallback": "diagnose",
  "diagnosis.parsed": "diagnose",
  "gate.quality": "validate",
  "gate.action": "validate",
  "breaker.anomaly": "validate",
  "breaker.tripped": "validate",
  "action.dry_run": "validate",
  "action.executed": "act",
  "action.failed": "act",
  "recovery.verified": "act",
  "escalation.opened": "escalate",
  "approval.decided": "escalate",
  "ticket.filed": "record",
  "run.finished": "record",
};

/**
 * Who asks for an event's stage. `thread`: the incident's root message in Slack (`blocks/`), which
 * names a stage for every event. `observer`: the run's stage spans and stage histogram
 * (`src/observability/`), which time stages and so leave events that happen inside another stage to it.
 */
export type StageReader = "thread" | "observer";

/** The stage a model call belongs to, by its purpose: a diagnosis is the diagnose stage, the judge validates. */
export function stageOfPurpose(purpose: string): RunStage {
  return purpose === "judge" ? "validate" : "diagnose";
}

/**
 * The stage `event` belongs to for `reader`, or null when it belongs to whichever stage is current
 * (and for a type not in {@link EVENT_STAGES}). {@link EVENT_STAGES} unless:
 * - `thread`: an `output` `redaction.applied` (a model's reply masked) → `diagnose`; an approved
 *   `approval.decided` → `act` (a rejected or expired one stays `escalate`).
 * - `observer`: a `model.call` → its purpose's stage ({@link stageOfPurpose}: the judge is part of the
 *   quality gate, so `validate`); `model.fallback`, `breaker.anomaly` and an `output`
 *   `redaction.applied` (a reply masked wherever a model answered: diagnose, validate or record) → null,
 *   they happen inside the current stage; an `input` redaction and every `approval.decided` by its type.
 */
export function stageOf(event: Pick<RunEvent, "type" | "data">, reader: StageReader): RunStage | null {
  if (reader === "thread") {
    if (event.type === "redaction.applied") {
      const d = event.data as RunEventDataMap["redaction.applied"];
      if (d.direction === "output") return "diagnose";
    }
    if (event.type === "approval.decided") {
      const d = event.data as RunEventDataMap["approval.decided"];
      if (d.decision === "approved") return "act";
    }
  } else {
    if (event.type === "model.call") return stageOfPurpose((event.data as { purpose: string }).purpose);
    if (event.type === "model.fallback" || event.type === "breaker.anomaly") return null;
    if (event.type === "redaction.applied") {
      const d = event.data as RunEventDataMap["redaction.applied"];
      if (d.direction === "output") return null;
    }
  }
  return EVENT_STAGES[event.type] ?? null;
}
