import { z } from "zod";
import { apiError, MAX_TEXT, parseArgs, USER_ID, zBlocks, zBool, zTs } from "../args.js";
import type { SlackState } from "../state.js";
import type { RecordedMessage } from "../types.js";
import type { MethodTable } from "./table.js";

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

/**
 * A message needs `text` or `blocks` (`no_text`), `text` of at most {@link MAX_TEXT} characters
 * (`msg_too_long`) and distinct `block_id`s (`invalid_blocks`), as Slack checks them.
 * @throws apiError with those codes.
 */
function checkContent(text: string | undefined, blocks: unknown[] | undefined): void {
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
}

/** The `message` object Slack returns from `chat.postMessage` / `chat.update`. */
function wireMessage(s: SlackState, m: RecordedMessage): Record<string, unknown> {
  return {
    type: "message",
    ...(m.user === s.botUserId ? { bot_id: s.botId, app_id: s.appId } : {}),
    user: m.user,
    team: s.teamId,
    text: m.text,
    ts: m.ts,
    blocks: m.blocks,
    ...(m.thread_ts ? { thread_ts: m.thread_ts } : {}),
    ...(m.edited ? { edited: { user: m.user, ts: m.updated_at } } : {}),
    ...(m.files.length > 0 ? { files: m.files, upload: true } : {}),
  };
}

/**
 * `chat.*` (https://docs.slack.dev/reference/methods/chat.postMessage and siblings): `chat.postMessage`
 * (threads, `reply_broadcast`), `chat.update` (only the bot's own messages: `cant_update_message`) and
 * `chat.postEphemeral` (a well-formed user ID; with configured users, a member: `user_not_in_channel`).
 */
export const chatMethods: MethodTable = {
  "chat.postMessage": (s, raw) => {
    const a = parseArgs(PostMessageArgs, raw);
    const ch = s.resolveChannel(a.channel);
    checkContent(a.text, a.blocks);
    const root = s.threadRoot(ch.id, a.thread_ts);
    const reply_broadcast = root !== null && a.reply_broadcast === true;
    const m = s.post({ channel: ch.id, thread_ts: root, text: a.text, blocks: a.blocks, reply_broadcast });
    return { channel: ch.id, ts: m.ts, message: wireMessage(s, m) };
  },
  "chat.update": (s, raw) => {
    const a = parseArgs(UpdateArgs, raw);
    const ch = s.resolveChannel(a.channel);
    if (a.text === undefined && a.blocks === undefined) throw apiError("no_text");
    checkContent(a.text ?? "-", a.blocks);
    const m = s.messages.find((x) => x.channel === ch.id && x.ts === a.ts);
    if (!m) throw apiError("message_not_found");
    if (m.user !== s.botUserId) throw apiError("cant_update_message");
    s.edit(m, a.text, a.blocks);
    return { channel: ch.id, ts: m.ts, text: m.text, message: wireMessage(s, m) };
  },
  "chat.postEphemeral": (s, raw) => {
    const a = parseArgs(EphemeralArgs, raw);
    const ch = s.resolveChannel(a.channel);
    if (!USER_ID.test(a.user)) throw apiError("user_not_found");
    if (s.usersConfigured && !s.users.some((u) => u.id === a.user)) throw apiError("user_not_in_channel");
    checkContent(a.text, a.blocks);
    const root = s.threadRoot(ch.id, a.thread_ts);
    const m = s.post({
      channel: ch.id,
      thread_ts: root,
      text: a.text,
      blocks: a.blocks,
      ephemeral_to: a.user,
    });
    return { message_ts: m.ts };
  },
};
