import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { z } from "zod";
import { BackstopError } from "../../src/errors.js";
import { childLogger } from "../../src/log.js";

/**
 * The sandbox Slack Web API: a loopback stand-in for `https://slack.com/api/` that `@slack/web-api`'s
 * `WebClient` (and Bolt's `clientOptions.slackApiUrl`) talks to unchanged. Wire formats follow the Slack
 * Web API reference (https://docs.slack.dev/apis/web-api/): requests are `POST /api/<method>` with an
 * `application/x-www-form-urlencoded` body whose nested fields (`blocks`, `files`) are JSON strings (what
 * WebClient 8 sends), or an `application/json` body with `Authorization: Bearer <token>`; answers are
 * always HTTP 200 with `{ ok: true, ... }` or `{ ok: false, error: "<code>" }`, as Slack does.
 */

const log = childLogger("sandbox-slack");

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

/** Slack's documented cap on blocks in one message (https://docs.slack.dev/reference/block-kit/blocks). */
const MAX_BLOCKS = 50;
/** Slack truncates `text` beyond 40,000 characters and rejects longer with `msg_too_long`. */
const MAX_TEXT = 40_000;
/** "You can use a response_url up to five times within 30 minutes" (Slack, handling user interaction). */
const RESPONSE_URL_USES = 5;
/** Request bodies beyond this are refused with 413 (the sandbox never needs more). */
const MAX_BODY_BYTES = 20 * 1024 * 1024;

const CHANNEL_ID = /^[CGD][A-Z0-9]{2,}$/;
const USER_ID = /^[UW][A-Z0-9]{2,}$/;
const TS = /^\d{10}\.\d{6}$/;

/** A Slack API error: the handler answers `{ ok: false, error, ...extra }` with HTTP 200. */
function apiError(error: string, extra: Record<string, unknown> = {}): BackstopError {
  return new BackstopError("sandbox.slack.api_error", error, { details: { error, extra } });
}

const zBool = z.preprocess(
  (v) => (v === "true" || v === "1" ? true : v === "false" || v === "0" ? false : v),
  z.boolean(),
);
const jsonField = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v) => {
    if (typeof v !== "string") return v;
    try {
      return JSON.parse(v);
    } catch {
      return v;
    }
  }, schema);
const zBlocks = jsonField(
  z
    .array(z.looseObject({ type: z.string().min(1), block_id: z.string().max(255).optional() }))
    .max(MAX_BLOCKS),
);
const zTs = z.string().regex(TS, "not a Slack timestamp");
const zInt = z.preprocess(
  (v) => (typeof v === "string" && /^\d+$/.test(v) ? Number(v) : v),
  z.number().int(),
);

const PostMessageArgs = z.object({
  channel: z.string().min(1),
  text: z.string().optional(),
  blocks: zBlocks.optional(),
  thread_ts: zTs.optional(),
  reply_broadcast: zBool.optional(),
});
const UpdateArgs = z.object({
  channel: z.string().min(1),
  ts: zTs,
  text: z.string().optional(),
  blocks: zBlocks.optional(),
});
const EphemeralArgs = z.object({
  channel: z.string().min(1),
  user: z.string().min(1),
  text: z.string().optional(),
  blocks: zBlocks.optional(),
  thread_ts: zTs.optional(),
});
const UserArgs = z.object({ user: z.string().min(1) });
const UsergroupArgs = z.object({ usergroup: z.string().min(1), include_disabled: zBool.optional() });
const ChannelArgs = z.object({ channel: z.string().min(1) });
const UploadUrlArgs = z.object({ filename: z.string().min(1), length: zInt.pipe(z.number().min(1)) });
const CompleteArgs = z.object({
  files: jsonField(z.array(z.object({ id: z.string().min(1), title: z.string().optional() })).min(1)),
  channel_id: z.string().min(1).optional(),
  channels: z.string().min(1).optional(),
  thread_ts: zTs.optional(),
  initial_comment: z.string().optional(),
  blocks: zBlocks.optional(),
});
const ResponseBody = z.object({
  text: z.string().optional(),
  blocks: z
    .array(z.looseObject({ type: z.string().min(1) }))
    .max(MAX_BLOCKS)
    .optional(),
  response_type: z.enum(["ephemeral", "in_channel"]).optional(),
  replace_original: z.boolean().optional(),
  delete_original: z.boolean().optional(),
  thread_ts: zTs.optional(),
});
const ContextBody = z.object({
  channel: z.string().optional(),
  user: z.string().optional(),
  message_ts: z.string().optional(),
  ephemeral: z.boolean().optional(),
});

