import { describe, expect, it } from "vitest";
import type { Signals } from "../../src/contracts/signals.js";
import { redactorVersion } from "../../src/guardrails/redact.js";
import { InputSanitizer } from "../../src/pipeline/sanitize.js";

const KEY = "AKIAZ7XK4Q2M9PLW3N8R";

/** Minimal valid signals whose one log line carries an AWS key id and a zero-width space. */
function signals(sanitized?: Signals["sanitized"]): Signals {
  return {
    namespace: "shop",
    window: "15m",
    collected_at: "2026-12-01T10:00:00Z",
    workload: {
      kind: "Deployment",
      namespace: "shop",
      name: "checkout",
      replicas: { desired: 1, ready: 0, available: 0, updated: 1 },
      image: "registry.corp.io/shop/checkout:9f8e7d2",
      revision: 2,
      conditions: [],
    },
    pods: [],
    rollout_history: [],
    events: [],
    logs: [
      {
        pod: "checkout-1",
        container: "app",
        previous: true,
        lines: [`boot with ${KEY}\u200B ok`],
        truncated: false,
      },
    ],
    metrics: { source: "none", error_ratio: null, p99_latency_ms: null, restarts: null },
    truncated: [],
    ...(sanitized ? { sanitized } : {}),
  };
}

const line = (s: Signals) => s.logs[0]!.lines[0]!;

describe("InputSanitizer.signals", () => {
  it("redacts signals from a server that names no redactor", async () => {
    const san = new InputSanitizer();
    const out = await san.signals(signals({ redactions: {}, invisible: {} }));
    expect(line(out)).not.toContain(KEY);
    expect(line(out)).toContain("[REDACTED:");
    expect(san.redactions.total).toBe(1);
  });

  it("redacts signals that another redactor build sanitized", async () => {
    const san = new InputSanitizer();
    const out = await san.signals(
      signals({ redactions: {}, invisible: {}, redactor: "sha256:another-build" }),
    );
    expect(line(out)).not.toContain(KEY);
  });

  it("skips its own second pass when the server ran this very redactor, but still strips invisible characters", async () => {
    const san = new InputSanitizer();
    const out = await san.signals(
      signals({ redactions: { Email: 2 }, invisible: { ZeroWidth: 1 }, redactor: redactorVersion() }),
    );
    // The planted key stands for text the server's identical pass already left clean.
    expect(line(out)).toBe(`boot with ${KEY} ok`);
    expect(out).not.toHaveProperty("sanitized");
    expect(san.redactions.counts).toEqual({ Email: 2 });
    expect(san.invisible.counts).toEqual({ ZeroWidth: 2 });
  });
});
