import type { IncomingMessage, ServerResponse } from "node:http";
import { readBody, sendJson } from "../http.js";
import { apiError, apiErrorBody, MAX_BODY_BYTES } from "./args.js";
import { METHODS } from "./methods/index.js";
import { type SlackState, slackLog } from "./state.js";

/**
 * Parses a Web API request's arguments into one flat object: query parameters, then the body — form
 * (`application/x-www-form-urlencoded`) and multipart values stay strings (file parts are skipped), a
 * JSON body keeps its types.
 * @throws apiError `invalid_json` (unparseable JSON) or `json_not_object` (JSON that is not an object).
 */
export async function parseRequestArgs(req: IncomingMessage, body: Buffer): Promise<Record<string, unknown>> {
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

/** The token of an `Authorization: Bearer <token>` header, if any. */
function bearer(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  if (!h) return undefined;
  const m = /^Bearer\s+(.+)$/i.exec(h);
  return m?.[1]?.trim();
}

/** Answers an {@link apiError} as Slack does (HTTP 200, `ok: false`); rethrows anything else. */
function answerError(res: ServerResponse, err: unknown): void {
  const body = apiErrorBody(err);
  if (!body) throw err;
  sendJson(res, 200, body);
}

/**
 * `POST|GET /api/<method>`: records the call (without its token), then answers in Slack's order of checks:
 * unparseable body → its error; unknown method → `unknown_method`; no token (neither `Authorization:
 * Bearer` nor a `token` argument) → `not_authed`; a token other than the bot token → `invalid_auth`;
 * else the method's answer from {@link METHODS}, always HTTP 200.
 * @throws the `readBody` error past {@link MAX_BODY_BYTES}; any non-API error of a method (a bug).
 */
export async function handleApi(
  s: SlackState,
  req: IncomingMessage,
  res: ServerResponse,
  method: string,
): Promise<void> {
  const body = await readBody(req, MAX_BODY_BYTES);
  let args: Record<string, unknown> = {};
  try {
    args = await parseRequestArgs(req, body);
  } catch (err) {
    s.calls.push({ method, args: {} });
    return answerError(res, err);
  }
  const token = bearer(req) ?? (typeof args.token === "string" ? args.token : undefined);
  const { token: _dropped, ...recorded } = args;
  s.calls.push({ method, args: recorded });
  slackLog.debug({ method }, "web api call");
  const handler = Object.hasOwn(METHODS, method) ? METHODS[method] : undefined;
  if (!handler) return sendJson(res, 200, { ok: false, error: "unknown_method" });
  if (!token) return sendJson(res, 200, { ok: false, error: "not_authed" });
  if (token !== s.botToken) return sendJson(res, 200, { ok: false, error: "invalid_auth" });
  try {
    sendJson(res, 200, { ok: true, ...handler(s, recorded) });
  } catch (err) {
    answerError(res, err);
  }
}
