import type { RunEvent } from "../contracts/events.js";

/** The stages of a run (DESIGN.md, "The run"): what the stage spans and the stage histogram are named by. */
export const RUN_STAGES = ["triage", "diagnose", "validate", "act", "escalate", "record"] as const;
export type RunStage = (typeof RUN_STAGES)[number];

/**
 * The stage a run event belongs to, or null when it belongs to whichever stage is current
 * (`model.fallback`, `breaker.anomaly`: they happen inside diagnose or validate). A `model.call` is
 * diagnose or validate by its purpose (the judge is part of the quality gate).
 */
export function stageOf(event: Pick<RunEvent, "type" | "data">): RunStage | null {
  switch (event.type) {
    case "run.started":
    case "signals.gathered":
    case "redaction.applied":
      return "triage";
    case "model.call":
      return (event.data as { purpose: string }).purpose === "judge" ? "validate" : "diagnose";
    case "diagnosis.parsed":
      return "diagnose";
    case "gate.quality":
    case "gate.action":
    case "breaker.tripped":
    case "action.dry_run":
      return "validate";
    case "action.executed":
    case "action.failed":
    case "recovery.verified":
      return "act";
    case "escalation.opened":
    case "approval.decided":
      return "escalate";
    case "ticket.filed":
    case "run.finished":
      return "record";
    default:
      return null;
  }
}

/** The stage a model call starts, by its purpose: a diagnosis is the diagnose stage, the judge validates. */
export function stageOfPurpose(purpose: string): RunStage {
  return purpose === "judge" ? "validate" : "diagnose";
}
