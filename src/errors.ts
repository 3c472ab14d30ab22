/**
 * The one error type Backstop throws on purpose. `code` is a stable string a caller can switch on
 * (for example `scenario.invalid`, `gateway.exhausted`, `k8s.forbidden`); `cause` keeps the original error.
 *
 * Modelled on the typed hierarchy of openai-node (`src/core/error.ts`): one class, a code, the cause.
 */
export class BackstopError extends Error {
  /** A stable, dotted, lower-case code: `<part>.<reason>`. */
  readonly code: string;
  /** Extra, secret-free context for logs and receipts. */
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: string,
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "BackstopError";
    this.code = code;
    this.details = options.details;
  }
}

/** True when `err` is a {@link BackstopError}, optionally with the given code. */
export function isBackstopError(err: unknown, code?: string): err is BackstopError {
  return err instanceof BackstopError && (code === undefined || err.code === code);
}

/** The message of any thrown value, for logs and events. Never throws. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  try {
    return typeof err === "string" ? err : JSON.stringify(err);
  } catch {
    return String(err);
  }
}
