import type { IncomingMessage, ServerResponse } from "node:http";
import { z } from "zod";
import { readBody } from "../../http.js";
import { apiError, jsonField, MAX_BODY_BYTES, parseArgs, zBlocks, zInt, zTs } from "../args.js";
import type { SlackState, StoredFile } from "../state.js";
import type { SandboxFile } from "../types.js";
import type { MethodTable } from "./table.js";

const UploadUrlArgs = z.object({ filename: z.string().min(1), length: zInt.pipe(z.number().min(1)) });
const CompleteArgs = z.object({
  files: jsonField(z.array(z.object({ id: z.string().min(1), title: z.string().optional() })).min(1)),
  channel_id: z.string().min(1).optional(),
  channels: z.string().min(1).optional(),
  thread_ts: zTs.optional(),
  initial_comment: z.string().optional(),
  blocks: zBlocks.optional(),
});

const MIME_BY_EXTENSION: Readonly<Record<string, string>> = {
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

/**
 * A content type for a file name, as Slack's `mimetype` field reports it: by extension when known, else
 * `fallback` (the uploader's content type) when non-empty, else `application/octet-stream`.
 */
export function mimeFor(name: string, fallback: string | undefined): string {
  const ext = name.toLowerCase().split(".").pop() ?? "";
  return MIME_BY_EXTENSION[ext] ?? (fallback && fallback !== "" ? fallback : "application/octet-stream");
}

/** The `file` object Slack returns from `files.completeUploadExternal`. */
function fileWire(s: SlackState, f: SandboxFile): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000);
  return {
    id: f.id,
    created: now,
    timestamp: now,
    name: f.name,
    title: f.title,
    mimetype: f.mimetype,
    filetype: f.name.includes(".") ? f.name.split(".").pop() : "binary",
    user: s.botUserId,
    size: f.bytes.length,
    url_private: `${s.base}_sandbox/files/${f.id}`,
    url_private_download: `${s.base}_sandbox/files/${f.id}?download=1`,
    permalink: `${s.base}files/${s.botUserId}/${f.id}/${encodeURIComponent(f.name)}`,
  };
}

/**
 * `files.*`: the `files.uploadV2` flow of WebClient
 * (https://docs.slack.dev/messaging/working-with-files#uploading_files): `files.getUploadURLExternal`
 * announces a file and hands out `${base}upload/v1/<id>` (see {@link receiveUpload}), then
 * `files.completeUploadExternal` shares the uploaded files in one channel (and thread), posting one
 * message that carries them. A file not uploaded yet, or already completed, is `file_not_found`; a list
 * of channels, or `thread_ts` without a channel, is `invalid_arguments`.
 */
export const filesMethods: MethodTable = {
  "files.getUploadURLExternal": (s, raw) => {
    const a = parseArgs(UploadUrlArgs, raw);
    const id = s.nextId("F");
    s.files.set(id, {
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
    return { upload_url: `${s.base}upload/v1/${id}`, file_id: id };
  },
  "files.completeUploadExternal": (s, raw) => {
    const a = parseArgs(CompleteArgs, raw);
    const channelRef = a.channel_id ?? a.channels;
    if (channelRef?.includes(",")) throw apiError("invalid_arguments");
    if (a.thread_ts && !channelRef) throw apiError("invalid_arguments");
    const ch = channelRef ? s.resolveChannel(channelRef) : undefined;
    const root = ch ? s.threadRoot(ch.id, a.thread_ts) : null;
    const done = a.files.map((f) => {
      const rec = s.files.get(f.id);
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
      s.post({
        channel: ch.id,
        thread_ts: root,
        text: a.initial_comment,
        blocks: a.blocks,
        files: done.map(({ rec }) => ({ id: rec.id, name: rec.name, title: rec.title })),
      });
    }
    return { files: done.map(({ rec }) => fileWire(s, rec)) };
  },
};

/** The first file part of a multipart body (its bytes and content type), or undefined when none. */
async function firstFilePart(
  body: Buffer,
  contentType: string,
): Promise<{ bytes: Buffer; type: string } | undefined> {
  const form = await new Response(new Uint8Array(body), {
    headers: { "content-type": contentType },
  }).formData();
  let part: { arrayBuffer(): Promise<ArrayBuffer>; type: string } | undefined;
  form.forEach((v) => {
    if (part === undefined && typeof v !== "string") part = v;
  });
  if (!part) return undefined;
  return { bytes: Buffer.from(await part.arrayBuffer()), type: part.type };
}

/**
 * `POST /upload/v1/<id>`: the upload URL of {@link filesMethods}. Takes the bytes raw (their content type
 * kept unless the name's extension is known) or as the first file part of multipart form data, as
 * WebClient sends them; answers `200 OK - <bytes>`. An unknown or completed file → 404; multipart without
 * a file part → 400.
 * @throws the `readBody` error past {@link MAX_BODY_BYTES}.
 */
export async function receiveUpload(
  s: SlackState,
  req: IncomingMessage,
  res: ServerResponse,
  id: string,
): Promise<void> {
  const body = await readBody(req, MAX_BODY_BYTES);
  const rec: StoredFile | undefined = s.files.get(id);
  if (!rec || rec.completed) {
    res.writeHead(404, { "content-type": "text/plain" }).end("Not Found");
    return;
  }
  const ct = req.headers["content-type"] ?? "";
  let bytes = body;
  let type: string | undefined = ct;
  if (ct.toLowerCase().startsWith("multipart/form-data")) {
    const part = await firstFilePart(body, ct);
    if (!part) {
      res.writeHead(400, { "content-type": "text/plain" }).end("no file part");
      return;
    }
    bytes = part.bytes;
    type = part.type;
  }
  rec.bytes = bytes;
  rec.uploaded = true;
  rec.mimetype = mimeFor(rec.name, type?.startsWith("multipart/") ? undefined : type);
  res.writeHead(200, { "content-type": "text/plain" }).end(`OK - ${bytes.length}`);
}
