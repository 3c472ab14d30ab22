import { loadScenario } from "../../scenarios/schema.js";
import type { RunOpts } from "../../src/cli/sandbox-commands.js";
import { loadConfig } from "../../src/config.js";
import { BackstopError } from "../../src/errors.js";
import { type AgentName, type AgentReport, runScenarioAgent } from "../harness.js";
import { startSandboxStack } from "../stack.js";
import { harnessOptions, liveUpstreams, parseJudgeMode, prepareModelLog } from "./common.js";
import { TimelineReporter } from "./timeline.js";

/**
 * `backstop run --scenario FILE [--agent backstop|naive|both] [--json] [--live] [--judge model|always-grounded]
 * [--model-log FILE]`: starts the sandbox for
 * the scenario, runs the agent(s) on its alert (each on a fresh copy of the world), prints a timeline (or
 * one JSON object per agent, an array for `both`) and writes the signed receipts. Exit code 0; 1 on bad
 * input.
 */
export async function runCommand(opts: RunOpts): Promise<void> {
  if (!["backstop", "naive", "both"].includes(opts.agent)) {
    throw new BackstopError("cli.invalid", `--agent must be backstop, naive or both; got ${opts.agent}`);
  }
  const judge = parseJudgeMode(opts.judge);
  const config = loadConfig();
  const scenario = loadScenario(opts.scenario);
  const live = opts.live || config.live ? liveUpstreams(scenario, config) : undefined;
  const base = await harnessOptions(config, opts.receipts);
  const agents: AgentName[] = opts.agent === "both" ? ["naive", "backstop"] : [opts.agent as AgentName];
  const modelLog = opts.modelLog ? prepareModelLog(opts.modelLog) : undefined;
  const stack = await startSandboxStack({
    scenario,
    ...(live ? { live } : {}),
    ...(modelLog ? { modelLog } : {}),
  });
  const reports: AgentReport[] = [];
  try {
    for (const agent of agents) {
      if (!opts.json) console.log(`\n== ${scenario.title}: ${agent}`);
      const { report } = await runScenarioAgent(stack, scenario, agent, {
        ...base,
        judge,
        reporters: (a) => (opts.json ? [] : [new TimelineReporter(a.padEnd(8))]),
      });
      reports.push(report);
      if (!opts.json) {
        console.log(
          `   outcome ${report.outcome.toUpperCase()} · blast radius ${report.mutations.workloads} workloads (${report.mutations.protected} protected) · ${report.model_calls} model calls · ${report.fallbacks} fallbacks · $${report.cost_usd.toFixed(5)} · ${report.wall_ms} ms`,
        );
        console.log(`   receipt ${report.receipt}`);
        console.log(
          `   expectation ${report.expectation_met ? "met" : `NOT met: ${report.expectation_failures.join("; ")}`}`,
        );
      }
    }
  } finally {
    await stack.close();
  }
  if (opts.json) console.log(JSON.stringify(opts.agent === "both" ? reports : reports[0], null, 2));
}
