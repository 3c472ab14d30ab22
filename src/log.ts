import pino, { type Logger } from "pino";

/**
 * Backstop's structured logger (pino, JSON lines on stderr so stdout stays for CLI output).
 * Level from `LOG_LEVEL` is applied by `src/config.ts` through {@link setLogLevel}; defaults to `info`.
 * Known secret-bearing paths are redacted by pino itself as a second line of defence; the first is
 * `src/guardrails/redact.ts`, which masks secrets before anything is logged or sent to a model.
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
