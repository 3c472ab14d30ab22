import pino, { type Logger } from "pino";
import pretty from "pino-pretty";
import { logFields } from "./observability/run-context.js";

/** Where log lines go: JSON to stderr by default; {@link setLogFormat} may swap in pino-pretty. */
const json = pino.destination({ dest: 2, sync: true });
let out: { write(line: string): unknown } = json;
let chosen: { write(line: string): unknown } = json;
const sink = { write: (line: string) => out.write(line) };

/**
 * Backstop's structured logger (pino, JSON lines on stderr so stdout stays for CLI output).
 * Level from `LOG_LEVEL` is applied by `src/config.ts` through {@link setLogLevel}; defaults to `info`.
 * Known secret-bearing paths are redacted by pino itself as a second line of defence; the first is
 * `src/guardrails/redact.ts`, which masks secrets before anything is logged or sent to a model.
 * Inside a run every line carries `run_id` (and `trace_id`/`span_id` when tracing records), from
 * `src/observability/run-context.ts`.
 */
export const logger: Logger = pino(
  {
    level: "info",
    base: { app: "backstop" },
    redact: {
      paths: [
        "apiKey",
        "*.apiKey",
        "token",
        "*.token",
        "authorization",
        "*.authorization",
        "headers.authorization",
        "*.headers.authorization",
        "signingSecret",
        "*.signingSecret",
        "privateKey",
        "*.privateKey",
      ],
      censor: "[REDACTED]",
    },
    mixin: logFields,
  },
  sink,
);

/**
 * Chooses how log lines look: `json` (one JSON object a line, for collectors), `pretty` (pino-pretty:
 * coloured, human-readable), or `auto` — pretty when `isTty` (stderr, where logs go, is a terminal),
 * JSON otherwise. Returns the format applied.
 */
export function setLogFormat(
  format: "json" | "pretty" | "auto",
  isTty = process.stderr.isTTY === true,
): "json" | "pretty" {
  const applied = format === "auto" ? (isTty ? "pretty" : "json") : format;
  chosen =
    applied === "pretty"
      ? pretty({
          destination: 2,
          sync: true,
          colorize: isTty,
          translateTime: "SYS:HH:MM:ss",
          ignore: "pid,hostname,app",
        })
      : json;
  out = chosen;
  return applied;
}

/** Sends log lines to `w` instead (tests read them), or back to the chosen format with null. */
export function setLogOutput(w: { write(line: string): unknown } | null): void {
  out = w ?? chosen;
}

/** Sets the level of {@link logger} and its children (`trace` … `fatal`, or `silent`). */
export function setLogLevel(level: string): void {
  logger.level = level;
}

/** A child logger for one part, e.g. `childLogger("gateway")`. */
export function childLogger(part: string, bindings: Record<string, unknown> = {}): Logger {
  return logger.child({ part, ...bindings });
}
