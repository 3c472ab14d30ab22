import type { ServerResponse } from "node:http";
import { childLogger } from "../../src/log.js";
import { apiError, CHANNEL_ID } from "./args.js";
import type {
  RecordedCall,
  RecordedMessage,
  ResponseUrlContext,
  SandboxChannel,
  SandboxFile,
  SandboxSlackOptions,
} from "./types.js";

/** The sandbox Slack's logger (`component: sandbox-slack`). */
export const slackLog = childLogger("sandbox-slack");

/** A workspace member as `users.info` reports it; the bot user has `is_bot: true`. */
export interface WorkspaceUser {
  id: string;
  name: string;
  real_name: string;
  is_bot: boolean;
}

/**
 * A file of the `files.uploadV2` flow: announced by `files.getUploadURLExternal` (`length` bytes promised),
 * `uploaded` once its bytes reached the upload URL, `completed` after `files.completeUploadExternal`.
 */
export interface StoredFile extends SandboxFile {
  uploaded: boolean;
  length: number;
  completed: boolean;
}

/**
 * A message the bot posts: where (`channel`, `thread_ts` the thread root or `null`), what (`text` default
 * `""`, `blocks` default `[]`, `files` default `[]`), to whom (`ephemeral_to` a user, default `null`: the
 * channel), and `reply_broadcast` for a thread reply also sent to the channel.
 */
export interface BotPost {
  channel: string;
  thread_ts: string | null;
  text?: string | undefined;
  blocks?: unknown[] | undefined;
  ephemeral_to?: string | null | undefined;
  files?: RecordedMessage["files"];
  reply_broadcast?: boolean;
}

/** A handed-out `response_url`: what it refers to and how often it was used. */
export interface ResponseUrlEntry {
  ctx: ResponseUrlContext;
  uses: number;
}

/**
 * Everything one sandbox Slack knows: the workspace (fixed at start) and what happened since the last
 * reset (messages, ephemerals, files, `response_url`s, responses, calls). Every method family reads and
 * writes it; the HTTP server only routes. `base` is the server's `http://HOST:PORT/`, set once it listens.
 */
export class SlackState {
  readonly botToken: string;
  readonly botUserId: string;
  readonly botId: string;
  readonly teamId: string;
  readonly appId = "A0BACKSTOP";
  /** The bot user first, then the configured members. */
  readonly users: WorkspaceUser[];
  /** True when members were configured: then an ephemeral to anyone else is `user_not_in_channel`. */
  readonly usersConfigured: boolean;
  readonly usergroups: Record<string, string[]>;
  readonly channels: SandboxChannel[] | undefined;
  base = "";
  messages: RecordedMessage[] = [];
  ephemerals: RecordedMessage[] = [];
  files = new Map<string, StoredFile>();
  responseUrls = new Map<string, ResponseUrlEntry>();
  responses: { url: string; body: unknown }[] = [];
  calls: RecordedCall[] = [];
  readonly listeners = new Set<(m: RecordedMessage) => void>();
  /** Open `/_sandbox/events` streams. */
  readonly sseClients = new Set<ServerResponse>();
  private lastMicros = 0n;
  private seq = 0;

  constructor(opts: SandboxSlackOptions) {
    this.botToken = opts.botToken;
    this.botUserId = opts.botUserId ?? "U0BACKSTOP";
    this.botId = opts.botId ?? "B0BACKSTOP";
    this.teamId = opts.teamId ?? "T0SANDBOX";
    this.usergroups = opts.usergroups ?? {};
    this.channels = opts.channels;
    this.usersConfigured = opts.users !== undefined;
    this.users = [
      { id: this.botUserId, name: "backstop", real_name: "Backstop", is_bot: true },
      ...(opts.users ?? []).map((u) => ({
        id: u.id,
        name: u.name,
        real_name: u.real_name ?? u.name,
        is_bot: false,
      })),
    ];
  }

  /** Slack timestamps: Unix seconds "." microseconds, strictly increasing (also across resets). */
  nextTs(): string {
    let micros = BigInt(Date.now()) * 1000n;
    if (micros <= this.lastMicros) micros = this.lastMicros + 1n;
    this.lastMicros = micros;
    const s = micros.toString();
    return `${s.slice(0, -6)}.${s.slice(-6)}`;
  }

  /** A fresh Slack-style ID: `prefix` (`F` file, `R` response URL), `0`, eight base-36 digits. */
  nextId(prefix: string): string {
    return `${prefix}0${(++this.seq).toString(36).toUpperCase().padStart(8, "0")}`;
  }

