import { createHash } from "node:crypto";
import { appendFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { z } from "zod";
import type { Scenario } from "../../scenarios/schema.js";
import { formatZodIssues } from "../../src/errors.js";
import { BodyTooLargeError, closeServer, listen, readText } from "../http.js";
import { forward } from "./live.js";
import { completionBody, sendOpenAiError, sendOpenAiJson } from "./reply.js";
import { modelLatencyMs, type Outcome, ScriptCursor, stepOutcome } from "./script.js";
import type { LoggedModelRequest, SandboxModelProvider, SandboxModelProviderOptions } from "./types.js";

export { formatReply } from "./reply.js";
export { UNSCRIPTED_JUDGE_REASON } from "./script.js";
export type {
  LiveUpstream,
  LoggedModelRequest,
  SandboxModelProvider,
  SandboxModelProviderOptions,
} from "./types.js";

/**
 * The sandbox model provider: an OpenAI-compatible Chat Completions endpoint on loopback, scripted per
 * scenario (`models.script` in `scenarios/schema.ts`). Wire formats follow the OpenAI API reference
 * (https://platform.openai.com/docs/api-reference/chat/create and /docs/guides/error-codes): response
 * objects `chat.completion`, error bodies `{error:{message,type,param,code}}`, `Retry-After` in seconds.
 * Like the TrueFoundry AI Gateway it answers `x-tfy-resolved-model` with the model that served and reads
 * `X-TFY-METADATA` (a JSON object of string values) for `run_id` and `purpose`. Scripting is in
 * `script.ts`, reply formats in `reply.ts`, live forwarding in `live.ts`.
 */

/** The largest request body accepted, bytes (20 MiB, far above any prompt Backstop sends); larger answers 413. */
export const MAX_REQUEST_BYTES = 20 * 1024 * 1024;

const ChatRequestSchema = z.object({
  model: z.string().min(1),
  messages: z.array(
    z.object({
      role: z.string(),
      content: z.union([
        z.string(),
        z.array(z.object({ type: z.string(), text: z.string().optional() })),
        z.null(),
      ]),
    }),
  ),
  stream: z.boolean().optional(),
});
type ChatRequest = z.infer<typeof ChatRequestSchema>;

const MetadataSchema = z.record(z.string(), z.string());

/** Text of a message's `content` (a string or an array of text parts). */
function contentText(content: ChatRequest["messages"][number]["content"]): string {
  if (content === null) return "";
  if (typeof content === "string") return content;
  return content.map((p) => p.text ?? "").join("");
}

/** `sha256:` plus the first 12 hex characters of the SHA-256 of `value`. */
function hashSecret(value: string): string {
  return `sha256:${createHash("sha256").update(value).digest("hex").slice(0, 12)}`;
}

/** Request headers lower-cased and joined, with `authorization` replaced by its hash (logs never hold a key). */
function loggedHeaders(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined) continue;
    const value = Array.isArray(v) ? v.join(", ") : v;
    headers[k.toLowerCase()] = k.toLowerCase() === "authorization" ? hashSecret(value) : value;
  }
  return headers;
}

/** `run_id`/`purpose` from `X-TFY-METADATA` (defaults `default`/`diagnose`), or the error to answer 400 with. */
function metadataOf(req: IncomingMessage): { runId: string; purpose: string; error: string | null } {
  const header = req.headers["x-tfy-metadata"];
  let meta: Record<string, string> = {};
  let error: string | null = null;
  if (typeof header === "string") {
    try {
      meta = MetadataSchema.parse(JSON.parse(header));
    } catch {
      error = "X-TFY-METADATA must be a JSON object of string values";
    }
  }
  return { runId: meta.run_id ?? "default", purpose: meta.purpose ?? "diagnose", error };
}

/**
 * Starts the provider. Routes: `GET /v1/models` (OpenAI `list` of `model` objects: every model in the
 * scenario's `models.chain`, `models.judge`, `models.script`, the virtual models, and any model requested
 * so far) and `POST /v1/chat/completions` (non-streaming only: `stream: true` answers 400).
 * The n-th call for one (`run_id`, model, `purpose`) uses `models.script[model][purpose][n]`; past the end,
 * `diagnose` answers `truth` and `judge` answers `ungrounded` (fail-closed, see `script.ts`). Missing
 * metadata means run `default`, purpose `diagnose`. A request without `Authorization: Bearer …` answers 401
 * like OpenAI does; a body over {@link MAX_REQUEST_BYTES} answers 413.
 * @throws the `listen` error (e.g. `EADDRINUSE`) when the port cannot be bound.
 */
