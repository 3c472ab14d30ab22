import type { SandboxCli } from "../../src/cli/sandbox-commands.js";
import { demoCommand } from "./demo.js";
import { evalCommand } from "./eval.js";
import { runCommand } from "./run.js";
import { sandboxCommand } from "./sandbox.js";

/**
 * The sandbox commands' implementations, loaded by `src/cli/sandbox-commands.ts` through a dynamic
 * import of a path computed at run time, only when one of them runs. The options are declared there;
 * a build without `sandbox/` (the production image) answers these commands with a clear error.
 */
export { demoCommand as demo, evalCommand as eval, runCommand as run, sandboxCommand as sandbox };

// Compile-time proof that these exports are the shape src/cli/sandbox-commands.ts loads.
({ demo: demoCommand, eval: evalCommand, run: runCommand, sandbox: sandboxCommand }) satisfies SandboxCli;
