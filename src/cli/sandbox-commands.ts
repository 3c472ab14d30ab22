import { existsSync } from "node:fs";
import { extname } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Command } from "commander";
import { BackstopError } from "../errors.js";
import { resolveInPackage } from "../paths.js";

/** Options of `backstop run` (see `sandbox/cli/run.ts`). */
export interface RunOpts {
  scenario: string;
  agent: string;
  json?: boolean;
  live?: boolean;
  receipts?: string;
  judge?: string;
  modelLog?: string;
}

/** Options of `backstop eval` (see `sandbox/cli/eval.ts`). */
export interface EvalOpts {
  scenarios: string;
  json?: boolean;
  receipts?: string;
  judge?: string;
  modelLog?: string;
}

/** Options of `backstop demo` (see `sandbox/cli/demo.ts`); `port` is the console's TCP port, as typed. */
export interface DemoOpts {
  port: string;
  host: string;
  scenarios: string;
}

/** Options of `backstop sandbox` (see `sandbox/cli/sandbox.ts`). */
export interface SandboxOpts {
  scenario: string;
  dir: string;
}

/**
 * What `sandbox/cli/index.ts` exports: one action per sandbox command. The product never imports the
 * sandbox; the sandbox implements this shape (`satisfies SandboxCli`), so the dependency points from
 * the sandbox to the product only.
 */
export interface SandboxCli {
  demo(opts: DemoOpts): Promise<void>;
  run(opts: RunOpts): Promise<void>;
  eval(opts: EvalOpts): Promise<void>;
  sandbox(opts: SandboxOpts): Promise<void>;
}

/**
 * Where the sandbox CLI module sits relative to this file: `../../sandbox/cli/index` with this file's
 * own extension — `.ts` when run from the sources (tsx, vitest), `.js` from the compiled `dist/src/cli/`
 * (then `dist/sandbox/cli/index.js`). Computed at run time so no bundler or compiler follows it.
 */
export function sandboxCliPath(from: string = import.meta.url): string {
  const here = fileURLToPath(from);
  return fileURLToPath(new URL(`../../sandbox/cli/index${extname(here)}`, from));
}

/**
 * Loads the sandbox CLI module at `path` (default {@link sandboxCliPath}).
 * @throws BackstopError `cli.unavailable` ("the sandbox commands are not part of this build") when the
 *   file is absent, as in the production image, which is built without `sandbox/`.
 */
export async function loadSandboxCli(path: string = sandboxCliPath()): Promise<SandboxCli> {
  if (!existsSync(path)) {
    throw new BackstopError(
      "cli.unavailable",
      `the sandbox commands are not part of this build (no ${path}); run them from a source checkout`,
    );
  }
  return (await import(pathToFileURL(path).href)) as SandboxCli;
}

/**
 * Registers `sandbox`, `run`, `eval` and `demo` with their options; each action loads the sandbox only
 * when it runs (`load`, default {@link loadSandboxCli}), so `backstop serve`, `worker`, `verify` and
 * `mcp-infra` never load the fake Kubernetes API, the console or the naive agent.
 */
export function registerSandboxCommands(
  program: Command,
  load: () => Promise<SandboxCli> = () => loadSandboxCli(),
): void {
  // What `run` and `eval` share: where receipts go, the judge, the model request log.
  const harnessOptions = (cmd: Command): Command =>
    cmd
      .option(
        "--receipts <dir>",
        "where to write receipts (default BACKSTOP_RECEIPTS_DIR or .backstop/receipts)",
      )
      .option(
        "--judge <judge>",
        "the quality gate's judge: model (the scenario's) or always-grounded",
        "model",
      )
      .option(
        "--model-log <file>",
        "write the sandbox model provider's request log (JSON Lines) to this file",
      );

  // `backstop sandbox --scenario FILE`: the sandbox world on loopback until Ctrl-C.
  program
    .command("sandbox")
    .description("start the sandbox world for a scenario on loopback")
    .requiredOption("--scenario <file>", "scenario YAML file")
    .option("--dir <dir>", "where to write kubeconfigs and the model request log", ".backstop/sandbox")
    .action(async (opts: SandboxOpts) => (await load()).sandbox(opts));

  // `backstop run --scenario FILE`: one or both agents on a scenario, a timeline or JSON, signed receipts.
  harnessOptions(
    program
      .command("run")
      .description("run an agent on a scenario in the sandbox and print its timeline")
      .requiredOption("--scenario <file>", "scenario YAML file")
      .option("--agent <agent>", "backstop, naive or both", "backstop")
      .option("--json", "print the report as JSON instead of a timeline")
      .option("--live", "send model calls after the scripted ones to the configured real targets"),
  ).action(async (opts: RunOpts) => (await load()).run(opts));

  // `backstop eval`: every scenario with both agents; exit 1 when an expectation is not met.
  harnessOptions(
    program
      .command("eval")
      .description("run every scenario with both agents; fail if any expectation is not met")
      .option("--scenarios <dir>", "folder of scenario YAML files", resolveInPackage("scenarios"))
      .option("--json", "print a JSON array of reports"),
  ).action(async (opts: EvalOpts) => (await load()).eval(opts));

  // `backstop demo` (also `npm run demo`): the whole product against the sandbox, with the web console.
  program
    .command("demo")
    .description("start the whole product against the sandbox and open the web console")
    .option("--port <port>", "console port", "8787")
    .option("--host <host>", "listen address (loopback by default)", "127.0.0.1")
    .option("--scenarios <dir>", "folder of scenario YAML files", resolveInPackage("scenarios"))
    .action(async (opts: DemoOpts) => (await load()).demo(opts));
}
