import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CHROMIUM, chromiumAvailable } from "./chromium.js";

// The gate only: no browser is launched here.
describe("the browser tests' chromium gate", () => {
  const missing = join("/nonexistent", "chromium");

  it("skips (false) when chromium is missing outside CI", () => {
    expect(chromiumAvailable(missing, {})).toBe(false);
    expect(chromiumAvailable(missing, { CI: "false" })).toBe(false);
  });

  it("fails under CI=true when chromium is missing, naming the path", () => {
    expect(() => chromiumAvailable(missing, { CI: "true" })).toThrow(
      /\/nonexistent\/chromium is missing under CI/,
    );
  });

  it("runs (true) when the file exists, with or without CI", () => {
    const present = process.execPath; // any existing file stands in for the browser binary
    expect(chromiumAvailable(present, { CI: "true" })).toBe(true);
    expect(chromiumAvailable(present, {})).toBe(true);
    expect(CHROMIUM).toBe("/usr/bin/chromium");
  });
});
