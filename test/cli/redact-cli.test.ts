import { execFile, spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { resolveInPackage } from "../../src/paths.js";

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), "backstop-redact-cli-"));
const env = { ...process.env, LOG_LEVEL: "silent" };
const args = ["--import", "tsx", resolveInPackage("src", "cli", "main.ts"), "redact"];
const cli = (extra: string[]) => run(process.execPath, [...args, ...extra], { cwd: resolveInPackage(), env });

/** Runs `backstop redact` with `input` on standard input. */
function cliStdin(
  extra: string[],
  input: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...args, ...extra], { cwd: resolveInPackage(), env });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

// Fake values in real formats, written for this test.
const PASSWORD = "Qm8vLx2pWn7R-zT";
const GH = "ghp_R8k2Lm9Qw4Ez7Xc1Vb6Nn3Tt5Yy0Uu2Ii8Oo";
const body = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj";
const input = [
  "starting checkout v2 at commit 4821937",
  `DB_PASSWORD=${PASSWORD}`,
  "-----BEGIN PRIVATE KEY-----",
  body,
  "-----END PRIVATE KEY-----",
  `git clone https://${GH}@github.com/acme/checkout.git`,
  "",
  "contact jane.doe@example.org",
].join("\n");

describe("backstop redact", { timeout: 90_000 }, () => {
  it("redacts a file line for line, keeping the line count and the trailing newline", async () => {
    const file = join(dir, "in.log");
    writeFileSync(file, `${input}\n`);
    const { stdout } = await cli([file]);
    expect(stdout.split("\n").length).toBe(`${input}\n`.split("\n").length);
    expect(stdout.endsWith("\n")).toBe(true);
    for (const secret of [PASSWORD, GH, body.slice(20, 32), "jane.doe@example.org"])
      expect(stdout).not.toContain(secret);
    const lines = stdout.split("\n");
    expect(lines[0]).toBe("starting checkout v2 at commit 4821937");
    expect(lines[1]).toBe("DB_PASSWORD=[REDACTED:Password]");
    expect(lines[6]).toBe("");
  });

  it("reads standard input; without a final newline the output has none either", async () => {
    const r = await cliStdin([], input);
    expect(r.code).toBe(0);
    expect(r.stdout.split("\n").length).toBe(input.split("\n").length);
    expect(r.stdout.endsWith("\n")).toBe(false);
    expect(r.stdout).not.toContain(PASSWORD);
  });

  it("--json prints {lines, counts} with one entry per input line", async () => {
    const r = await cliStdin(["--json", "-"], `${input}\n`);
    const out = JSON.parse(r.stdout) as { lines: string[]; counts: Record<string, number> };
    expect(Object.keys(out).sort()).toEqual(["counts", "lines"]);
    expect(out.lines).toHaveLength(input.split("\n").length);
    expect(out.counts).toMatchObject({ Password: 1, PrivateKey: 1, GitHubToken: 1, Email: 1 });
    expect(JSON.stringify(out)).not.toContain(PASSWORD);
  });

  it("empty input gives empty output", async () => {
    expect((await cliStdin([], "")).stdout).toBe("");
    expect(JSON.parse((await cliStdin(["--json"], "")).stdout)).toEqual({ lines: [], counts: {} });
  });

  it("a missing file or a directory is a clear error with exit 1", async () => {
    const missing = await cli([join(dir, "nope.log")]).then(
      () => null,
      (e: { code: number; stderr: string }) => e,
    );
    expect(missing?.code).toBe(1);
    expect(missing?.stderr).toMatch(/backstop redact: no such file: .*nope\.log/);
    const directory = await cli([dir]).then(
      () => null,
      (e: { code: number; stderr: string }) => e,
    );
    expect(directory?.code).toBe(1);
    expect(directory?.stderr).toMatch(/not a regular file/);
  });
});
