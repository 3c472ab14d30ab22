import { createHmac, randomBytes } from "node:crypto";
import { BackstopError } from "../../src/errors.js";

/**
 * Sends requests to the bot the way Slack does, signed as in "Verifying requests from Slack"
 * (https://docs.slack.dev/authentication/verifying-requests-from-slack): the base string
 * `v0:<timestamp>:<raw body>` is HMAC-SHA256'd with the app's signing secret and sent as
 * `X-Slack-Signature: v0=<hex>` beside `X-Slack-Request-Timestamp: <Unix seconds>`. This matches Bolt's
 * `verifySlackRequest` (`@slack/bolt/dist/receivers/verify-request.js`), which rejects signatures that do not
 * match and timestamps more than 5 minutes old.
 */

/**
 * Options shared by the senders: `timestampSec` overrides "now" (Unix seconds); `forgeSignature` signs
 * with a wrong secret; `triggerId` fixes a command's or interaction's `trigger_id` (a replay sends the
 * same one); `retryNum` adds Slack's `X-Slack-Retry-Num` (and `X-Slack-Retry-Reason: http_timeout`).
 */
export interface SendOptions {
  timestampSec?: number;
  forgeSignature?: boolean;
  triggerId?: string;
  retryNum?: number;
}

/** What the bot answered: the HTTP status and the raw response body. */
export interface SendResult {
  status: number;
  body: string;
}

/**
 * The two headers Slack adds to every request it sends to an app: `X-Slack-Request-Timestamp` (Unix
 * seconds, default now) and `X-Slack-Signature` (`v0=` + hex HMAC-SHA256 of `v0:<ts>:<rawBody>` keyed
 * with `signingSecret`).
 * @throws BackstopError `slack.signing.no_secret` when `signingSecret` is empty.
 */
export function signSlackRequest(
  signingSecret: string,
  rawBody: string,
  timestampSec: number = Math.floor(Date.now() / 1000),
): Record<string, string> {
  if (!signingSecret) throw new BackstopError("slack.signing.no_secret", "signing secret is empty");
  const ts = String(Math.floor(timestampSec));
  const hex = createHmac("sha256", signingSecret).update(`v0:${ts}:${rawBody}`).digest("hex");
  return { "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": `v0=${hex}` };
}

async function sendSigned(
  target: string,
  signingSecret: string,
  rawBody: string,
  contentType: string,
  opts: SendOptions,
): Promise<SendResult> {
  const secret = opts.forgeSignature ? `${signingSecret}-forged` : signingSecret;
  const headers = {
    // Exactly this value: Bolt's parseHTTPRequestBody compares the header with `===`.
    "Content-Type": contentType,
    "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
    ...signSlackRequest(secret, rawBody, opts.timestampSec),
    ...(opts.retryNum !== undefined
      ? { "X-Slack-Retry-Num": String(opts.retryNum), "X-Slack-Retry-Reason": "http_timeout" }
      : {}),
  };
  const res = await fetch(target, { method: "POST", headers, body: rawBody });
  return { status: res.status, body: await res.text() };
}

/** A Slack-style `trigger_id` (`<digits>.<digits>.<hex>`), valid for 3 s in real Slack; opaque here. */
function triggerId(): string {
  const now = Date.now();
  return `${Math.floor(now / 1000)}.${String(now).slice(-9)}.${randomBytes(16).toString("hex")}`;
}

/** A Slack `action_ts`: Unix seconds with six decimals. */
function actionTs(): string {
  const now = Date.now();
  return `${Math.floor(now / 1000)}.${String((now % 1000) * 1000).padStart(6, "0")}`;
}

/**
 * Sends a slash command to the bot as Slack does: `POST target` with an `application/x-www-form-urlencoded`
 * body of `token, team_id, team_domain, channel_id, channel_name, user_id, user_name, command, text,
 * api_app_id, is_enterprise_install, response_url, trigger_id` (Slack's fields for slash commands,
 * https://docs.slack.dev/interactivity/implementing-slash-commands), signed with `signingSecret`.
 * `command` defaults to `/backstop`; `target` is the bot's events URL, e.g. `http://127.0.0.1:3000/slack/events`.
 * @throws the `fetch` error when the bot cannot be reached.
 */
export function sendSlashCommand(
  target: string,
  signingSecret: string,
  cmd: {
    text: string;
    user_id: string;
    channel_id: string;
    response_url: string;
    command?: string;
    user_name?: string;
    team_id?: string;
    channel_name?: string;
  },
  opts: SendOptions = {},
): Promise<SendResult> {
  const body = new URLSearchParams({
    token: "sandbox-verification-token",
    team_id: cmd.team_id ?? "T0SANDBOX",
    team_domain: "backstop-sandbox",
    channel_id: cmd.channel_id,
    channel_name: cmd.channel_name ?? cmd.channel_id.toLowerCase(),
    user_id: cmd.user_id,
    user_name: cmd.user_name ?? cmd.user_id.toLowerCase(),
    command: cmd.command ?? "/backstop",
    text: cmd.text,
    api_app_id: "A0BACKSTOP",
    is_enterprise_install: "false",
    response_url: cmd.response_url,
    trigger_id: opts.triggerId ?? triggerId(),
  }).toString();
  return sendSigned(target, signingSecret, body, "application/x-www-form-urlencoded", opts);
}

interface ButtonLike {
  type?: string;
  action_id?: string;
  text?: unknown;
  elements?: ButtonLike[];
  accessory?: ButtonLike;
  block_id?: string;
}