  /** Tells listeners (each its own copy; a throwing listener is logged) and SSE clients of `m`. */
  emit(m: RecordedMessage): void {
    // Nobody listening (a benchmark's Slack): no copies, no frame.
    if (this.listeners.size === 0 && this.sseClients.size === 0) return;
    const copy = structuredClone(m);
    for (const l of this.listeners) {
      try {
        l(structuredClone(copy));
      } catch (err) {
        slackLog.warn({ err }, "message listener threw");
      }
    }
    if (this.sseClients.size === 0) return;
    const frame = `event: message\ndata: ${JSON.stringify(copy)}\n\n`;
    for (const c of this.sseClients) c.write(frame);
  }

  /**
   * A channel by ID or name (`#name` or `name`) among the configured ones; without configured channels,
   * any well-formed ID ({@link CHANNEL_ID}) exists, named by its lowercased ID.
   * @throws apiError `channel_not_found`.
   */
  resolveChannel(ref: string): SandboxChannel {
    if (this.channels) {
      const name = ref.startsWith("#") ? ref.slice(1) : ref;
      const found = this.channels.find((c) => c.id === ref || c.name === name);
      if (!found) throw apiError("channel_not_found");
      return found;
    }
    if (!CHANNEL_ID.test(ref)) throw apiError("channel_not_found");
    return { id: ref, name: ref.toLowerCase(), is_private: ref.startsWith("G") };
  }

  /**
   * The thread a reply to `threadTs` lands in: a reply to a reply goes to the root's thread, as in Slack;
   * `null` without `threadTs`.
   * @throws apiError `thread_not_found` for an unknown parent.
   */
  threadRoot(channel: string, threadTs: string | undefined): string | null {
    if (threadTs === undefined) return null;
    const parent = this.messages.find((m) => m.channel === channel && m.ts === threadTs);
    if (!parent) throw apiError("thread_not_found");
    return parent.thread_ts ?? parent.ts;
  }

  /** Records a message from the bot user (an ephemeral when `ephemeral_to` is set) with a fresh `ts`, and emits it. */
  post(p: BotPost): RecordedMessage {
    const rec: RecordedMessage = {
      channel: p.channel,
      thread_ts: p.thread_ts,
      user: this.botUserId,
      text: p.text ?? "",
      blocks: p.blocks ?? [],
      ephemeral_to: p.ephemeral_to ?? null,
      ...(p.reply_broadcast ? { reply_broadcast: true } : {}),
      ts: this.nextTs(),
      edited: false,
      updated_at: new Date().toISOString(),
      files: p.files ?? [],
    };
    if (rec.ephemeral_to) this.ephemerals.push(rec);
    else this.messages.push(rec);
    this.emit(rec);
    return rec;
  }

  /** Changes `m` in place (an undefined `text`/`blocks` keeps the old one), marks it edited, emits it. */
  edit(m: RecordedMessage, text: string | undefined, blocks: unknown[] | undefined): void {
    if (text !== undefined) m.text = text;
    if (blocks !== undefined) m.blocks = blocks;
    m.edited = true;
    m.updated_at = new Date().toISOString();
    this.emit(m);
  }

  /** Completed uploads, oldest first, as copies (bytes included). */
  completedFiles(): SandboxFile[] {
    return [...this.files.values()]
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
  }

  /** Copies of the channel messages of `channel`, or of all channels. */
  listMessages(channel?: string): RecordedMessage[] {
    const all = this.messages;
    return structuredClone(channel === undefined ? all : all.filter((m) => m.channel === channel));
  }

  /** Copies of the root message `ts` of `channel` and its replies, in order. */
  listThread(channel: string, ts: string): RecordedMessage[] {
    const inThread = (m: RecordedMessage) => m.channel === channel && (m.ts === ts || m.thread_ts === ts);
    return structuredClone(this.messages.filter(inThread));
  }

  /** Copies of the ephemerals shown to `user`, or of all. */
  listEphemerals(user?: string): RecordedMessage[] {
    const all = this.ephemerals;
    return structuredClone(user === undefined ? all : all.filter((m) => m.ephemeral_to === user));
  }

  /** Forgets messages, files, response URLs, responses and calls (timestamps and IDs keep increasing). */
  reset(): void {
    this.messages = [];
    this.ephemerals = [];
    this.files = new Map();
    this.responseUrls = new Map();
    this.responses = [];
    this.calls = [];
  }
}