/**
 * Validates `args` against a method's schema, mapping failures to Slack's error codes: a bad `blocks` field
 * → `invalid_blocks`, a missing `channel` → `channel_not_found`, anything else → `invalid_arguments` with
 * `response_metadata.messages: ["[ERROR] <why> [json-pointer:/<field>]"]`, Slack's own form.
 */
function parseArgs<T extends z.ZodType>(schema: T, args: Record<string, unknown>): z.output<T> {
  const r = schema.safeParse(args);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const field = String(issue?.path[0] ?? "");
  if (field === "blocks") throw apiError("invalid_blocks");
  if (field === "channel" && args.channel === undefined) throw apiError("channel_not_found");
  const why = args[field] === undefined ? `missing required field: ${field}` : (issue?.message ?? "invalid");
  throw apiError("invalid_arguments", {
    response_metadata: { messages: [`[ERROR] ${why} [json-pointer:/${field}]`] },
  });
}

/** Guess of a content type from a file name, as Slack's `mimetype` field reports it. */
function mimeFor(name: string, fallback: string | undefined): string {
  const ext = name.toLowerCase().split(".").pop() ?? "";
  const known: Record<string, string> = {
    json: "application/json",
    txt: "text/plain",
    md: "text/markdown",
    csv: "text/csv",
    yaml: "text/yaml",
    yml: "text/yaml",
    log: "text/plain",
    png: "image/png",
    pdf: "application/pdf",
  };
  return known[ext] ?? (fallback && fallback !== "" ? fallback : "application/octet-stream");
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > MAX_BODY_BYTES) throw new BackstopError("sandbox.slack.too_large", "request body too large");
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json; charset=utf-8" });
  res.end(text);
}

/** Form, multipart and JSON bodies → flat args (form values stay strings; JSON keeps its types). */
async function parseRequestArgs(req: IncomingMessage, body: Buffer): Promise<Record<string, unknown>> {
  const ct = (req.headers["content-type"] ?? "").toLowerCase();
  const args: Record<string, unknown> = {};
  const query = new URL(req.url ?? "/", "http://x").searchParams;
  for (const [k, v] of query) args[k] = v;
  if (body.length === 0) return args;
  if (ct.startsWith("application/json")) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString("utf8"));
    } catch {
      throw apiError("invalid_json");
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
      throw apiError("json_not_object");
    Object.assign(args, parsed);
  } else if (ct.startsWith("multipart/form-data")) {
    const form = await new Response(new Uint8Array(body), {
      headers: { "content-type": req.headers["content-type"] ?? "" },
    }).formData();
    form.forEach((v, k) => {
      if (typeof v === "string") args[k] = v;
    });
  } else {
    for (const [k, v] of new URLSearchParams(body.toString("utf8"))) args[k] = v;
  }
  return args;
}

function bearer(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  if (!h) return undefined;
  const m = /^Bearer\s+(.+)$/i.exec(h);
  return m?.[1]?.trim();
}

/**
 * Starts the sandbox Slack Web API on loopback. Methods: `auth.test`, `chat.postMessage`, `chat.update`,
 * `chat.postEphemeral`, `users.info`, `usergroups.users.list`, `conversations.info`,
 * `files.getUploadURLExternal`, `files.completeUploadExternal` (and the upload URL between them, which
 * takes the bytes raw or as multipart form data, as WebClient sends them); plus `POST /response/<id>` for
 * `response_url`s. Unknown methods answer `unknown_method`. Every call is recorded.
 * @throws the `listen` error (e.g. `EADDRINUSE`) when the port cannot be bound.
 */