/** Finds the clicked element in the message's blocks to report its `block_id` and `text`, as Slack does. */
function findElement(blocks: unknown[], actionId: string): { block_id?: string; text?: unknown } | undefined {
  for (const raw of blocks) {
    const b = raw as ButtonLike;
    const candidates = [...(b.elements ?? []), ...(b.accessory ? [b.accessory] : [])];
    const hit = candidates.find((e) => e.action_id === actionId);
    if (hit) return { ...(b.block_id ? { block_id: b.block_id } : {}), text: hit.text };
  }
  return undefined;
}

/**
 * Sends a button click to the bot as Slack does: `POST target`, form-encoded with one `payload` field
 * holding a `block_actions` payload (https://docs.slack.dev/reference/interaction-payloads/block_actions-payload):
 * `type, user {id, username, name, team_id}, api_app_id, token, container {type: "message", message_ts,
 * channel_id, is_ephemeral}, trigger_id, team, channel {id, name}, message {type, user, ts, text, blocks,
 * thread_ts?}, state, response_url, actions [{action_id, block_id, text, value, type: "button", action_ts}]`.
 * When `message.blocks` holds the clicked button, its `block_id` and `text` are taken from there (unless
 * `block_id` is given).
 * @throws the `fetch` error when the bot cannot be reached.
 */
export function sendBlockAction(
  target: string,
  signingSecret: string,
  a: {
    user_id: string;
    channel_id: string;
    message_ts: string;
    thread_ts?: string;
    action_id: string;
    value: string;
    block_id?: string;
    response_url: string;
    message?: { text: string; blocks: unknown[] };
    user_name?: string;
    team_id?: string;
    is_ephemeral?: boolean;
  },
  opts: SendOptions = {},
): Promise<SendResult> {
  const teamId = a.team_id ?? "T0SANDBOX";
  const userName = a.user_name ?? a.user_id.toLowerCase();
  const blocks = a.message?.blocks ?? [];
  const found = findElement(blocks, a.action_id);
  const payload = {
    type: "block_actions",
    user: { id: a.user_id, username: userName, name: userName, team_id: teamId },
    api_app_id: "A0BACKSTOP",
    token: "sandbox-verification-token",
    container: {
      type: "message",
      message_ts: a.message_ts,
      channel_id: a.channel_id,
      is_ephemeral: a.is_ephemeral ?? false,
      ...(a.thread_ts ? { thread_ts: a.thread_ts } : {}),
    },
    trigger_id: opts.triggerId ?? triggerId(),
    team: { id: teamId, domain: "backstop-sandbox" },
    enterprise: null,
    is_enterprise_install: false,
    channel: { id: a.channel_id, name: a.channel_id.toLowerCase() },
    message: {
      type: "message",
      user: "U0BACKSTOP",
      ts: a.message_ts,
      text: a.message?.text ?? "",
      blocks,
      ...(a.thread_ts ? { thread_ts: a.thread_ts } : {}),
    },
    state: { values: {} },
    response_url: a.response_url,
    actions: [
      {
        action_id: a.action_id,
        block_id: a.block_id ?? found?.block_id ?? "actions",
        text: found?.text ?? { type: "plain_text", text: a.action_id, emoji: true },
        value: a.value,
        type: "button",
        action_ts: actionTs(),
      },
    ],
  };
  const body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
  return sendSigned(target, signingSecret, body, "application/x-www-form-urlencoded", opts);
}

/**
 * Sends an Events API event to the bot as Slack does: `POST target` with an `application/json`
 * `event_callback` envelope (`token, team_id, api_app_id, event, type, event_id, event_time, authorizations,
 * is_ext_shared_channel, event_context`; https://docs.slack.dev/apis/events-api/#callback-field), signed with
 * `signingSecret`. `retryNum`/`retryReason` add Slack's `X-Slack-Retry-Num` / `X-Slack-Retry-Reason` headers
 * (Slack retries an event up to 3 times when the app does not answer 2xx within 3 s). `event` is the inner
 * event, e.g. `{ type: "app_mention", user, text, ts, channel }`; `event_time` is Unix seconds.
 * @throws the `fetch` error when the bot cannot be reached.
 */
export async function sendEvent(
  target: string,
  signingSecret: string,
  event: { type: string } & Record<string, unknown>,
  opts: SendOptions & {
    team_id?: string;
    bot_user_id?: string;
    event_id?: string;
    retryNum?: number;
    retryReason?: string;
  } = {},
): Promise<SendResult> {
  const teamId = opts.team_id ?? "T0SANDBOX";
  const eventTime = Math.floor(Date.now() / 1000);
  const body = JSON.stringify({
    token: "sandbox-verification-token",
    team_id: teamId,
    context_team_id: teamId,
    api_app_id: "A0BACKSTOP",
    event: { event_ts: actionTs(), ...event },
    type: "event_callback",
    event_id: opts.event_id ?? `Ev${randomBytes(5).toString("hex").toUpperCase()}`,
    event_time: eventTime,
    authorizations: [
      {
        enterprise_id: null,
        team_id: teamId,
        user_id: opts.bot_user_id ?? "U0BACKSTOP",
        is_bot: true,
        is_enterprise_install: false,
      },
    ],
    is_ext_shared_channel: false,
    event_context: `4-${randomBytes(8).toString("hex")}`,
  });
  const secret = opts.forgeSignature ? `${signingSecret}-forged` : signingSecret;
  const headers: Record<string, string> = {
    "Content-Type": "application/json",
    "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
    ...signSlackRequest(secret, body, opts.timestampSec),
  };
  if (opts.retryNum !== undefined) {
    headers["X-Slack-Retry-Num"] = String(opts.retryNum);
    headers["X-Slack-Retry-Reason"] = opts.retryReason ?? "http_timeout";
  }
  const res = await fetch(target, { method: "POST", headers, body });
  return { status: res.status, body: await res.text() };
}
