/**
 * The public shapes of the sandbox Slack (the server is in `server.ts`): recorded messages, files, calls,
 * `response_url` contexts, the options of `startSandboxSlack` and the running handle.
 */

/**
 * One message as the sandbox recorded it. `ts` / `thread_ts` are Slack timestamps (`"1763731200.000100"`:
 * Unix seconds, a dot, six digits); `thread_ts` is the parent's `ts` for a reply and `null` for a top-level
 * message. `user` is the bot user ID for everything the bot posts. `ephemeral_to` is the user an ephemeral
 * message was shown to (`null` for ordinary messages). `edited` turns true after `chat.update` or a
 * `replace_original` response; `updated_at` is the ISO-8601 time of the last change. `files` are the files
 * shared by the message (`files.completeUploadExternal`). `reply_broadcast` is set on a thread reply that
 * was also sent to the channel.
 */
export interface RecordedMessage {
  channel: string;
  ts: string;
  thread_ts: string | null;
  user: string;
  text: string;
  blocks: unknown[];
  ephemeral_to: string | null;
  edited: boolean;
  updated_at: string;
  files: { id: string; name: string; title: string }[];
  reply_broadcast?: boolean;
}

/** A configured channel. Without any configured channel, every well-formed channel ID (`C…`, `G…`, `D…`) exists. */
export interface SandboxChannel {
  id: string;
  name: string;
  is_private?: boolean;
}

/**
 * Options for {@link startSandboxSlack}.
 * - `host` default `127.0.0.1`; `port` default 0 (an ephemeral port).
 * - `botToken`: the only token accepted (an `xoxb-…` bot token); any other → `invalid_auth`, none → `not_authed`.
 * - `botUserId` default `U0BACKSTOP`; `botId` default `B0BACKSTOP`; `teamId` default `T0SANDBOX`.
 * - `users`: workspace members for `users.info` (the bot user is always there, `is_bot: true`).
 * - `usergroups`: user group ID (`S…`) → member user IDs, for `usergroups.users.list`.
 * - `channels`: when given, only these channels exist (and `#name` resolves to them).
 */
export interface SandboxSlackOptions {
  host?: string;
  port?: number;
  botToken: string;
  botUserId?: string;
  botId?: string;
  teamId?: string;
  users?: { id: string; name: string; real_name?: string }[];
  usergroups?: Record<string, string[]>;
  channels?: SandboxChannel[];
}

/** A file uploaded through `files.getUploadURLExternal` → upload URL → `files.completeUploadExternal`. */
export interface SandboxFile {
  id: string;
  name: string;
  title: string;
  channel: string;
  thread_ts: string | null;
  bytes: Buffer;
  mimetype: string;
}

/**
 * What a `response_url` refers to, as Slack knows it when it hands one out: the channel, the user who
 * typed the command or clicked, and for an interaction the message the button was in (`message_ts`,
 * `ephemeral` when that message was ephemeral). Without a channel, responses are only recorded.
 */
export interface ResponseUrlContext {
  channel?: string;
  user?: string;
  message_ts?: string;
  ephemeral?: boolean;
}

/** One Web API call as received (the `token` argument is never recorded). */
export interface RecordedCall {
  method: string;
  args: Record<string, unknown>;
}

/**
 * A running sandbox Slack. `url` is `http://HOST:PORT/`; `apiUrl` is `${url}api/` (give it to WebClient or
 * Bolt as `slackApiUrl`). Accessors return copies. The same data is served over HTTP for a separate web
 * console: `GET /_sandbox/messages?channel=`, `/_sandbox/thread?channel=&ts=`, `/_sandbox/ephemerals?user=`,
 * `/_sandbox/files` (metadata), `/_sandbox/files/<id>` (the bytes, with their content type),
 * `/_sandbox/responses`, `/_sandbox/calls`, `/_sandbox/events` (Server-Sent Events: `event: message`,
 * `data: <RecordedMessage JSON>` for each new or updated message), `POST /_sandbox/response-urls`
 * (body: {@link ResponseUrlContext}) → `{ url }`, `POST /_sandbox/reset`.
 */
export interface SandboxSlack {
  url: string;
  apiUrl: string;
  /** Channel messages (top-level and replies, not ephemerals), in post order; all channels when omitted. */
  messages(channel?: string): RecordedMessage[];
  /** The root message `ts` of `channel` and its replies, in order. */
  thread(channel: string, ts: string): RecordedMessage[];
  /** Ephemeral messages, for one user or all. */
  ephemerals(user?: string): RecordedMessage[];
  /** Completed uploads (after `files.completeUploadExternal`), oldest first, with their bytes. */
  files(): SandboxFile[];
  /** A fresh `response_url` (`${url}response/<id>`), usable 5 times as Slack allows. */
  newResponseUrl(context?: ResponseUrlContext): string;
  responses(): { url: string; body: unknown }[];
  calls(): RecordedCall[];
  /** Subscribes to new and updated messages (ephemerals included); returns the unsubscribe function. */
  on(event: "message", listener: (m: RecordedMessage) => void): () => void;
  /** Forgets messages, files, responses and calls (timestamps keep increasing). */
  reset(): void;
  close(): Promise<void>;
}