export async function startSandboxSlack(opts: SandboxSlackOptions): Promise<SandboxSlack> {
  if (!opts.botToken) throw new BackstopError("sandbox.slack.config", "botToken is required");
  const host = opts.host ?? "127.0.0.1";
  const botUserId = opts.botUserId ?? "U0BACKSTOP";
  const botId = opts.botId ?? "B0BACKSTOP";
  const teamId = opts.teamId ?? "T0SANDBOX";
  const appId = "A0BACKSTOP";
  const usergroups = opts.usergroups ?? {};
  const users = [
    { id: botUserId, name: "backstop", real_name: "Backstop", is_bot: true },
    ...(opts.users ?? []).map((u) => ({
      id: u.id,
      name: u.name,
      real_name: u.real_name ?? u.name,
      is_bot: false,
    })),
  ];

  let messages: RecordedMessage[] = [];
  let ephemerals: RecordedMessage[] = [];
  let files = new Map<string, SandboxFile & { uploaded: boolean; length: number; completed: boolean }>();
  let responseUrls = new Map<string, { ctx: ResponseUrlContext; uses: number }>();
  let responses: { url: string; body: unknown }[] = [];
  let calls: RecordedCall[] = [];
  let lastMicros = 0n;
  let seq = 0;
  const listeners = new Set<(m: RecordedMessage) => void>();
  const sseClients = new Set<ServerResponse>();
  let base = "";

  /** Slack timestamps: Unix seconds "." microseconds, strictly increasing. */
  const nextTs = (): string => {
    let micros = BigInt(Date.now()) * 1000n;
    if (micros <= lastMicros) micros = lastMicros + 1n;
    lastMicros = micros;
    const s = micros.toString();
    return `${s.slice(0, -6)}.${s.slice(-6)}`;
  };
  const nextId = (prefix: string): string =>
    `${prefix}0${(++seq).toString(36).toUpperCase().padStart(8, "0")}`;

  const emit = (m: RecordedMessage): void => {
    const copy = structuredClone(m);
    for (const l of listeners) {
      try {
        l(structuredClone(copy));
      } catch (err) {
        log.warn({ err }, "message listener threw");
      }
    }
    const frame = `event: message\ndata: ${JSON.stringify(copy)}\n\n`;
    for (const c of sseClients) c.write(frame);
  };

  const resolveChannel = (ref: string): SandboxChannel => {
    const configured = opts.channels;
    if (configured) {
      const name = ref.startsWith("#") ? ref.slice(1) : ref;
      const found = configured.find((c) => c.id === ref || c.name === name);
      if (!found) throw apiError("channel_not_found");
      return found;
    }
    if (!CHANNEL_ID.test(ref)) throw apiError("channel_not_found");
    return { id: ref, name: ref.toLowerCase(), is_private: ref.startsWith("G") };
  };

  /** A reply to a reply goes to the root's thread, as in Slack; an unknown parent → `thread_not_found`. */
  const threadRoot = (channel: string, threadTs: string | undefined): string | null => {
    if (threadTs === undefined) return null;
    const parent = messages.find((m) => m.channel === channel && m.ts === threadTs);
    if (!parent) throw apiError("thread_not_found");
    return parent.thread_ts ?? parent.ts;
  };

  const checkContent = (text: string | undefined, blocks: unknown[] | undefined): void => {
    if ((text === undefined || text === "") && (blocks === undefined || blocks.length === 0)) {
      throw apiError("no_text");
    }
    if (text !== undefined && text.length > MAX_TEXT) throw apiError("msg_too_long");
    if (blocks) {
      const ids = new Set<string>();
      for (const b of blocks as { block_id?: string }[]) {
        if (b.block_id === undefined) continue;
        if (ids.has(b.block_id)) throw apiError("invalid_blocks");
        ids.add(b.block_id);
      }
    }
  };

  /** The `message` object Slack returns from `chat.postMessage` / `chat.update`. */
  const wireMessage = (m: RecordedMessage): Record<string, unknown> => ({
    type: "message",
    ...(m.user === botUserId ? { bot_id: botId, app_id: appId } : {}),
    user: m.user,
    team: teamId,
    text: m.text,
    ts: m.ts,
    blocks: m.blocks,
    ...(m.thread_ts ? { thread_ts: m.thread_ts } : {}),
    ...(m.edited ? { edited: { user: m.user, ts: m.updated_at } } : {}),
    ...(m.files.length > 0 ? { files: m.files, upload: true } : {}),
  });

  const post = (
    m: Omit<RecordedMessage, "ts" | "edited" | "updated_at" | "files"> & { files?: RecordedMessage["files"] },
  ): RecordedMessage => {
    const rec: RecordedMessage = {
      ...m,
      ts: nextTs(),
      edited: false,
      updated_at: new Date().toISOString(),
      files: m.files ?? [],
    };
    if (rec.ephemeral_to) ephemerals.push(rec);
    else messages.push(rec);
    emit(rec);
    return rec;
  };

  const edit = (m: RecordedMessage, text: string | undefined, blocks: unknown[] | undefined): void => {
    if (text !== undefined) m.text = text;
    if (blocks !== undefined) m.blocks = blocks;
    m.edited = true;
    m.updated_at = new Date().toISOString();
    emit(m);
  };

  const fileWire = (f: SandboxFile) => ({
    id: f.id,
    created: Math.floor(Date.now() / 1000),
    timestamp: Math.floor(Date.now() / 1000),
    name: f.name,
    title: f.title,
    mimetype: f.mimetype,
    filetype: f.name.includes(".") ? f.name.split(".").pop() : "binary",
    user: botUserId,
    size: f.bytes.length,
    url_private: `${base}_sandbox/files/${f.id}`,
    url_private_download: `${base}_sandbox/files/${f.id}?download=1`,
    permalink: `${base}files/${botUserId}/${f.id}/${encodeURIComponent(f.name)}`,
  });

  type Handler = (args: Record<string, unknown>) => Record<string, unknown>;
  const methods: Record<string, Handler> = {
    "auth.test": () => ({
      url: "https://backstop-sandbox.slack.com/",
      team: "Backstop Sandbox",
      user: "backstop",
      team_id: teamId,
      user_id: botUserId,
      bot_id: botId,
      is_enterprise_install: false,
    }),
    "chat.postMessage": (raw) => {
      const a = parseArgs(PostMessageArgs, raw);
      const ch = resolveChannel(a.channel);
      checkContent(a.text, a.blocks);
      const root = threadRoot(ch.id, a.thread_ts);
      const m = post({
        channel: ch.id,
        thread_ts: root,
        user: botUserId,
        text: a.text ?? "",
        blocks: a.blocks ?? [],
        ephemeral_to: null,
        ...(root && a.reply_broadcast ? { reply_broadcast: true } : {}),
      });
      return { channel: ch.id, ts: m.ts, message: wireMessage(m) };
    },
    "chat.update": (raw) => {
      const a = parseArgs(UpdateArgs, raw);
      const ch = resolveChannel(a.channel);
      if (a.text === undefined && a.blocks === undefined) throw apiError("no_text");
      checkContent(a.text ?? "-", a.blocks);
      const m = messages.find((x) => x.channel === ch.id && x.ts === a.ts);
      if (!m) throw apiError("message_not_found");
      if (m.user !== botUserId) throw apiError("cant_update_message");
      edit(m, a.text, a.blocks);
      return { channel: ch.id, ts: m.ts, text: m.text, message: wireMessage(m) };
    },
    "chat.postEphemeral": (raw) => {
      const a = parseArgs(EphemeralArgs, raw);
      const ch = resolveChannel(a.channel);
      if (!USER_ID.test(a.user)) throw apiError("user_not_found");
      if (opts.users && !users.some((u) => u.id === a.user)) throw apiError("user_not_in_channel");
      checkContent(a.text, a.blocks);
      const root = threadRoot(ch.id, a.thread_ts);
      const m = post({
        channel: ch.id,
        thread_ts: root,
        user: botUserId,
        text: a.text ?? "",
        blocks: a.blocks ?? [],
        ephemeral_to: a.user,
      });
      return { message_ts: m.ts };
    },
    "users.info": (raw) => {
      const a = parseArgs(UserArgs, raw);
      const u = users.find((x) => x.id === a.user);
      if (!u) throw apiError("user_not_found");
      return {
        user: {
          id: u.id,
          team_id: teamId,
          name: u.name,
          deleted: false,
          real_name: u.real_name,
          tz: "Etc/UTC",
          is_admin: false,
          is_owner: false,
          is_bot: u.is_bot,
          is_app_user: false,
          profile: { display_name: u.name, real_name: u.real_name, team: teamId },
        },
      };
    },
    "usergroups.users.list": (raw) => {
      const a = parseArgs(UsergroupArgs, raw);
      const members = usergroups[a.usergroup];
      if (!members) throw apiError("no_such_subteam");
      return { users: [...members] };
    },
    "conversations.info": (raw) => {
      const a = parseArgs(ChannelArgs, raw);
      const ch = resolveChannel(a.channel);
      return {
        channel: {
          id: ch.id,
          name: ch.name,
          is_channel: ch.id.startsWith("C"),
          is_group: ch.id.startsWith("G"),
          is_im: ch.id.startsWith("D"),
          is_private: ch.is_private ?? false,
          is_archived: false,
          is_member: true,
          created: 1_700_000_000,
          creator: botUserId,
          context_team_id: teamId,
        },
      };
    },
    "files.getUploadURLExternal": (raw) => {
      const a = parseArgs(UploadUrlArgs, raw);
      const id = nextId("F");
      files.set(id, {
        id,
        name: a.filename,
        title: a.filename,
        channel: "",
        thread_ts: null,
        bytes: Buffer.alloc(0),
        mimetype: mimeFor(a.filename, undefined),
        uploaded: false,
        length: a.length,
        completed: false,
      });
      return { upload_url: `${base}upload/v1/${id}`, file_id: id };
    },
    "files.completeUploadExternal": (raw) => {
      const a = parseArgs(CompleteArgs, raw);
      const channelRef = a.channel_id ?? a.channels;
      if (channelRef?.includes(",")) throw apiError("invalid_arguments");
      if (a.thread_ts && !channelRef) throw apiError("invalid_arguments");
      const ch = channelRef ? resolveChannel(channelRef) : undefined;
      const root = ch ? threadRoot(ch.id, a.thread_ts) : null;
      const done = a.files.map((f) => {
        const rec = files.get(f.id);
        if (!rec?.uploaded || rec.completed) throw apiError("file_not_found");
        return { rec, title: f.title };
      });
      for (const { rec, title } of done) {
        rec.completed = true;
        if (title) rec.title = title;
        rec.channel = ch?.id ?? "";
        rec.thread_ts = root;
      }
      if (ch) {
        post({
          channel: ch.id,
          thread_ts: root,
          user: botUserId,
          text: a.initial_comment ?? "",
          blocks: a.blocks ?? [],
          ephemeral_to: null,
          files: done.map(({ rec }) => ({ id: rec.id, name: rec.name, title: rec.title })),
        });
      }
      return { files: done.map(({ rec }) => fileWire(rec)) };
    },
  };

  const handleApi = async (req: IncomingMessage, res: ServerResponse, method: string): Promise<void> => {
    const body = await readBody(req);
    let args: Record<string, unknown> = {};
    try {
      args = await parseRequestArgs(req, body);
    } catch (err) {
      calls.push({ method, args: {} });
      return answerError(res, err);
    }
    const token = bearer(req) ?? (typeof args.token === "string" ? args.token : undefined);
    const { token: _dropped, ...recorded } = args;
    calls.push({ method, args: recorded });
    log.debug({ method }, "web api call");
    const handler = methods[method];
    if (!handler) return sendJson(res, 200, { ok: false, error: "unknown_method" });
    if (!token) return sendJson(res, 200, { ok: false, error: "not_authed" });
    if (token !== opts.botToken) return sendJson(res, 200, { ok: false, error: "invalid_auth" });
    try {
      sendJson(res, 200, { ok: true, ...handler(recorded) });
    } catch (err) {
      answerError(res, err);
    }
  };

  const answerError = (res: ServerResponse, err: unknown): void => {
    if (err instanceof BackstopError && err.code === "sandbox.slack.api_error") {
      const d = err.details as { error: string; extra: Record<string, unknown> };
      sendJson(res, 200, { ok: false, error: d.error, ...d.extra });
      return;
    }
    throw err;
  };

  const handleUpload = async (req: IncomingMessage, res: ServerResponse, id: string): Promise<void> => {
    const body = await readBody(req);
    const rec = files.get(id);
    if (!rec || rec.completed) {
      res.writeHead(404, { "content-type": "text/plain" }).end("Not Found");
      return;
    }
    const ct = req.headers["content-type"] ?? "";
    let bytes = body;
    let type: string | undefined = ct;
    if (ct.toLowerCase().startsWith("multipart/form-data")) {
      const form = await new Response(new Uint8Array(body), { headers: { "content-type": ct } }).formData();
      let part: { arrayBuffer(): Promise<ArrayBuffer>; type: string } | undefined;
      form.forEach((v) => {
        if (part === undefined && typeof v !== "string") part = v;
      });
      if (!part) {
        res.writeHead(400, { "content-type": "text/plain" }).end("no file part");
        return;
      }
      bytes = Buffer.from(await part.arrayBuffer());
      type = part.type;
    }
    rec.bytes = bytes;
    rec.uploaded = true;
    rec.mimetype = mimeFor(rec.name, type?.startsWith("multipart/") ? undefined : type);
    res.writeHead(200, { "content-type": "text/plain" }).end(`OK - ${bytes.length}`);
  };

  const handleResponseUrl = async (req: IncomingMessage, res: ServerResponse, id: string): Promise<void> => {
    const raw = (await readBody(req)).toString("utf8");
    const entry = responseUrls.get(id);
    if (!entry) return sendJson(res, 404, { ok: false, error: "expired_url" });
    if (entry.uses >= RESPONSE_URL_USES) return sendJson(res, 404, { ok: false, error: "used_url" });
    entry.uses += 1;
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      return sendJson(res, 400, { ok: false, error: "invalid_payload" });
    }
    responses.push({ url: `${base}response/${id}`, body });
    const r = ResponseBody.safeParse(body);
    if (!r.success) return sendJson(res, 400, { ok: false, error: "invalid_blocks" });
    const b = r.data;
    const { channel, user, message_ts: originalTs, ephemeral } = entry.ctx;
    if (!channel) return sendJson(res, 200, { ok: true });
    const pool = ephemeral ? ephemerals : messages;
    const original = originalTs ? pool.find((m) => m.channel === channel && m.ts === originalTs) : undefined;
    if (b.delete_original) {
      if (!original) return sendJson(res, 404, { ok: false, error: "message_not_found" });
      if (ephemeral) ephemerals = ephemerals.filter((m) => m !== original);
      else messages = messages.filter((m) => m !== original);
      return sendJson(res, 200, { ok: true });
    }
    if (b.replace_original) {
      if (!original) return sendJson(res, 404, { ok: false, error: "message_not_found" });
      edit(original, b.text ?? "", b.blocks ?? []);
      return sendJson(res, 200, { ok: true });
    }
    let root: string | null = null;
    try {
      root = threadRoot(channel, b.thread_ts);
    } catch {
      return sendJson(res, 404, { ok: false, error: "thread_not_found" });
    }
    if (b.response_type === "in_channel") {
      post({
        channel,
        thread_ts: root,
        user: botUserId,
        text: b.text ?? "",
        blocks: b.blocks ?? [],
        ephemeral_to: null,
      });
    } else if (user) {
      post({
        channel,
        thread_ts: root,
        user: botUserId,
        text: b.text ?? "",
        blocks: b.blocks ?? [],
        ephemeral_to: user,
      });
    }
    return sendJson(res, 200, { ok: true });
  };

  const newResponseUrl = (ctx: ResponseUrlContext = {}): string => {
    const id = `${teamId}/${nextId("R")}/${Math.random().toString(36).slice(2, 12)}`;
    responseUrls.set(id, { ctx: { ...ctx }, uses: 0 });
    return `${base}response/${id}`;
  };

  const publicFile = (f: SandboxFile) => ({
    id: f.id,
    name: f.name,
    title: f.title,
    channel: f.channel,
    thread_ts: f.thread_ts,
    mimetype: f.mimetype,
    size: f.bytes.length,
    url: `${base}_sandbox/files/${f.id}`,
  });
  const completedFiles = (): SandboxFile[] =>
    [...files.values()]
      .filter((f) => f.completed)
      .map((f) => ({
        id: f.id,
        name: f.name,
        title: f.title,
        channel: f.channel,
        thread_ts: f.thread_ts,
        bytes: Buffer.from(f.bytes),
        mimetype: f.mimetype,
      }));
  const listMessages = (channel?: string): RecordedMessage[] =>
    structuredClone(channel === undefined ? messages : messages.filter((m) => m.channel === channel));
  const listThread = (channel: string, ts: string): RecordedMessage[] =>
    structuredClone(messages.filter((m) => m.channel === channel && (m.ts === ts || m.thread_ts === ts)));
  const listEphemerals = (user?: string): RecordedMessage[] =>
    structuredClone(user === undefined ? ephemerals : ephemerals.filter((m) => m.ephemeral_to === user));

  const reset = (): void => {
    messages = [];
    ephemerals = [];
    files = new Map();
    responseUrls = new Map();
    responses = [];
    calls = [];
  };

  const handleSandbox = async (req: IncomingMessage, res: ServerResponse, path: string): Promise<void> => {
    const q = new URL(req.url ?? "/", "http://x").searchParams;
    const method = req.method ?? "GET";
    if (method === "GET" && path === "/_sandbox/messages") {
      return sendJson(res, 200, listMessages(q.get("channel") ?? undefined));
    }
    if (method === "GET" && path === "/_sandbox/thread") {
      const channel = q.get("channel");
      const ts = q.get("ts");
      if (!channel || !ts) return sendJson(res, 400, { ok: false, error: "channel and ts are required" });
      return sendJson(res, 200, listThread(channel, ts));
    }
    if (method === "GET" && path === "/_sandbox/ephemerals") {
      return sendJson(res, 200, listEphemerals(q.get("user") ?? undefined));
    }
    if (method === "GET" && path === "/_sandbox/responses") return sendJson(res, 200, responses);
    if (method === "GET" && path === "/_sandbox/calls") return sendJson(res, 200, calls);
    if (method === "GET" && path === "/_sandbox/files") {
      return sendJson(res, 200, completedFiles().map(publicFile));
    }
    const fileMatch = /^\/_sandbox\/files\/([A-Z0-9]+)$/.exec(path);
    if (method === "GET" && fileMatch) {
      const f = files.get(fileMatch[1] ?? "");
      if (!f?.completed) return sendJson(res, 404, { ok: false, error: "file_not_found" });
      res.writeHead(200, {
        "content-type": f.mimetype,
        "content-length": String(f.bytes.length),
        "content-disposition": `${q.has("download") ? "attachment" : "inline"}; filename="${f.name.replace(/"/g, "")}"`,
      });
      res.end(f.bytes);
      return;
    }
    if (method === "GET" && path === "/_sandbox/events") {
      res.writeHead(200, {
        "content-type": "text/event-stream",
        "cache-control": "no-cache",
        connection: "keep-alive",
      });
      res.write(": connected\n\n");
      sseClients.add(res);
      req.on("close", () => sseClients.delete(res));
      return;
    }
    if (method === "POST" && path === "/_sandbox/response-urls") {
      const raw = (await readBody(req)).toString("utf8");
      let parsed: unknown = {};
      try {
        parsed = raw === "" ? {} : JSON.parse(raw);
      } catch {
        return sendJson(res, 400, { ok: false, error: "invalid_json" });
      }
      const ctx = ContextBody.safeParse(parsed);
      if (!ctx.success) return sendJson(res, 400, { ok: false, error: "invalid_arguments" });
      return sendJson(res, 200, { ok: true, url: newResponseUrl(ctx.data) });
    }
    if (method === "POST" && path === "/_sandbox/reset") {
      reset();
      return sendJson(res, 200, { ok: true });
    }
    return sendJson(res, 404, { ok: false, error: "not_found" });
  };

  const server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    const route = async (): Promise<void> => {
      const api = /^\/api\/([A-Za-z0-9_.]+)$/.exec(path);
      if (api && (req.method === "POST" || req.method === "GET")) return handleApi(req, res, api[1] ?? "");
      const upload = /^\/upload\/v1\/([A-Z0-9]+)$/.exec(path);
      if (upload && req.method === "POST") return handleUpload(req, res, upload[1] ?? "");
      const resp = /^\/response\/(.+)$/.exec(path);
      if (resp && req.method === "POST") return handleResponseUrl(req, res, resp[1] ?? "");
      if (path.startsWith("/_sandbox/")) return handleSandbox(req, res, path);
      sendJson(res, 404, { ok: false, error: "not_found" });
    };
    route().catch((err: unknown) => {
      const tooLarge = err instanceof BackstopError && err.code === "sandbox.slack.too_large";
      if (!tooLarge) log.error({ err, path }, "sandbox slack request failed");
      if (!res.headersSent)
        sendJson(res, tooLarge ? 413 : 500, { ok: false, error: tooLarge ? "too_large" : "internal_error" });
      else res.end();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  base = `http://${host.includes(":") ? `[${host}]` : host}:${port}/`;
  log.debug({ url: base }, "sandbox slack listening");

  return {
    url: base,
    apiUrl: `${base}api/`,
    messages: listMessages,
    thread: listThread,
    ephemerals: listEphemerals,
    files: completedFiles,
    newResponseUrl,
    responses: () => structuredClone(responses),
    calls: () => structuredClone(calls),
    on: (_event, listener) => {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
    reset,
    close: () =>
      new Promise<void>((resolve, reject) => {
        for (const c of sseClients) c.end();
        sseClients.clear();
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
