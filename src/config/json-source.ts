import { readFileSync } from "node:fs";
import { BackstopError } from "../errors.js";

/**
 * The JSON value of a configuration variable that holds either JSON itself (text starting with `[` or
 * `{`) or the path of a file holding it (`BACKSTOP_TARGETS`, `BACKSTOP_JUDGE_TARGET`, `BACKSTOP_CLUSTERS`).
 * `what` names the variable in errors.
 * @throws BackstopError `config.invalid` when the file cannot be read or the text is not JSON.
 */
export function readJsonOrFile(raw: string, what: string): unknown {
  let text = raw.trim();
  if (!text.startsWith("[") && !text.startsWith("{")) {
    try {
      text = readFileSync(text, "utf8");
    } catch (err) {
      throw new BackstopError("config.invalid", `${what}: cannot read ${raw}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new BackstopError("config.invalid", `${what}: not valid JSON: ${(err as Error).message}`, {
      cause: err,
    });
  }
}
