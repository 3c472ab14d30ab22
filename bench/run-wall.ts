/**
 * Benchmark: a whole run's wall time (ms) for both agents on each scenario, with the sandbox model at
 * zero latency (no scripted delays are added; the scenario's own are kept). Prints p50/p99/mean per
 * scenario and agent. Usage: `npx tsx bench/run-wall.ts [--n 10] [--scenario FILE]`.
 * A script, not a test: numbers vary with the machine.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { runScenarioAgent } from "../sandbox/harness.js";
import { startSandboxStack } from "../sandbox/stack.js";
import { listScenarioFiles, loadScenario } from "../scenarios/schema.js";
import { setLogLevel } from "../src/log.js";
import { resolveInPackage } from "../src/paths.js";
import { loadSigningKey } from "../src/receipt/index.js";

const { values } = parseArgs({
  options: { n: { type: "string", default: "10" }, scenario: { type: "string" } },
});
const n = Number(values.n);
setLogLevel("silent");
const files = values.scenario ? [values.scenario] : listScenarioFiles(resolveInPackage("scenarios"));
const scenarios = files.map((f) => loadScenario(f));
const dir = mkdtempSync(join(tmpdir(), "backstop-bench-"));
const opts = {
  signingKey: loadSigningKey({ path: join(dir, "key.pem"), create: true }),
  receiptsDir: join(dir, "receipts"),
  // Recovery is polled every 100 ms; the sandbox rolls out in the scenario's rollout_seconds.
};
const stack = await startSandboxStack({ scenario: scenarios[0]! });
const pct = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
console.log(`run wall time over ${n} runs each (ms)\n`);
console.log(
  ["scenario".padEnd(24), "agent".padEnd(9), "p50".padStart(7), "p99".padStart(7), "mean".padStart(7)].join(
    " ",
  ),
);
try {
  for (const scenario of scenarios) {
    for (const agent of ["naive", "backstop"] as const) {
      const times: number[] = [];
      for (let i = 0; i < n; i++) {
        const { report } = await runScenarioAgent(stack, scenario, agent, opts);
        times.push(report.wall_ms);
      }
      times.sort((a, b) => a - b);
      const mean = times.reduce((a, b) => a + b, 0) / times.length;
      console.log(
        [
          scenario.name.padEnd(24),
          agent.padEnd(9),
          String(pct(times, 50)).padStart(7),
          String(pct(times, 99)).padStart(7),
          mean.toFixed(0).padStart(7),
        ].join(" "),
      );
    }
  }
} finally {
  await stack.close();
}
