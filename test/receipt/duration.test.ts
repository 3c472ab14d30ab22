import { describe, expect, it } from "vitest";
import { isBackstopError } from "../../src/errors.js";
import { hashEvent, ReceiptRecorder } from "../../src/receipt/index.js";

const started = {
  run_id: "r-1",
  agent: "backstop" as const,
  trigger: "cli" as const,
  namespace: "shop",
  workload: "checkout",
  alertname: null,
  scenario: null,
  note: null,
};

describe("duration_ms on run events", () => {
  it("is hashed with the event when given, and absent events hash as before", () => {
    const clock = () => new Date("2030-01-01T00:00:00Z");
    const a = new ReceiptRecorder({ runId: "r-1", clock }).append("run.started", started, 12);
    const b = new ReceiptRecorder({ runId: "r-1", clock }).append("run.started", started);
    expect(a.duration_ms).toBe(12);
    expect("duration_ms" in b).toBe(false);
    expect(a.hash).not.toBe(b.hash);
    expect(hashEvent(a)).toBe(a.hash);
    expect(hashEvent({ ...a, duration_ms: 13 })).not.toBe(a.hash);
    const { duration_ms: _d, ...withoutDuration } = a;
    expect(hashEvent(withoutDuration)).toBe(b.hash);
  });

  it("survives a resumed chain and refuses a negative or non-finite duration", () => {
    const rec = new ReceiptRecorder({ runId: "r-1" });
    rec.append("run.started", started, 3);
    const resumed = ReceiptRecorder.resume({ runId: "r-1", events: rec.events() });
    expect(resumed.events()[0]?.duration_ms).toBe(3);
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => rec.append("redaction.applied", { counts: {}, total: 0 }, bad)).toSatisfy(
        (f: () => void) => {
          try {
            f();
            return false;
          } catch (e) {
            return isBackstopError(e, "receipt.event") && /duration_ms/.test((e as Error).message);
          }
        },
      );
    }
  });
});