export async function startSandboxModelProvider(
  opts: SandboxModelProviderOptions,
): Promise<SandboxModelProvider> {
  const script = new ScriptCursor(opts.scenario);
  const virtualModels = opts.virtualModels ?? {};
  let log: LoggedModelRequest[] = [];
  const pending = new Set<NodeJS.Timeout>();

  const record = (entry: LoggedModelRequest): void => {
    log.push(entry);
    if (opts.logFile) appendFileSync(opts.logFile, `${JSON.stringify(entry)}\n`);
  };

  const wait = (ms: number, res: ServerResponse): Promise<void> =>
    new Promise((resolve) => {
      if (ms <= 0) return resolve();
      const t = setTimeout(() => {
        pending.delete(t);
        resolve();
      }, ms);
      pending.add(t);
      res.on("close", () => {
        clearTimeout(t);
        pending.delete(t);
        resolve();
      });
    });

  const handleCompletion = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const headers = loggedHeaders(req);
    const at = new Date().toISOString();
    const { runId, purpose, error: metaError } = metadataOf(req);
    const base = { at, purpose, run_id: runId, headers };
    let raw: string;
    try {
      raw = await readText(req, MAX_REQUEST_BYTES);
    } catch (err) {
      if (!(err instanceof BodyTooLargeError)) throw err;
      record({ ...base, model: "", body: "", response_status: 413 });
      return sendOpenAiError(res, 413, `Request too large: the limit is ${err.limitBytes} bytes.`, {
        connection: "close",
      });
    }
    let body: unknown = raw;
    try {
      body = JSON.parse(raw);
    } catch {
      record({ ...base, model: "", body, response_status: 400 });
      return sendOpenAiError(res, 400, "We could not parse the JSON body of your request.");
    }
    const parsed = ChatRequestSchema.safeParse(body);
    if (!parsed.success) {
      const model =
        typeof (body as { model?: unknown })?.model === "string" ? (body as { model: string }).model : "";
      record({ ...base, model, body, response_status: 400 });
      return sendOpenAiError(res, 400, `Invalid request: ${formatZodIssues(parsed.error)}`);
    }
    const chat = parsed.data;
    const fail = (status: number, message: string): void => {
      record({ ...base, model: chat.model, body, response_status: status });
      sendOpenAiError(res, status, message);
    };
    if (metaError) return fail(400, metaError);
    if (!/^Bearer \S+/.test(req.headers.authorization ?? "")) {
      return fail(
        401,
        "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth.",
      );
    }
    if (chat.stream === true)
      return fail(400, "stream: true is not supported by the sandbox model provider.");
    script.see(chat.model);

    // Live mode: past the script, the real endpoint answers.
    const upstream = virtualModels[chat.model] ? null : (opts.live?.(chat.model, purpose) ?? null);
    if (upstream && script.usedUp(runId, chat.model, purpose)) {
      const status = await forward(res, upstream, chat.model, body, headers);
      record({ ...base, model: chat.model, body, response_status: status });
      return;
    }

    // A virtual model walks its members like a gateway; a plain model is its own single member.
    const members = virtualModels[chat.model] ?? [chat.model];
    let served = chat.model;
    let outcome: Outcome | undefined;
    let delayMs = 0;
    for (const member of members) {
      served = member;
      outcome = stepOutcome(script.scenario, script.next(runId, member, purpose), purpose);
      delayMs += outcome.delayMs + modelLatencyMs(script.scenario, member);
      if (outcome.kind === "ok") break;
    }
    if (!outcome) return fail(404, `The model \`${chat.model}\` does not exist.`);
    record({
      ...base,
      model: chat.model,
      body,
      response_status: outcome.kind === "ok" ? 200 : outcome.status,
    });
    await wait(delayMs, res);
    if (res.destroyed || res.writableEnded) return;
    if (outcome.kind === "error") {
      const extra: Record<string, string> = { "x-tfy-resolved-model": served };
      if (outcome.retryAfterS !== undefined) extra["retry-after"] = String(outcome.retryAfterS);
      return sendOpenAiError(res, outcome.status, outcome.message, extra);
    }
    const promptChars = chat.messages.reduce((n, m) => n + contentText(m.content).length, 0);
    sendOpenAiJson(
      res,
      200,
      completionBody(served, outcome.text, outcome.finish, outcome.usage, promptChars),
      { "x-tfy-resolved-model": served },
    );
  };

  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method === "GET" && path === "/v1/models") {
      const created = Math.floor(Date.now() / 1000);
      return sendOpenAiJson(res, 200, {
        object: "list",
        data: script
          .models(Object.keys(virtualModels))
          .map((id) => ({ id, object: "model", created, owned_by: "backstop-sandbox" })),
      });
    }
    if (path === "/v1/chat/completions") {
      if (req.method !== "POST") return sendOpenAiError(res, 405, `Method ${req.method} not allowed.`);
      handleCompletion(req, res).catch((err: unknown) =>
        sendOpenAiError(res, 500, `sandbox: ${(err as Error).message}`),
      );
      return;
    }
    sendOpenAiError(res, 404, `Unknown request URL: ${req.method} ${path}.`);
  });

  const { base } = await listen(server, opts.port ?? 0, opts.host ?? "127.0.0.1");
  return {
    url: `${base}/v1`,
    requests: () => log.map((e) => ({ ...e })),
    reset(next: Scenario) {
      script.reset(next);
      log = [];
    },
    close: () => {
      for (const t of pending) clearTimeout(t);
      pending.clear();
      return closeServer(server);
    },
  };
}
