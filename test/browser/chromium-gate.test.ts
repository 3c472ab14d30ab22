import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { CHROMIUM, chromiumAvailable } from "./chromium.js";

// The gate only: no browser is launched here.
describe("the browser tests' chromium gate", () => {
  const missing = join("/nonexistent", "chromium");

  it("skips (false) with a warning when chromium is missing outside CI", () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    try {
      expect(chromiumAvailable(missing, {})).toBe(false);
      expect(chromiumAvailable(missing, { CI: "false" })).toBe(false);
      expect(warn).toHaveBeenCalledTimes(2);
      expect(String(warn.mock.calls[0]?.[0])).toMatch(/skipped — \/nonexistent\/chromium is missing/);
    } finally {
      warn.mockRestore();
    }
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
