import { Command } from "commander";
import { registerDemo } from "./demo.js";
import { registerEval } from "./eval.js";
import { registerMcpInfra } from "./mcp-infra.js";
import { registerRedact } from "./redact.js";
import { registerRun } from "./run.js";
import { registerSandbox } from "./sandbox.js";
import { registerServe } from "./serve.js";
import { registerVerify } from "./verify.js";
import { registerWorker } from "./worker.js";

/**
 * `backstop`: the command line. Subcommands register themselves; each exits non-zero with a clear
 * message on bad input. Output for humans goes to stdout; logs (pino, JSON) go to stderr.
 */
const program = new Command()
  .name("backstop")
  .description("An on-call SRE agent that acts only on grounded, scoped, validated diagnoses.")
  .showHelpAfterError();

registerSandbox(program);
registerRun(program);
registerEval(program);
registerVerify(program);
registerMcpInfra(program);
registerServe(program);
registerWorker(program);
registerDemo(program);
registerRedact(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  const e = err as { code?: string; message?: string };
  console.error(`backstop: ${e.message ?? String(err)}${e.code ? ` (${e.code})` : ""}`);
  process.exit(1);
});
