import { ErrorCode, type WebClient } from "@slack/web-api";
import type { Logger } from "pino";
import { type IncidentView, LIMITS, type SlackMessage } from "../../blocks/index.js";
import type { ActionRecord } from "../contracts/events.js";

/** A Slack thread: the channel id and the root message's `ts` (`"1763731200.000100"`). */
export interface SlackThread {
  channel: string;
  ts: string;
}

/**
 * Where an incident's thread is remembered, shared by every worker (the Redis run store in production).
 * `claimThread` sets the thread only if none is set yet (`SET NX`) and returns false when another
 * reporter claimed it first.
 */
export interface IncidentThreadStore {
  getThread(incidentKey: string): Promise<SlackThread | null>;
  claimThread(incidentKey: string, thread: SlackThread): Promise<boolean>;
}

/**
 * Options for {@link SlackThreadReporter}. `channel` is the channel id for a new root; `incidentKey` the
 * incident (one thread per incident, shared by its runs); `view` the root's fixed fields; `approvers` user
 * ids (`U…`) or user group ids (`S…`) shown on an escalation; `approvalTimeoutMs` (ms) how long an
 * escalation waits (shown as its expiry: the event's `at` plus this). `maxBacklog` caps the messages
 * kept while Slack is unreachable (default 200; the oldest are dropped first). `rootStageIntervalMs` (ms, default 5000): a
 * change of the root's stage alone is shown at most once per interval (the latest stage when it ends);
 * a status change, the run's summary and {@link SlackThreadReporter.flush} update the root at once.
 * `chat.update` is Tier 3, about 50 a minute (https://docs.slack.dev/apis/web-api/rate-limits): a root
 * per stage of many concurrent incidents would spend it. `replyGatherMs` (ms, default 500): under
 * {@link SlackThreadReporter.background}, an event waits this long for the ones that follow it before a
 * pass posts, so a burst (a diagnosis, its quality gate and the re-route it causes) is one message, not
 * one per event; Slack asks for about one message per second per channel
 * (https://docs.slack.dev/reference/methods/chat.postMessage#rate_limiting). `flush` does not wait.
 */
export interface SlackThreadReporterOptions {
  client: WebClient;
  channel: string;
  incidentKey: string;
  threads: IncidentThreadStore;
  view: Omit<IncidentView, "status" | "stage" | "summary">;
  approvers: string[];
  approvalTimeoutMs: number;
  maxBacklog?: number;
  rootStageIntervalMs?: number;
  replyGatherMs?: number;
}

/** Default of {@link SlackThreadReporterOptions.rootStageIntervalMs} (ms). */
export const ROOT_STAGE_INTERVAL_MS = 5000;

/** Default of {@link SlackThreadReporterOptions.replyGatherMs} (ms). */
export const REPLY_GATHER_MS = 500;

/** What an escalation message needs remembered to replace its buttons later: the action it proposed. */
export interface EscalationMemo {
  proposedAction: ActionRecord | null;
}

/**
 * A thread message waiting to be sent by the reporter: a reply to post (`escalation` set for the one
 * with Approve/Reject, whose `ts` is kept), or an update of an earlier message.
 */
export type Outgoing =
  | { op: "post"; what: string; msg: SlackMessage; escalation?: true }
  /** `ts` null: the escalation message this reporter posted or adopted, looked up when the update is sent. */
  | { op: "update"; what: string; ts: string | null; msg: SlackMessage };

/**
 * A reply that may share a message: a plain post, not the escalation, and with no interactive element
 * (an `actions` block or a section's `accessory`, e.g. the receipt's download button), so every button
 * stays on a message of its own.
 */
function joinable(o: Outgoing): o is Extract<Outgoing, { op: "post" }> {
  return (
    o.op === "post" &&
    !o.escalation &&
    !o.msg.blocks.some((b) => b.type === "actions" || (b as { accessory?: unknown }).accessory !== undefined)
  );
}

/**
 * The next Slack call of a backlog: how many of its first items it sends (`count`) and what. Thread
 * replies queued together with no buttons are joined into one `chat.postMessage`, a `divider` between
 * each, while the blocks stay within Slack's 50 per message and the fallback text within
 * `LIMITS.fallbackText` (https://docs.slack.dev/reference/block-kit/blocks); anything else goes alone.
 * Joining keeps a burst of run events from spending the channel's posting budget (`chat.postMessage`
 * allows about one message per second per channel: https://docs.slack.dev/reference/methods/chat.postMessage#rate_limiting).
 * @throws Error when `backlog` is empty.
 */
export function nextBatch(backlog: readonly Outgoing[]): { count: number; out: Outgoing } {
  const first = backlog[0];
  if (!first) throw new Error("nextBatch: the backlog is empty");
  if (!joinable(first)) return { count: 1, out: first };
  const parts: SlackMessage[] = [first.msg];
  let blocks = first.msg.blocks.length;
  let text = first.msg.text.length;
  for (const o of backlog.slice(1)) {
    if (!joinable(o)) break;
    if (blocks + 1 + o.msg.blocks.length > LIMITS.blocks) break;
    if (text + 1 + o.msg.text.length > LIMITS.fallbackText) break;
    parts.push(o.msg);
    blocks += 1 + o.msg.blocks.length;
    text += 1 + o.msg.text.length;
  }
  if (parts.length === 1) return { count: 1, out: first };
  return {
    count: parts.length,
    out: {
      op: "post",
      what: backlog
        .slice(0, parts.length)
        .map((o) => o.what)
        .join("+"),
      msg: {
        text: parts.map((p) => p.text).join("\n"),
        blocks: parts.flatMap((p, i) => (i === 0 ? p.blocks : [{ type: "divider" as const }, ...p.blocks])),
      },
    },
  };
}

/** Slack `error` codes of `ok: false` answers that are worth retrying (transient on Slack's side). */
const TRANSIENT_PLATFORM_ERRORS = new Set([
  "ratelimited",
  "internal_error",
  "fatal_error",
  "service_unavailable",
  "request_timeout",
]);

/**
 * True when a Web API failure may succeed later: no answer or a non-200 HTTP answer (`WebAPIRequestError`,
 * `WebAPIHTTPError`), HTTP 429 (`WebAPIRateLimitedError`), or a transient `ok: false` error. A permanent
 * `ok: false` (`invalid_blocks`, `channel_not_found`, `not_in_channel`, …) would fail the same way again.
 * Error codes: https://docs.slack.dev/tools/node-slack-sdk/web-api#handle-errors.
 */
export function isTransientSlackError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (
    code === ErrorCode.RequestError ||
    code === ErrorCode.HTTPError ||
    code === ErrorCode.RateLimitedError
  ) {
    return true;
  }
  if (code === ErrorCode.PlatformError) {
    const e = (err as { data?: { error?: unknown } }).data?.error;
    return typeof e === "string" && TRANSIENT_PLATFORM_ERRORS.has(e);
  }
  return false;
}

/**
 * Runs one Slack call of a thread: "ok", "dropped" (a permanent error, logged: that message is given up)
 * or "retry" (a transient one, see {@link isTransientSlackError}, logged: kept for the next pass). Never throws.
 */
export async function sendToSlack(
  log: Logger,
  what: string,
  call: () => Promise<unknown>,
): Promise<"ok" | "dropped" | "retry"> {
  try {
    await call();
    return "ok";
  } catch (err) {
    const transient = isTransientSlackError(err);
    log.warn(
      { err, what, transient },
      transient
        ? "Slack call failed; will retry on the next event"
        : "Slack refused a thread update; dropped it",
    );
    return transient ? "retry" : "dropped";
  }
}
