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
  }, 90_000); // five CLI processes, each starting tsx: slow on a loaded machine

  it("refuses a missing scenario file with a clear message and exit code 1", async () => {
    const err = await cli(["run", "--scenario", join(dir, "nope.yaml")]).then(
      () => null,
      (e: { code: number; stderr: string }) => e,
    );
    expect(err?.code).toBe(1);
    expect(err?.stderr).toContain("cannot read scenario");
  });

  it("refuses an unknown --judge and an unwritable --model-log, naming the option", async () => {
    const scenario = resolveInPackage("scenarios", "clean-signal.yaml");
    const judge = await cli(["run", "--scenario", scenario, "--judge", "lenient"]).then(
      () => null,
      (e: { code: number; stderr: string }) => e,
    );
    expect(judge?.code).toBe(1);
    expect(judge?.stderr).toContain('--judge must be model or always-grounded; got "lenient"');
    const blocker = join(dir, "a-file");
    writeFileSync(blocker, "");
    const log = await cli(["run", "--scenario", scenario, "--model-log", join(blocker, "log.jsonl")]).then(
      () => null,
      (e: { code: number; stderr: string }) => e,
    );
    expect(log?.code).toBe(1);
    expect(log?.stderr).toContain("--model-log: cannot write");
  });

  it("run --judge always-grounded records the judge on the report and receipt; --model-log writes the requests", async () => {
    const modelLog = join(dir, "logs", "models.jsonl");
    const { stdout } = await cli([
      "run",
      "--scenario",
      resolveInPackage("scenarios", "adversarial-stale-deploy.yaml"),
      "--judge",
      "always-grounded",
      "--model-log",
      modelLog,
      "--json",
      "--receipts",
      join(dir, "receipts-ag"),
    ]);
    const report = JSON.parse(stdout) as { judge: string; outcome: string; receipt: string; run_id: string };
    expect(report).toMatchObject({ judge: "always-grounded", outcome: "escalated" });
    const receipt = JSON.parse(readFileSync(report.receipt, "utf8")) as {
      events: { type: string; data: { judge?: { model: string } | null } }[];
    };
    const judged = receipt.events.filter((e) => e.type === "gate.quality" && e.data.judge);
    expect(judged.length).toBeGreaterThan(0);
    for (const e of judged) expect(e.data.judge?.model).toBe("always-grounded");
    const lines = readFileSync(modelLog, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { run_id: string; purpose: string });
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.every((l) => l.run_id === report.run_id && l.purpose === "diagnose")).toBe(true);
  }, 60_000);
});
