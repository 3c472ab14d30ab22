import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { IntakeWebhookSchema } from "../../src/contracts/alertmanager.js";
import { parseIntakeFast } from "../../src/contracts/alertmanager-fast.js";

const FIXTURES = join(import.meta.dirname, "../fixtures/alertmanager");

/** The kubernetes-mixin fixtures, plus a minimal notification that leans on every default. */
function bases(): unknown[] {
  const files = readdirSync(FIXTURES).filter((f) => f.endsWith(".json"));
  const fixtures = files.map((f) => JSON.parse(readFileSync(join(FIXTURES, f), "utf8")) as unknown);
  const minimal = {
    version: "4",
    groupKey: "{}:{}",
    status: "firing",
    receiver: "backstop",
    alerts: [{ status: "firing", labels: {}, startsAt: "2026-11-21T11:50:00+01:00", fingerprint: "f" }],
  };
  return [...fixtures, minimal];
}

/** Every path to a value inside `v` (object keys and array indexes), the root excluded. */
function paths(v: unknown, at: (string | number)[] = []): (string | number)[][] {
  if (typeof v !== "object" || v === null) return [];
  const keys: (string | number)[] = Array.isArray(v) ? v.map((_, i) => i) : Object.keys(v);
  return keys.flatMap((k) => [[...at, k], ...paths((v as Record<string | number, unknown>)[k], [...at, k])]);
}

const DELETE = Symbol("delete");
const VALUES: unknown[] = [
  DELETE,
  null,
  0,
  -1,
  1.5,
  2 ** 60,
  true,
  "",
  "x",
  "4",
  "firing",
  "resolved",
  "2026-11-21T11:50:00Z",
  "2026-02-30T10:00:00Z",
  "2026-11-21 11:50:00Z",
  "a".repeat(129),
  "a".repeat(16 * 1024 + 1),
  {},
  { a: "b" },
  { a: 1 },
  [],
  [{}],
];

/** `base` with the value at `path` replaced (or deleted), as JSON would carry it. */
function mutate(base: unknown, path: (string | number)[], value: unknown): unknown {
  const copy = structuredClone(base) as Record<string | number, unknown>;
  let cur = copy;
  for (const k of path.slice(0, -1)) cur = cur[k] as Record<string | number, unknown>;
  const last = path[path.length - 1] as string | number;
  if (value === DELETE) {
    if (Array.isArray(cur)) cur.splice(last as number, 1);
    else delete cur[last];
  } else cur[last] = value;
  return copy;
}

/** The fast path either declines or gives exactly the schema's output, keys in the same order. */
function agrees(input: unknown): "fast" | "declined" {
  const fast = parseIntakeFast(input);
  if (fast === null) return "declined";
  const parsed = IntakeWebhookSchema.safeParse(input);
  expect(parsed.success, JSON.stringify(input).slice(0, 300)).toBe(true);
  expect(JSON.stringify(fast)).toBe(JSON.stringify(parsed.data));
  expect(fast).toEqual(parsed.data);
  return "fast";
}

describe("parseIntakeFast", () => {
  it("takes every valid fixture, with the schema's exact output", () => {
    for (const b of bases()) expect(agrees(b)).toBe("fast");
  });

  it("never accepts what the schema refuses nor answers differently, over mutated notifications", () => {
    let fast = 0;
    let declined = 0;
    for (const b of bases().slice(0, 6).concat(bases().slice(-1))) {
      const extra = paths(b).filter((p) => typeof p[p.length - 1] === "string");
      for (const p of paths(b)) {
        for (const v of VALUES) {
          if (agrees(mutate(b, p, v)) === "fast") fast++;
          else declined++;
        }
      }
      // Unknown keys are dropped, as the schema drops them.
      for (const p of extra) expect(agrees(mutate(b, [...p.slice(0, -1), "extra"], "x"))).toBe("fast");
    }
    expect(fast).toBeGreaterThan(100);
    expect(declined).toBeGreaterThan(100);
  });

  it("declines a `__proto__` key, a non-plain object and a missing startsAt", () => {
    const base = bases().at(-1) as { alerts: Record<string, unknown>[] };
    const proto = JSON.parse(
      JSON.stringify(base).replace('"labels":{}', '"labels":{"__proto__":"x"}'),
    ) as unknown;
    expect(parseIntakeFast(proto)).toBeNull();
    expect(parseIntakeFast(Object.assign(Object.create(null), base))).toBeNull();
    const { startsAt: _, ...noStart } = base.alerts[0] as Record<string, unknown>;
    expect(parseIntakeFast({ ...base, alerts: [noStart] })).toBeNull();
    expect(IntakeWebhookSchema.safeParse({ ...base, alerts: [noStart] }).success).toBe(false);
  });
});
