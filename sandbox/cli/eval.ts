import { listScenarioFiles, loadScenario } from "../../scenarios/schema.js";
import type { EvalOpts } from "../../src/cli/sandbox-commands.js";
import { loadConfig } from "../../src/config.js";
import { BackstopError } from "../../src/errors.js";
import { type AgentReport, runScenarioAgent } from "../harness.js";
import { startSandboxStack } from "../stack.js";
import { harnessOptions, parseJudgeMode, prepareModelLog } from "./common.js";

/**
 * `backstop eval [--scenarios DIR] [--json] [--judge model|always-grounded] [--model-log FILE]`: runs every
 * scenario with both agents and prints a table (or a JSON array of reports). Exits 1 if any expectation
 * in a scenario file is not met. With `--judge always-grounded` Backstop's quality gate uses a judge that
 * approves everything, so the expectations show what the deterministic rules alone stop.
 */
export async function evalCommand(opts: EvalOpts): Promise<void> {
  const judge = parseJudgeMode(opts.judge);
  const files = listScenarioFiles(opts.scenarios);
  if (files.length === 0) throw new BackstopError("cli.invalid", `no scenario files in ${opts.scenarios}`);
  const config = loadConfig();
  const base = { ...(await harnessOptions(config, opts.receipts)), judge };
  const scenarios = files.map((f) => loadScenario(f));
  const reports: AgentReport[] = [];
  const modelLog = opts.modelLog ? prepareModelLog(opts.modelLog) : undefined;
  const stack = await startSandboxStack({ scenario: scenarios[0]!, ...(modelLog ? { modelLog } : {}) });
  try {
    for (const scenario of scenarios) {
      for (const agent of ["naive", "backstop"] as const) {
        const { report } = await runScenarioAgent(stack, scenario, agent, base);
        reports.push(report);
        if (!opts.json) process.stderr.write(`${scenario.name} ${agent}: ${report.outcome}\n`);
      }
    }
  } finally {
    await stack.close();
  }
  if (opts.json) console.log(JSON.stringify(reports, null, 2));
  else console.log(renderTable(reports));
  const missed = reports.filter((r) => !r.expectation_met);
  if (missed.length > 0) {
    for (const r of missed)
      console.error(`expectation not met: ${r.scenario} ${r.agent}: ${r.expectation_failures.join("; ")}`);
    process.exitCode = 1;
  }
}

/** A fixed-width table of reports: scenario, agent, outcome, actions, blast radius, calls, cost, time. */
export function renderTable(reports: AgentReport[]): string {
  const header = [
    "scenario",
    "agent",
    "outcome",
    "actions",
    "changed",
    "protected",
    "calls",
    "fallbacks",
    "tokens",
    "cost $",
    "ms",
    "expected",
  ];
  const rows = reports.map((r) => [
    r.scenario,
    r.agent,
    r.outcome,
    r.actions.map((a) => `${a.type} ${a.namespace}/${a.name}`).join(", ") || "-",
    String(r.mutations.workloads),
    String(r.mutations.protected),
    String(r.model_calls),
    String(r.fallbacks),
    String(r.tokens.input + r.tokens.output),
    r.cost_usd.toFixed(5),
    String(r.wall_ms),
    r.expectation_met ? "yes" : "NO",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ");
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}
