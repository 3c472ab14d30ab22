import { type ChildProcess, spawn } from "node:child_process";

/** Children started by {@link startCli}; {@link stopClis} ends them (SIGTERM, awaiting exit). */
const children: ChildProcess[] = [];

/**
 * Starts `node ...argv` in `cwd` with only PATH, HOME, LOG_LEVEL=warn and `env`, and resolves with the
 * first capture group of `ready` once stdout matches it (0.0.0.0 rewritten to 127.0.0.1).
 * Rejects with the output when the process exits first, or after 60 s without the line.
 */
export function startCli(
  argv: string[],
  opts: { cwd: string; env: Record<string, string>; ready: RegExp },
): Promise<string> {
  const child = spawn(process.execPath, argv, {
    cwd: opts.cwd,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", LOG_LEVEL: "warn", ...opts.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  const name = argv.at(-1);
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    const timer = setTimeout(() => reject(new Error(`${name} did not start:\n${out}\n${err}`)), 60_000);
    child.stderr!.on("data", (d: Buffer) => {
      err += d.toString();
    });
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = opts.ready.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!.replace("0.0.0.0", "127.0.0.1"));
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code}):\n${out}\n${err}`));
    });
  });
}

/** Stops every child {@link startCli} started that is still running, and waits for each to exit. */
export async function stopClis(): Promise<void> {
  for (const c of children.splice(0)) {
    if (c.exitCode === null && c.signalCode === null) {
      const exited = new Promise((r) => c.once("exit", r));
      c.kill("SIGTERM");
      await exited;
    }
  }
}
