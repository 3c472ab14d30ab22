import { readFileSync, statSync } from "node:fs";
import type { Command } from "commander";
import { BackstopError, errorMessage } from "../errors.js";
import { redactLines } from "../guardrails/redact.js";

/**
 * `backstop redact [FILE]`: prints FILE (or standard input, also with FILE `-`) with secrets and PII
 * masked by Backstop's redactor, line for line: the output has exactly as many lines as the input (a
 * finding that spans lines, such as a PEM block, is masked on each of its lines). Newline policy: lines
 * are split on `\n`; a `\r` before it stays with its line; the output ends with `\n` exactly when the
 * input does. `--json` prints `{ "lines": string[], "counts": { "<Type>": n } }` instead, where
 * `lines` has one entry per input line (a final `\n` does not start another line).
 * Exit 1 with a message naming the file when it cannot be read.
 */
export function registerRedact(program: Command): void {
  program
    .command("redact")
    .description("print a file (or stdin) with secrets and PII masked, line for line")
    .argument("[file]", "text file to redact; standard input when absent or -")
    .option("--json", 'print {"lines": [...], "counts": {...}} instead of the text')
    .action(async (file: string | undefined, opts: { json?: boolean }) => {
      let text: string;
      try {
        text = file === undefined || file === "-" ? await readStdin() : readInput(file);
      } catch (err) {
        console.error(`backstop redact: ${errorMessage(err)}`);
        process.exitCode = 1;
        return;
      }
      const result = await redactLines(text);
      if (opts.json) {
        const lines = result.value === "" ? [] : result.value.split("\n");
        if (text.endsWith("\n")) lines.pop();
        process.stdout.write(`${JSON.stringify({ lines, counts: result.counts })}\n`);
      } else {
        process.stdout.write(result.value);
      }
    });
}

/** @throws BackstopError `cli.invalid` for a missing file, a directory or an unreadable file. */
function readInput(file: string): string {
  let isFile: boolean;
  try {
    isFile = statSync(file).isFile();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new BackstopError(
      "cli.invalid",
      code === "ENOENT" ? `no such file: ${file}` : `cannot read ${file}: ${errorMessage(err)}`,
    );
  }
  if (!isFile) throw new BackstopError("cli.invalid", `not a regular file: ${file}`);
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    throw new BackstopError("cli.invalid", `cannot read ${file}: ${errorMessage(err)}`);
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}
