import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { resolveInPackage } from "../../src/paths.js";
import { loadSigningKey } from "../../src/receipt/index.js";
import { parseProm, total } from "../observability/prom-text.js";

// `backstop demo` as a user starts it: with their own alert token and signing secret in the
// environment, it prints them and a ready curl command; running that command starts a run.
const ALERT_TOKEN = "my-own-alert-token-0123456789";
const SIGNING_SECRET = "my-own-signing-secret-abcdef";
let child: ChildProcess | null = null;

afterAll(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((r) => child!.once("exit", r));
    child.kill("SIGINT");
    await exited;
  }
});

/** Reads the child's stdout until `pattern` matches the text so far (a wait with a deadline). */
function waitForOutput(c: ChildProcess, pattern: RegExp, ms: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    const timer = setTimeout(
      () => reject(new Error(`no ${pattern} in ${ms} ms; stdout:\n${out}\nstderr:\n${err}`)),
      ms,
    );
    c.stderr?.on("data", (d: Buffer) => {
      err += d.toString();
    });
    c.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      if (pattern.test(out)) {
        clearTimeout(timer);
        resolve(out);
      }
    });
    c.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the demo exited (${code}); stdout:\n${out}\nstderr:\n${err}`));
    });
  });
}

describe("backstop demo", () => {
  it("honours BACKSTOP_ALERT_TOKEN and SLACK_SIGNING_SECRET and prints a curl that starts a run", async () => {
    const dir = mkdtempSync(join(tmpdir(), "backstop-demo-cli-"));
    const keyFile = join(dir, "key.pem");
    loadSigningKey({ path: keyFile, create: true });
    child = spawn(
      process.execPath,
      ["--import", "tsx", resolveInPackage("src", "cli", "main.ts"), "demo", "--port", "0"],
      {
        cwd: resolveInPackage(),
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          REDIS_URL: "redis://127.0.0.1:6379",
          BACKSTOP_ALERT_TOKEN: ALERT_TOKEN,
          SLACK_SIGNING_SECRET: SIGNING_SECRET,
          BACKSTOP_RECEIPT_KEY_FILE: keyFile,
          LOG_LEVEL: "warn",
        },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    const out = await waitForOutput(child, /^ {2}curl .*$/m, 60_000);
    expect(out).toContain(`BACKSTOP_ALERT_TOKEN=${ALERT_TOKEN}  (from the environment)`);
    expect(out).toContain(`SLACK_SIGNING_SECRET=${SIGNING_SECRET}  (from the environment)`);
    const botUrl = /Bot\s+(http:\/\/\S+)/.exec(out)?.[1];
    expect(botUrl).toBeDefined();
    const curl = /^ {2}(curl .*)$/m.exec(out)![1]!;
    expect(curl).toContain(`Bearer ${ALERT_TOKEN}`);

    // Run the printed command as a shell would (curl is on PATH here), else send its equivalent.
    let answer: string;
    try {
      answer = (await promisify(execFile)("sh", ["-c", curl], { timeout: 20_000 })).stdout;
    } catch (err) {
      if (!/not found|ENOENT/.test(String(err))) throw err;
      const u = /'(http[^']+)'/.exec(curl)![1]!;
      const body = /--data-binary '(.*)'$/.exec(curl)![1]!.replaceAll("'\\''", "'");
      answer = await (
        await fetch(u, {
          method: "POST",
          headers: { authorization: `Bearer ${ALERT_TOKEN}`, "content-type": "application/json" },
          body,
        })
      ).text();
    }
    const queued = (JSON.parse(answer) as { queued: { runId: string }[] }).queued;
    expect(queued.length).toBeGreaterThan(0);

    // The run starts: the bot's /metrics (same process in the demo) counts it.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const samples = parseProm(await (await fetch(`${botUrl}/metrics`)).text());
      if (total(samples, "backstop_runs_started_total", { trigger: "alert" }) >= 1) break;
      if (Date.now() > deadline) throw new Error("no run started");
      await new Promise((r) => setTimeout(r, 200));
    }

    // Another token is refused: the printed one is the one in force.
    const refused = await fetch(`${botUrl}/alerts/alertmanager`, {
      method: "POST",
      headers: { authorization: "Bearer some-other-token-0123456789", "content-type": "application/json" },
      body: "{}",
    });
    expect(refused.status).toBe(401);
  }, 90_000);
});
