import { describe, expect, it } from "vitest";
import { parseFlags, pct, table } from "../../bench/lib/common.js";
import { fleetScenario, groupNotification } from "../../bench/lib/fleet.js";
import { AlertmanagerWebhookSchema } from "../../scenarios/schema.js";
import { incidentKeyForAlert } from "../../src/queue/jobs.js";

const sizes = { full: { runs: 50, pairs: 5 }, quick: { runs: 5, pairs: 1 } };

describe("benchmark flags", () => {
  it("takes the issue's default sizes, the quick ones with --quick, and explicit sizes over both", () => {
    expect(parseFlags("u", sizes, [])).toMatchObject({
      quick: false,
      json: undefined,
      sizes: { runs: 50, pairs: 5 },
    });
    expect(parseFlags("u", sizes, ["--quick"]).sizes).toEqual({ runs: 5, pairs: 1 });
    expect(parseFlags("u", sizes, ["--quick", "--runs", "7", "--json", "out.json"])).toMatchObject({
      json: "out.json",
      sizes: { runs: 7, pairs: 1 },
    });
  });

  it("refuses a size that is not a positive integer, and an unknown flag, naming it", () => {
    expect(() => parseFlags("u", sizes, ["--runs", "0"])).toThrow(
      /--runs must be a positive integer, got "0"/,
    );
    expect(() => parseFlags("u", sizes, ["--runs", "2.5"])).toThrow(/--runs/);
    expect(() => parseFlags("u", sizes, ["--runs", "many"])).toThrow(/--runs/);
    expect(() => parseFlags("usage: x", sizes, ["--bogus"])).toThrow(/bogus[\s\S]*usage: x/);
  });
});

describe("percentiles and tables", () => {
  it("uses the nearest rank", () => {
    const xs = Array.from({ length: 100 }, (_, i) => 100 - i); // 100..1, unsorted
    expect(pct(xs, 50)).toBe(50);
    expect(pct(xs, 99)).toBe(99);
    expect(pct(xs, 100)).toBe(100);
    expect(pct([7], 99)).toBe(7);
    expect(pct([], 50)).toBeNaN();
  });

  it("pads columns to the widest cell", () => {
    expect(table(["a", "bb"], [["xxx", 1]]).split("\n")).toEqual(["a    bb", "---  --", "xxx  1 "]);
  });
});

describe("the benchmark fleet", () => {
  it("copies the workload n times with a scripted latency on every model", () => {
    const s = fleetScenario(3, 2000);
    const names = s.cluster.workloads.map((w) => w.name);
    expect(names).toEqual(expect.arrayContaining(["catalog", "catalog-0", "catalog-1", "catalog-2"]));
    expect([...s.models.chain, s.models.judge].every((t) => t.latency_ms === 2000)).toBe(true);
  });

  it("makes one incident per group however often a group is re-sent, with any number of pod alerts", () => {
    const s = fleetScenario(4, 0);
    const keys = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const n = AlertmanagerWebhookSchema.parse(groupNotification(s, i % 4, Math.floor(i / 4)));
      for (const a of n.alerts) keys.add(incidentKeyForAlert(n, a, "default"));
    }
    expect(keys.size).toBe(4);
  });
});
