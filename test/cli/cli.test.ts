import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { resolveInPackage } from "../../src/paths.js";

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), "backstop-cli-"));
const env = { ...process.env, LOG_LEVEL: "silent", BACKSTOP_RECEIPT_KEY_FILE: join(dir, "key.pem") };
const cli = (args: string[]) =>
  run(process.execPath, ["--import", "tsx", resolveInPackage("src", "cli", "main.ts"), ...args], {
    cwd: resolveInPackage(),
    env,
  });

describe("the backstop command", () => {
  it("run --json --agent both prints one report per agent, and verify accepts the receipt and refuses a changed one", async () => {
    // A key must exist: the CLI only creates the default development key, not one at an explicit path.
    await import("../../src/receipt/index.js").then((m) =>
      m.loadSigningKey({ path: env.BACKSTOP_RECEIPT_KEY_FILE, create: true }),
    );
    const { stdout } = await cli([
      "run",
      "--scenario",
      resolveInPackage("scenarios", "clean-signal.yaml"),
      "--agent",
      "both",
      "--json",
      "--receipts",
      join(dir, "receipts"),
    ]);
    const reports = JSON.parse(stdout) as {
      agent: string;
      outcome: string;
      receipt: string;
      expectation_met: boolean;
    }[];
    expect(reports.map((r) => r.agent)).toEqual(["naive", "backstop"]);
    expect(reports.every((r) => r.expectation_met)).toBe(true);
    const receipt = reports[1]!.receipt;
    const ok = await cli(["verify", receipt]);
    expect(ok.stdout).toMatch(/^ok: \d+ events/);

    const text = readFileSync(receipt, "utf8");
    const tampered = join(dir, "tampered.json");
    writeFileSync(tampered, text.replace('"outcome":"resolved"', '"outcome":"escalated"'));
    const bad = await cli(["verify", tampered]).then(
      () => null,
      (err: { code: number; stderr: string }) => err,
    );
    expect(bad?.code).toBe(1);
    expect(bad?.stderr).toMatch(/FAILED at event seq \d+/);

    // Re-signed with another key: intact, but not signed by this installation's key.
    const m = await import("../../src/receipt/index.js");
    const other = m.loadSigningKey({ path: join(dir, "other-key.pem"), create: true });
    const original = JSON.parse(text) as { run_id: string; events: Parameters<typeof m.signReceipt>[1] };
    const resigned = join(dir, "resigned.json");
    m.writeReceiptFile(resigned, m.signReceipt(original.run_id, original.events, other));
    const foreign = await cli(["verify", resigned]).then(
      () => null,
      (e: { code: number; stderr: string }) => e,
    );
    expect(foreign?.code).toBe(1);
    expect((await cli(["verify", resigned, "--any-key"])).stdout).toMatch(/^ok: /);
  });

  it("refuses a missing scenario file with a clear message and exit code 1", async () => {
    const err = await cli(["run", "--scenario", join(dir, "nope.yaml")]).then(
      () => null,
      (e: { code: number; stderr: string }) => e,
    );
    expect(err?.code).toBe(1);
    expect(err?.stderr).toContain("cannot read scenario");
  });
});
