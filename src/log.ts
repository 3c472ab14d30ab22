import pino, { type Logger } from "pino";

/**
 * Backstop's structured logger (pino, JSON lines on stderr so stdout stays for CLI output).
 * Level from `LOG_LEVEL` is applied by `src/config.ts` through {@link setLogLevel}; defaults to `info`.
 * Known secret-bearing paths are redacted by pino itself as a second line of defence; the first is
 * `src/guardrails/redact.ts`, which masks secrets before anything is logged or sent to a model.
 */
/** Listeners of {@link tapLogs}: each gets every serialized log line. */
const taps = new Set<{ fn: (line: string) => void; mute: boolean }>();

export const logger: Logger = pino(
  {
    level: "info",
    base: { app: "backstop" },
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
  },
  pino.destination(2),
);

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
