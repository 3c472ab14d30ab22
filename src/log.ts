import pino, { type Logger } from "pino";
import pretty from "pino-pretty";
import { BackstopError, errorMessage } from "./errors.js";
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
/** What {@link serializeError} makes of a thrown value: the shape of the `err` field of a log line. */
export interface SerializedError {
  type: string;
  message: string;
  stack?: string;
  /** A {@link BackstopError}'s code, or a Node system error's (`ECONNREFUSED`) or HTTP status code. */
  code?: string | number;
  /** A {@link BackstopError}'s details (secret-free by contract). */
  details?: Record<string, unknown>;
  cause?: SerializedError;
}

/**
 * The `err` serializer of {@link logger}: `log.warn({ err }, msg)` keeps the type, message, stack,
 * `code` and `cause` chain (at most 5 deep). Unlike pino's default serializer it copies no other
 * property: client errors carry their request (an axios error's `config.headers.Authorization`, a Slack
 * or Kubernetes client's `original`/`body`), which must never reach a log. Non-errors log as their
 * message. Never throws.
 */
export function serializeError(err: unknown, depth = 0): SerializedError {
  if (!(err instanceof Error)) return { type: typeof err, message: errorMessage(err) };
  const out: SerializedError = { type: err.constructor?.name || err.name, message: err.message };
  if (err.stack) out.stack = err.stack;
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string" || typeof code === "number") out.code = code;
  if (err instanceof BackstopError && err.details) out.details = err.details;
  if (err.cause !== undefined && depth < 5) out.cause = serializeError(err.cause, depth + 1);
  return out;
}

/** Listeners of {@link tapLogs}: each gets every serialized log line. */
const taps = new Set<{ fn: (line: string) => void; mute: boolean }>();

export const logger: Logger = pino(
  {
    level: "info",
    base: { app: "backstop" },
    serializers: { err: (err: unknown) => serializeError(err) },
    hooks: {
      // Hands each serialized line to the taps (tests check that no secret reaches the process's logs).
      streamWrite(line: string): string {
        if (taps.size === 0) return line;
        let mute = false;
        for (const t of taps) {
          t.fn(line);
          mute ||= t.mute;
        }
        return mute ? "" : line;
      },
    },
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

/**
 * Calls `fn` with every log line Backstop writes (the exact JSON text pino writes, newline included),
 * from now until the returned function is called. With `mute`, nothing reaches stderr meanwhile.
 * For tests and diagnostics: the lines are the same ones the process would print.
 */
export function tapLogs(fn: (line: string) => void, opts: { mute?: boolean } = {}): () => void {
  const tap = { fn, mute: opts.mute ?? false };
  taps.add(tap);
  return () => {
    taps.delete(tap);
  };
}
