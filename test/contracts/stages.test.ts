import { describe, expect, it } from "vitest";
import { RUN_EVENT_TYPES } from "../../src/contracts/events.js";
import { EVENT_STAGES, type StageReader, stageOf } from "../../src/contracts/stages.js";

const both: StageReader[] = ["thread", "observer"];
const at = (type: string, data: Record<string, unknown> = {}) =>
  both.map((reader) => stageOf({ type, data } as Parameters<typeof stageOf>[0], reader));

describe("stageOf", () => {
  it("names a stage for every event type", () => {
    expect(Object.keys(EVENT_STAGES).sort()).toEqual([...RUN_EVENT_TYPES].sort());
  });

  it("reads the table alike for both readers where neither departs from it", () => {
    const departs = [
      "redaction.applied",
      "approval.decided",
      "model.call",
      "model.fallback",
      "breaker.anomaly",
    ];
    for (const type of RUN_EVENT_TYPES.filter((t) => !departs.includes(t)))
      expect(at(type)).toEqual([EVENT_STAGES[type], EVENT_STAGES[type]]);
    expect(at("unknown.type")).toEqual([null, null]);
  });

  it("departs from the table only where stated: [thread, observer]", () => {
    // A masked reply: the thread shows diagnose; the observer keeps timing the stage it happened in.
    expect(at("redaction.applied", { direction: "output" })).toEqual(["diagnose", null]);
    expect(at("redaction.applied", { direction: "input" })).toEqual(["triage", "triage"]);
    expect(at("approval.decided", { decision: "approved" })).toEqual(["act", "escalate"]);
    expect(at("approval.decided", { decision: "expired" })).toEqual(["escalate", "escalate"]);
    expect(at("model.call", { purpose: "judge" })).toEqual(["diagnose", "validate"]);
    expect(at("model.call", { purpose: "diagnose" })).toEqual(["diagnose", "diagnose"]);
    expect(at("model.fallback")).toEqual(["diagnose", null]);
    expect(at("breaker.anomaly")).toEqual(["validate", null]);
  });
});
