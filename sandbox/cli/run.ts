import type { Command } from "commander";
import { type AgentName, type AgentReport, runScenarioAgent } from "../../sandbox/harness.js";
import { startSandboxStack } from "../../sandbox/stack.js";
import { loadScenario } from "../../scenarios/schema.js";
import { loadConfig } from "../config.js";
import { BackstopError } from "../errors.js";
import { harnessOptions, liveUpstreams, parseJudgeMode, prepareModelLog } from "./common.js";
import { TimelineReporter } from "./timeline.js";

interface RunOpts {
  scenario: string;
  agent: "backstop" | "naive" | "both";
  json?: boolean;
  live?: boolean;
  receipts?: string;
  judge?: string;
  modelLog?: string;
}

/**
 * `backstop run --scenario FILE [--agent backstop|naive|both] [--json] [--live] [--judge model|always-grounded]
 * [--model-log FILE]`: starts the sandbox for
 * the scenario, runs the agent(s) on its alert (each on a fresh copy of the world), prints a timeline (or
 * one JSON object per agent, an array for `both`) and writes the signed receipts. Exit code 0; 1 on bad
 * input.
 */
export function registerRun(program: Command): void {
  program
    .command("run")
    .description("run an agent on a scenario in the sandbox and print its timeline")
    .requiredOption("--scenario <file>", "scenario YAML file")
    .option("--agent <agent>", "backstop, naive or both", "backstop")
    .option("--json", "print the report as JSON instead of a timeline")
    .option("--live", "send model calls after the scripted ones to the configured real targets")
    .option(
      "--receipts <dir>",
      "where to write receipts (default BACKSTOP_RECEIPTS_DIR or .backstop/receipts)",
    )
    .option("--judge <judge>", "the quality gate's judge: model (the scenario's) or always-grounded", "model")
    .option("--model-log <file>", "write the sandbox model provider's request log (JSON Lines) to this file")
    .action(async (opts: RunOpts) => {
      if (!["backstop", "naive", "both"].includes(opts.agent)) {
        throw new BackstopError("cli.invalid", `--agent must be backstop, naive or both; got ${opts.agent}`);
      }
      const judge = parseJudgeMode(opts.judge);
      const config = loadConfig();
      const scenario = loadScenario(opts.scenario);
      const live = opts.live || config.live ? liveUpstreams(scenario, config) : undefined;
      const base = await harnessOptions(config, opts.receipts);
      const agents: AgentName[] = opts.agent === "both" ? ["naive", "backstop"] : [opts.agent];
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
    });
}
