import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ScenarioTargetSchema } from "../../scenarios/schema.js";
import { loadConfig } from "../../src/config.js";
import { canonicalize, sameJson } from "../../src/contracts/canonical.js";
import {
  ModelTargetConfigSchema,
  ModelTargetSchema,
  toModelTarget,
} from "../../src/contracts/model-target.js";
import { isBackstopError } from "../../src/errors.js";

describe("the model target contract", () => {
  it("the config form applies its defaults and converts to the router's shape", () => {
    const t = ModelTargetConfigSchema.parse({ name: "a", base_url: "https://gw.example/v1", model: "m" });
    expect(t).toMatchObject({ api_key_env: "OPENAI_API_KEY", tier: 1, timeout_ms: 20_000 });
    const m = toModelTarget(t, "k");
    expect(m).toEqual({
      name: "a",
      baseURL: "https://gw.example/v1",
      model: "m",
      apiKey: "k",
      tier: 1,
      inputUsdPerMTok: 0,
      outputUsdPerMTok: 0,
      timeoutMs: 20_000,
    });
    expect(ModelTargetSchema.safeParse(m).success).toBe(true);
  });

  it("keeps rpm and headers, and the three forms share one rule per field", () => {
    const t = ModelTargetConfigSchema.parse({
      name: "a",
      base_url: "https://gw.example/v1",
      model: "m",
      rpm: 60,
      headers: { "x-portkey-config": "pc-1" },
    });
    expect(toModelTarget(t, undefined)).toMatchObject({ rpm: 60, headers: { "x-portkey-config": "pc-1" } });
    const bad = { name: "a", base_url: "https://gw.example/v1", model: "m", tier: 0 };
    expect(ModelTargetConfigSchema.safeParse(bad).success).toBe(false);
    expect(
      ScenarioTargetSchema.safeParse({ ...bad, input_usd_per_mtok: 1, output_usd_per_mtok: 1 }).success,
    ).toBe(false);
    expect(ModelTargetSchema.safeParse({ ...toModelTarget(t, "k"), tier: 0 }).success).toBe(false);
  });

  it("rejects a target without a URL, naming the variable and index", () => {
    const err = (() => {
      try {
        loadConfig({ BACKSTOP_TARGETS: JSON.stringify([{ name: "a", base_url: "not a url", model: "m" }]) });
      } catch (e) {
        return e;
      }
    })();
    expect(isBackstopError(err, "config.invalid")).toBe(true);
    expect((err as Error).message).toMatch(/^BACKSTOP_TARGETS\[0\.base_url\]: /);
  });

  it("reads targets from a file, and says when the file is missing", () => {
    const dir = mkdtempSync(join(tmpdir(), "targets-"));
    const file = join(dir, "targets.json");
    writeFileSync(file, JSON.stringify({ name: "j", base_url: "https://gw.example/v1", model: "small" }));
    const config = loadConfig({ BACKSTOP_JUDGE_TARGET: file, JUDGE_KEY: "x" });
    expect(config.models.judge).toMatchObject({
      name: "j",
      base_url: "https://gw.example/v1",
      apiKey: undefined,
    });
    expect(() => loadConfig({ BACKSTOP_TARGETS: join(dir, "absent.json") })).toThrow(
      /BACKSTOP_TARGETS: cannot read/,
    );
    expect(() => loadConfig({ BACKSTOP_TARGETS: "[oops" })).toThrow(/BACKSTOP_TARGETS: not valid JSON/);
  });
});

describe("canonical JSON", () => {
  it("ignores key order and undefined members; distinguishes values", () => {
    expect(canonicalize({ b: 1, a: [1, { d: 2, c: undefined }] })).toBe('{"a":[1,{"d":2}],"b":1}');
    expect(sameJson({ a: 1, b: { c: 2 } }, { b: { c: 2 }, a: 1 })).toBe(true);
    expect(sameJson({ a: 1 }, { a: "1" })).toBe(false);
    expect(sameJson(undefined, undefined)).toBe(true);
    expect(() => canonicalize({ n: Number.NaN })).toThrow();
  });
});
