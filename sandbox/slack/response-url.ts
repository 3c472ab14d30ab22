import type { IncomingMessage, ServerResponse } from "node:http";
import { z } from "zod";
import { readText, sendJson } from "../http.js";
import { MAX_BLOCKS, MAX_BODY_BYTES, zTs } from "./args.js";
import type { SlackState } from "./state.js";
import type { ResponseUrlContext } from "./types.js";

/** "You can use a response_url up to five times within 30 minutes" (Slack, handling user interaction). */
const RESPONSE_URL_USES = 5;

/** A `response_url` payload (https://docs.slack.dev/interactivity/handling-user-interaction#message_responses). */
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

/**
 * Hands out a fresh `response_url` (`${base}response/<team>/<id>/<secret>`) for `ctx`, usable
 * {@link RESPONSE_URL_USES} times.
 */
export function newResponseUrl(s: SlackState, ctx: ResponseUrlContext = {}): string {
  const id = `${s.teamId}/${s.nextId("R")}/${Math.random().toString(36).slice(2, 12)}`;
  s.responseUrls.set(id, { ctx: { ...ctx }, uses: 0 });
  return `${s.base}response/${id}`;
}

/**
 * `POST /response/<id>`: a response to a slash command or interaction, as Slack takes it. Unknown URL →
 * 404 `expired_url`; past its uses → 404 `used_url`; not JSON → 400 `invalid_payload` (each use counts,
 * and every JSON body is recorded); an invalid payload → 400 `invalid_blocks`. Without a channel in the
 * context the response is only recorded. `delete_original` / `replace_original` act on the message of
 * the context (404 `message_not_found` without one); otherwise `in_channel` posts to the channel and the
 * default (`ephemeral`) shows the message to the context's user (404 `thread_not_found` for a bad `thread_ts`).
 * @throws the `readBody` error past {@link MAX_BODY_BYTES}.
 */
export async function handleResponseUrl(
  s: SlackState,
  req: IncomingMessage,
  res: ServerResponse,
  id: string,
): Promise<void> {
  const raw = await readText(req, MAX_BODY_BYTES);
  const entry = s.responseUrls.get(id);
  if (!entry) return sendJson(res, 404, { ok: false, error: "expired_url" });
  if (entry.uses >= RESPONSE_URL_USES) return sendJson(res, 404, { ok: false, error: "used_url" });
  entry.uses += 1;
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch {
    return sendJson(res, 400, { ok: false, error: "invalid_payload" });
  }
  s.responses.push({ url: `${s.base}response/${id}`, body });
  const r = ResponseBody.safeParse(body);
  if (!r.success) return sendJson(res, 400, { ok: false, error: "invalid_blocks" });
  const b = r.data;
  const { channel, user, message_ts: originalTs, ephemeral } = entry.ctx;
  if (!channel) return sendJson(res, 200, { ok: true });
  const pool = ephemeral ? s.ephemerals : s.messages;
  const original = originalTs ? pool.find((m) => m.channel === channel && m.ts === originalTs) : undefined;
  if (b.delete_original) {
    if (!original) return sendJson(res, 404, { ok: false, error: "message_not_found" });
    if (ephemeral) s.ephemerals = s.ephemerals.filter((m) => m !== original);
    else s.messages = s.messages.filter((m) => m !== original);
    return sendJson(res, 200, { ok: true });
  }
  if (b.replace_original) {
    if (!original) return sendJson(res, 404, { ok: false, error: "message_not_found" });
    s.edit(original, b.text ?? "", b.blocks ?? []);
    return sendJson(res, 200, { ok: true });
  }
  let root: string | null = null;
  try {
    root = s.threadRoot(channel, b.thread_ts);
  } catch {
    return sendJson(res, 404, { ok: false, error: "thread_not_found" });
  }
  // `in_channel` goes to everyone; the default (`ephemeral`) only to the user, when the context names one.
  const ephemeralTo = b.response_type === "in_channel" ? null : user;
  if (ephemeralTo === null || ephemeralTo) {
    s.post({ channel, thread_ts: root, text: b.text, blocks: b.blocks, ephemeral_to: ephemeralTo });
  }
  return sendJson(res, 200, { ok: true });
}
