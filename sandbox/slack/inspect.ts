import type { IncomingMessage, ServerResponse } from "node:http";
import { z } from "zod";
import { readText, sendJson } from "../http.js";
import { MAX_BODY_BYTES } from "./args.js";
import { newResponseUrl } from "./response-url.js";
import type { SlackState } from "./state.js";
import type { SandboxFile } from "./types.js";

/** The body of `POST /_sandbox/response-urls`: a `ResponseUrlContext`. */
const ContextBody = z.object({
  channel: z.string().optional(),
  user: z.string().optional(),
  message_ts: z.string().optional(),
  ephemeral: z.boolean().optional(),
});

/** A file's metadata as `GET /_sandbox/files` lists it (`url` serves its bytes). */
function publicFile(s: SlackState, f: SandboxFile): Record<string, unknown> {
  return {
    id: f.id,
    name: f.name,
    title: f.title,
    channel: f.channel,
    thread_ts: f.thread_ts,
    mimetype: f.mimetype,
    size: f.bytes.length,
    url: `${s.base}_sandbox/files/${f.id}`,
  };
}

/** `GET /_sandbox/files/<id>`: the bytes with their content type (`?download` → `attachment`). */
function serveFile(s: SlackState, res: ServerResponse, id: string, download: boolean): void {
  const f = s.files.get(id);
  if (!f?.completed) {
    sendJson(res, 404, { ok: false, error: "file_not_found" });
    return;
  }
  res.writeHead(200, {
    "content-type": f.mimetype,
    "content-length": String(f.bytes.length),
    "content-disposition": `${download ? "attachment" : "inline"}; filename="${f.name.replace(/"/g, "")}"`,
  });
  res.end(f.bytes);
}

/** `GET /_sandbox/events`: a Server-Sent Events stream of `message` events until the client leaves. */
function openEvents(s: SlackState, req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(200, {
    "content-type": "text/event-stream",
    "cache-control": "no-cache",
    connection: "keep-alive",
  });
  res.write(": connected\n\n");
  s.sseClients.add(res);
  req.on("close", () => s.sseClients.delete(res));
}

/** `POST /_sandbox/response-urls`: a fresh `response_url` for the posted context → `{ ok, url }`. */
async function createResponseUrl(s: SlackState, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const raw = await readText(req, MAX_BODY_BYTES);
  let parsed: unknown = {};
  try {
    parsed = raw === "" ? {} : JSON.parse(raw);
  } catch {
    return sendJson(res, 400, { ok: false, error: "invalid_json" });
  }
  const ctx = ContextBody.safeParse(parsed);
  if (!ctx.success) return sendJson(res, 400, { ok: false, error: "invalid_arguments" });
  return sendJson(res, 200, { ok: true, url: newResponseUrl(s, ctx.data) });
}

/**
 * The inspection API under `/_sandbox/` that the web console and tests read: `GET messages?channel=`,
 * `thread?channel=&ts=` (400 without both), `ephemerals?user=`, `responses`, `calls`, `files`,
 * `files/<id>`, `events` (SSE); `POST response-urls`, `reset`. Anything else → 404 `not_found`.
 * @throws the `readBody` error past {@link MAX_BODY_BYTES}.
 */
export async function handleInspect(
  s: SlackState,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
): Promise<void> {
  const q = new URL(req.url ?? "/", "http://x").searchParams;
  const route = `${req.method ?? "GET"} ${path}`;
  switch (route) {
    case "GET /_sandbox/messages":
      return sendJson(res, 200, s.listMessages(q.get("channel") ?? undefined));
    case "GET /_sandbox/thread": {
      const channel = q.get("channel");
      const ts = q.get("ts");
      if (!channel || !ts) return sendJson(res, 400, { ok: false, error: "channel and ts are required" });
      return sendJson(res, 200, s.listThread(channel, ts));
    }
    case "GET /_sandbox/ephemerals":
      return sendJson(res, 200, s.listEphemerals(q.get("user") ?? undefined));
    case "GET /_sandbox/responses":
      return sendJson(res, 200, s.responses);
    case "GET /_sandbox/calls":
      return sendJson(res, 200, s.calls);
    case "GET /_sandbox/files":
      return sendJson(
        res,
        200,
        s.completedFiles().map((f) => publicFile(s, f)),
      );
    case "GET /_sandbox/events":
      return openEvents(s, req, res);
    case "POST /_sandbox/response-urls":
      return createResponseUrl(s, req, res);
    case "POST /_sandbox/reset":
      s.reset();
      return sendJson(res, 200, { ok: true });
  }
  const fileMatch = /^GET \/_sandbox\/files\/([A-Z0-9]+)$/.exec(route);
  if (fileMatch) return serveFile(s, res, fileMatch[1] ?? "", q.has("download"));
  return sendJson(res, 404, { ok: false, error: "not_found" });
}
