import { TaskCancelledError } from "cockatiel";
import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from "openai";
import { errorMessage } from "../errors.js";

/** A reply the caller's `validate` rejected. Not retried, not a target failure. */
export class InvalidReplyError extends Error {}
/** The router's own rpm limit for a target was reached. Not retried, not a target failure. */
export class LocalRateLimitError extends Error {}

/** How one failed attempt is classified: the fallback `reason`, HTTP `status`, and what the router does. */
export interface Failure {
  reason: string;
  status: number | null;
  error: string;
  retryable: boolean;
  fallback: boolean;
  /** Counts toward the target's breaker (cooldown). */
  targetFault: boolean;
}

/**
 * Classifies an error from one attempt. Rules: OpenAI-node's error hierarchy (`src/core/error.ts`);
 * `APIConnectionTimeoutError` is checked before its parent `APIConnectionError`. Fallback on
 * 401/403/404/408/429/5xx, timeouts, connection errors; retry only 408/429/5xx/timeouts/connection errors.
 */
export function classify(err: unknown, callerAborted: boolean): Failure {
  const msg = errorMessage(err);
  const as = (reason: string, status: number | null, how: FailureHandling): Failure => ({
    reason,
    status,
    error: msg,
    ...how,
  });
  if (err instanceof InvalidReplyError) return as("invalid_reply", 200, FALL_OVER);
  if (err instanceof LocalRateLimitError) return as("rate_limited", null, FALL_OVER);
  if (err instanceof APIConnectionTimeoutError || (err instanceof TaskCancelledError && !callerAborted)) {
    return as("timeout", null, TRANSIENT);
  }
  if (err instanceof APIUserAbortError || err instanceof TaskCancelledError)
    return as("aborted", null, FINAL);
  if (err instanceof APIConnectionError) return as("connection_error", null, TRANSIENT);
  if (err instanceof APIError && typeof err.status === "number") {
    const s = err.status;
    const retryable = s === 408 || s === 429 || s >= 500;
    const fallback = retryable || s === 401 || s === 403 || s === 404;
    return as(`http_${s}`, s, { retryable, fallback, targetFault: fallback });
  }
  return as("error", null, FINAL);
}

/** What the router does with a failure: retry the target, fall over to the next, count a target fault. */
type FailureHandling = Pick<Failure, "retryable" | "fallback" | "targetFault">;
/** Timeouts and connection errors: retry (on the last target), fall over, count toward the breaker. */
const TRANSIENT: FailureHandling = { retryable: true, fallback: true, targetFault: true };
/** Not the target's fault, but another target may do better: fall over only. */
const FALL_OVER: FailureHandling = { retryable: false, fallback: true, targetFault: false };
/** Neither retried nor fallen over (the caller aborted, or an unknown error). */
const FINAL: FailureHandling = { retryable: false, fallback: false, targetFault: false };

/**
 * Delay before a retry, in ms: the server's `retry-after-ms` or `Retry-After` (seconds or an HTTP-date,
 * RFC 9110 §10.2.3) when present, else `baseMs * 2^(attempt-1)`; both capped at `capMs`.
 */
export function retryDelayMs(
  err: unknown,
  attempt: number,
  baseMs: number,
  capMs: number,
  nowMs: number,
): number {
  if (err instanceof APIError && err.headers) {
    const ms = Number.parseFloat(err.headers.get("retry-after-ms") ?? "");
    if (Number.isFinite(ms) && ms >= 0) return Math.min(ms, capMs);
    const ra = err.headers.get("retry-after");
    if (ra !== null && ra !== "") {
      const seconds = Number(ra);
      if (Number.isFinite(seconds) && seconds >= 0) return Math.min(seconds * 1000, capMs);
      const date = Date.parse(ra);
      if (Number.isFinite(date)) return Math.min(Math.max(0, date - nowMs), capMs);
    }
  }
  return Math.min(baseMs * 2 ** Math.max(0, attempt - 1), capMs);
}

/**
 * The server's requested wait in ms from `retry-after-ms` or `Retry-After` (seconds or an HTTP-date,
 * RFC 9110 §10.2.3), uncapped, or null when the error carries neither.
 */
export function retryAfterMs(err: unknown, nowMs: number): number | null {
  if (!(err instanceof APIError) || !err.headers) return null;
  const ms = Number.parseFloat(err.headers.get("retry-after-ms") ?? "");
  if (Number.isFinite(ms) && ms >= 0) return ms;
  const ra = err.headers.get("retry-after");
  if (ra === null || ra === "") return null;
  const seconds = Number(ra);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(ra);
  return Number.isFinite(date) ? Math.max(0, date - nowMs) : null;
}
