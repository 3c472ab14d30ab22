import { beforeEach, describe, expect, it, vi } from "vitest";

/** Every path `readFileSync` is asked for in this test file's module graph. */
const reads = vi.hoisted(() => [] as string[]);
vi.mock("node:fs", async (importOriginal) => {
  const fs = await importOriginal<typeof import("node:fs")>();
  const readFileSync = ((path: Parameters<typeof fs.readFileSync>[0], ...rest: unknown[]) => {
    reads.push(String(path));
    return (fs.readFileSync as (...a: unknown[]) => unknown)(path, ...rest);
  }) as typeof fs.readFileSync;
  return { ...fs, default: { ...fs, readFileSync }, readFileSync };
});

const ownFiles = () => reads.filter((p) => /redact|package\.json$/.test(p));

describe("redactorVersion", () => {
  beforeEach(() => {
    reads.length = 0;
  });

  it("reads nothing when the redactor is imported, hashes on the first call and remembers it", async () => {
    const { redactorVersion, redactText } = await import("../../src/guardrails/redact.js");
    expect(ownFiles()).toEqual([]);
    expect((await redactText("mail bob@example.com")).value).toContain("[REDACTED:");
    expect(ownFiles()).toEqual([]);
    const first = redactorVersion();
    expect(first).toMatch(/^sha256:[0-9a-f]{64}$/);
    const read = ownFiles();
    expect(read.some((p) => p.endsWith("package.json"))).toBe(true);
    expect(read.some((p) => /redact[/\\]version\.(?:ts|js)$/.test(p))).toBe(true);
    reads.length = 0;
    expect(redactorVersion()).toBe(first);
    expect(ownFiles()).toEqual([]);
  });
});
