import { Command } from "commander";
import { registerMcpInfra } from "./mcp-infra.js";
import { registerRedact } from "./redact.js";
import { registerSandboxCommands } from "./sandbox-commands.js";
import { registerServe } from "./serve.js";
import { registerVerify } from "./verify.js";
import { registerWorker } from "./worker.js";

/**
 * `backstop`: the command line. Subcommands register themselves; each exits non-zero with a clear
 * message on bad input. Output for humans goes to stdout; logs (pino, JSON) go to stderr.
 * The sandbox commands (`sandbox`, `run`, `eval`, `demo`) load `sandbox/cli/` only when they run
 * (src/cli/sandbox-commands.ts), so the product's commands never load the sandbox.
 */
const program = new Command()
  .name("backstop")
  .description("An on-call SRE agent that acts only on grounded, scoped, validated diagnoses.")
  .showHelpAfterError();

registerSandboxCommands(program);
registerVerify(program);
registerMcpInfra(program);
registerServe(program);
registerWorker(program);
registerRedact(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  const e = err as { code?: string; message?: string };
  console.error(`backstop: ${e.message ?? String(err)}${e.code ? ` (${e.code})` : ""}`);
  process.exit(1);
});
