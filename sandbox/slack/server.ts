import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { BackstopError } from "../../src/errors.js";
import { BodyTooLargeError, closeServer, listen, sendJson } from "../http.js";
import { handleApi } from "./api.js";
import { handleInspect } from "./inspect.js";
import { receiveUpload } from "./methods/index.js";
import { handleResponseUrl, newResponseUrl } from "./response-url.js";
import { SlackState, slackLog } from "./state.js";
import type { SandboxSlack, SandboxSlackOptions } from "./types.js";

/**
 * The sandbox Slack Web API: a loopback stand-in for `https://slack.com/api/` that `@slack/web-api`'s
 * `WebClient` (and Bolt's `clientOptions.slackApiUrl`) talks to unchanged. Wire formats follow the Slack
 * Web API reference (https://docs.slack.dev/apis/web-api/): requests are `POST /api/<method>` with an
 * `application/x-www-form-urlencoded` body whose nested fields (`blocks`, `files`) are JSON strings (what
 * WebClient 8 sends), or an `application/json` body with `Authorization: Bearer <token>`; answers are
 * always HTTP 200 with `{ ok: true, ... }` or `{ ok: false, error: "<code>" }`, as Slack does.
 *
 * This file only routes: the methods live in per-family tables under `methods/`, the state they share in
 * `state.ts`, `response_url`s in `response-url.ts` and the `/_sandbox/` inspection API in `inspect.ts`.
 */

/** Routes one request: `/api/<method>`, the upload URL, `response_url`s, `/_sandbox/…`; else 404. */
function route(s: SlackState, req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
  const api = /^\/api\/([A-Za-z0-9_.]+)$/.exec(path);
  if (api && (req.method === "POST" || req.method === "GET")) return handleApi(s, req, res, api[1] ?? "");
  const upload = /^\/upload\/v1\/([A-Z0-9]+)$/.exec(path);
  if (upload && req.method === "POST") return receiveUpload(s, req, res, upload[1] ?? "");
  const resp = /^\/response\/(.+)$/.exec(path);
  if (resp && req.method === "POST") return handleResponseUrl(s, req, res, resp[1] ?? "");
  if (path.startsWith("/_sandbox/")) return handleInspect(s, req, res, path);
  sendJson(res, 404, { ok: false, error: "not_found" });
  return Promise.resolve();
}

/**
 * Starts the sandbox Slack Web API on loopback. Methods: `auth.test`, `chat.postMessage`, `chat.update`,
 * `chat.postEphemeral`, `users.info`, `usergroups.users.list`, `conversations.info`,
 * `files.getUploadURLExternal`, `files.completeUploadExternal` (and the upload URL between them, which
 * takes the bytes raw or as multipart form data, as WebClient sends them); plus `POST /response/<id>` for
 * `response_url`s. Unknown methods answer `unknown_method`. Every call is recorded. A request body over
 * 20 MiB is answered 413 `too_large`; an unexpected failure 500 `internal_error` (and logged).
 * @throws BackstopError `sandbox.slack.config` without a `botToken`; the `listen` error (e.g.
 *   `EADDRINUSE`) when the port cannot be bound.
 */
export async function startSandboxSlack(opts: SandboxSlackOptions): Promise<SandboxSlack> {
  if (!opts.botToken) throw new BackstopError("sandbox.slack.config", "botToken is required");
  const host = opts.host ?? "127.0.0.1";
  const s = new SlackState(opts);

  const server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    route(s, req, res, path).catch((err: unknown) => {
      const tooLarge = err instanceof BodyTooLargeError;
      if (!tooLarge) slackLog.error({ err, path }, "sandbox slack request failed");
      if (!res.headersSent)
        sendJson(res, tooLarge ? 413 : 500, { ok: false, error: tooLarge ? "too_large" : "internal_error" });
      else res.end();
    });
  });

  const bound = await listen(server, opts.port ?? 0, host);
  s.base = `${bound.base}/`;
  slackLog.debug({ url: s.base }, "sandbox slack listening");

  return {
    url: s.base,
    apiUrl: `${s.base}api/`,
    messages: (channel) => s.listMessages(channel),
    thread: (channel, ts) => s.listThread(channel, ts),
    ephemerals: (user) => s.listEphemerals(user),
    files: () => s.completedFiles(),
    newResponseUrl: (ctx) => newResponseUrl(s, ctx),
    responses: () => structuredClone(s.responses),
    calls: () => structuredClone(s.calls),
    on: (_event, listener) => {
      s.listeners.add(listener);
      return () => {
        s.listeners.delete(listener);
      };
    },
    reset: () => s.reset(),
    close: () => {
      for (const c of s.sseClients) c.end();
      s.sseClients.clear();
      return closeServer(server);
    },
  };
}
