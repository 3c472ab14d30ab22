import { createHash, randomUUID } from "node:crypto";
import { appendFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { z } from "zod";
import type { ModelStep, Scenario } from "../../scenarios/schema.js";

/**
 * The sandbox model provider: an OpenAI-compatible Chat Completions endpoint on loopback, scripted per
 * scenario (`models.script` in `scenarios/schema.ts`). Wire formats follow the OpenAI API reference
 * (https://platform.openai.com/docs/api-reference/chat/create and /docs/guides/error-codes): response
 * objects `chat.completion`, error bodies `{error:{message,type,param,code}}`, `Retry-After` in seconds.
 * Like the TrueFoundry AI Gateway it answers `x-tfy-resolved-model` with the model that served and reads
 * `X-TFY-METADATA` (a JSON object of string values) for `run_id` and `purpose`.
 */

/**
 * Options for {@link startSandboxModelProvider}.
 * - `host` default `127.0.0.1`, `port` default 0 (an ephemeral port).
 * - `logFile`: every request is appended to it as one JSON line (see {@link LoggedModelRequest}).
 * - `virtualModels`: gateway-style virtual models, name → ordered list of scenario models. A request to
 *   the virtual model walks the list and answers with the first model whose scripted step is not an error
 *   (each member's own counter advances), setting `x-tfy-resolved-model` to that member; if all fail, the
 *   last error is returned. This simulates a gateway-side fallback (TrueFoundry virtual models).
 */
export interface SandboxModelProviderOptions {
  scenario: Scenario;
  host?: string;
  port?: number;
  logFile?: string;
  virtualModels?: Record<string, string[]>;
  /**
   * `--live`: where a call goes once the scenario's script for that (run, model, purpose) is used up —
   * a real OpenAI-compatible endpoint (`baseURL` ending in `/v1`, its API key, the model to ask for), or
   * null to keep the scripted default. The request is forwarded as is (model replaced, the caller's
   * `X-TFY-*` headers kept) and the upstream answer returned unchanged, `x-tfy-resolved-model` included.
   */
  live?: (model: string, purpose: string) => LiveUpstream | null;
}

/** A real endpoint the provider forwards to in live mode. */
export interface LiveUpstream {
  baseURL: string;
  apiKey: string | undefined;
  model: string;
  timeoutMs: number;
}

/**
 * One request as the provider saw it. `at` is ISO-8601; `headers` are lower-cased, with `authorization`
 * replaced by `sha256:<first 12 hex of sha256(raw value)>` so a log never holds an API key; `body` is the
 * parsed JSON request (or the raw text when it was not JSON); `response_status` the HTTP status answered.
 * `model` is the requested model (for a virtual model, the virtual name).
 */
export interface LoggedModelRequest {
  at: string;
  model: string;
  purpose: string;
  run_id: string;
  headers: Record<string, string>;
  body: unknown;
  response_status: number;
}

/**
 * A running provider. `url` is the base URL ending in `/v1` (give it to the `openai` client as `baseURL`).
 * `requests()` returns a copy of the in-memory log; `reset(scenario)` swaps the scenario and clears the
 * counters and the in-memory log (the log file keeps growing); `close()` stops the server, dropping
 * connections that are still waiting on a `delay_ms`.
 */
export interface SandboxModelProvider {
  url: string;
  requests(): LoggedModelRequest[];
  reset(scenario: Scenario): void;
  close(): Promise<void>;
}

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

/** Error `type`/`code` per HTTP status, as the OpenAI API answers them (docs: guides/error-codes). */
function errorShape(status: number): { type: string; code: string | null; message: string } {
  switch (status) {
    case 400:
      return { type: "invalid_request_error", code: null, message: "Invalid request." };
    case 401:
      return {
        type: "invalid_request_error",
        code: "invalid_api_key",
        message: "Incorrect API key provided.",
      };
    case 403:
      return {
        type: "invalid_request_error",
        code: "unsupported_country_region_territory",
        message: "Forbidden.",
      };
    case 404:
      return { type: "invalid_request_error", code: "model_not_found", message: "The model does not exist." };
    case 408:
      return { type: "timeout", code: "request_timeout", message: "Request timed out." };
    case 429:
      return { type: "requests", code: "rate_limit_exceeded", message: "Rate limit reached for requests." };
    case 503:
      return {
        type: "server_error",
        code: "service_unavailable",
        message: "The engine is currently overloaded, please try again later.",
      };
    default:
      return status >= 500
        ? {
            type: "server_error",
            code: null,
            message: "The server had an error while processing your request.",
          }
        : { type: "invalid_request_error", code: null, message: `Request failed with status ${status}.` };
  }
}

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

/** Wraps a JSON text in the scripted `format`. */
export function formatReply(json: string, format: ModelStep["format"]): string {
  switch (format) {
    case "plain":
      return json;
    case "fenced":
      return `\`\`\`json\n${json}\n\`\`\``;
    case "prose":
      return `Based on the signals, here is my assessment.\n${json}\nLet me know if you need anything else.`;
    case "truncated":
      return json.slice(0, Math.max(1, Math.floor(json.length / 2)));
    case "garbage":
      return "I looked at the cluster and I am fairly sure something went wrong with the latest deploy, but I cannot say more.";
  }
}

type Outcome =
  | { kind: "error"; status: number; message: string; retryAfterS: number | undefined; delayMs: number }
  | {
      kind: "ok";
      text: string;
      finish: "stop" | "length";
      usage: { prompt_tokens: number; completion_tokens: number } | undefined;
      delayMs: number;
    };

/** The reason of the fail-closed answer to a judge call the scenario did not script. */
export const UNSCRIPTED_JUDGE_REASON =
  "sandbox: no judge reply is scripted for this call; an unscripted judge answers ungrounded (fail-closed)";

/**
 * Decides what one scripted step answers. The judge never reads the ground truth: it answers what
 * its step says (`grounded` / `ungrounded`, or any other reply kind), nothing else.
 */
function stepOutcome(scenario: Scenario, step: ModelStep, purpose: string): Outcome {
  const delayMs = step.delay_ms ?? 0;
  if (step.status !== undefined) {
    return {
      kind: "error",
      status: step.status,
      message: step.message ?? errorShape(step.status).message,
      retryAfterS: step.retry_after_s,
      delayMs,
    };
  }
  const reply = step.reply ?? (purpose === "judge" ? "ungrounded" : "truth");
  if (reply === "raw") {
    return { kind: "ok", text: step.text ?? "", finish: "stop", usage: step.usage, delayMs };
  }
  let json: string;
  switch (reply) {
    case "truth":
      json = JSON.stringify(scenario.truth.diagnosis, null, 2);
      break;
    case "wrong":
    case "diagnosis": {
      const d = reply === "wrong" ? scenario.wrong : step.diagnosis;
      if (!d) {
        return {
          kind: "error",
          status: 500,
          message: `sandbox: scenario scripts reply "${reply}" but has no ${reply === "wrong" ? "`wrong`" : "inline `diagnosis`"}`,
          retryAfterS: undefined,
          delayMs,
        };
      }
      json = JSON.stringify(d, null, 2);
      break;
    }
    case "grounded":
      json = JSON.stringify({
        grounded: true,
        reason: step.reason ?? "the diagnosis is supported by the signals",
      });
      break;
    case "ungrounded":
      json = JSON.stringify({
        grounded: false,
        reason:
          step.reason ??
          (step.reply === undefined
            ? UNSCRIPTED_JUDGE_REASON
            : "the diagnosis is not supported by the signals"),
      });
      break;
  }
  return {
    kind: "ok",
    text: formatReply(json, step.format),
    finish: step.format === "truncated" ? "length" : "stop",
    usage: step.usage,
    delayMs,
  };
}

/** The scripted latency (`latency_ms`, ms) of a model named in the scenario's chain or judge; 0 otherwise. */
function modelLatencyMs(scenario: Scenario, model: string): number {
  const t = [...scenario.models.chain, scenario.models.judge].find((x) => x.model === model);
  return t?.latency_ms ?? 0;
}

/** Reads a request body as UTF-8 text. */
function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

/**
 * Starts the provider. Routes: `GET /v1/models` (OpenAI `list` of `model` objects: every model in the
 * scenario's `models.chain`, `models.judge`, `models.script`, the virtual models, and any model requested
 * so far) and `POST /v1/chat/completions` (non-streaming only: `stream: true` answers 400).
 * The n-th call for one (`run_id`, model, `purpose`) uses `models.script[model][purpose][n]`; past the end,
 * `diagnose` answers `truth` and `judge` answers `ungrounded` (fail-closed: no sandbox judge
 * ever compares a diagnosis with the scenario's ground truth, which no real model could). Missing metadata means run `default`, purpose
 * `diagnose`. A request without `Authorization: Bearer …` answers 401 like OpenAI does.
 * @throws the `listen` error (e.g. `EADDRINUSE`) when the port cannot be bound.
 */
export async function startSandboxModelProvider(
  opts: SandboxModelProviderOptions,
): Promise<SandboxModelProvider> {
  let scenario = opts.scenario;
  const virtualModels = opts.virtualModels ?? {};
  const counters = new Map<string, number>();
  const seenModels = new Set<string>();
  let log: LoggedModelRequest[] = [];
  const pending = new Set<NodeJS.Timeout>();

  const record = (entry: LoggedModelRequest): void => {
    log.push(entry);
    if (opts.logFile) appendFileSync(opts.logFile, `${JSON.stringify(entry)}\n`);
  };

  const sendJson = (
    res: ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ): void => {
    if (res.writableEnded || res.destroyed) return;
    const text = JSON.stringify(body);
    res.writeHead(status, {
      "content-type": "application/json",
      "content-length": String(Buffer.byteLength(text)),
      "x-request-id": `req_${randomUUID().replaceAll("-", "")}`,
      ...headers,
    });
    res.end(text);
  };

  const sendError = (
    res: ServerResponse,
    status: number,
    message?: string,
    headers: Record<string, string> = {},
  ) => {
    const shape = errorShape(status);
    sendJson(
      res,
      status,
      { error: { message: message ?? shape.message, type: shape.type, param: null, code: shape.code } },
      headers,
    );
  };

  const scriptUsedUp = (runId: string, model: string, purpose: string): boolean => {
    const n = counters.get(JSON.stringify([runId, model, purpose])) ?? 0;
    const steps = scenario.models.script[model]?.[purpose === "judge" ? "judge" : "diagnose"] ?? [];
    return n >= steps.length;
  };

  /** Forwards one request to a real endpoint (live mode) and relays its answer. */
  const forward = async (
    res: ServerResponse,
    up: LiveUpstream,
    chat: { model: string },
    body: unknown,
    headers: Record<string, string>,
  ): Promise<number> => {
    const forwarded: Record<string, string> = { "content-type": "application/json" };
    for (const [k, v] of Object.entries(headers)) if (k.startsWith("x-tfy-")) forwarded[k] = v;
    if (up.apiKey) forwarded.authorization = `Bearer ${up.apiKey}`;
    try {
      const r = await fetch(`${up.baseURL.replace(/\/$/, "")}/chat/completions`, {
        method: "POST",
        headers: forwarded,
        body: JSON.stringify({ ...(body as object), model: up.model }),
        signal: AbortSignal.timeout(up.timeoutMs),
      });
      const text = await r.text();
      const relay: Record<string, string> = {
        "content-type": r.headers.get("content-type") ?? "application/json",
        "x-tfy-resolved-model": r.headers.get("x-tfy-resolved-model") ?? up.model,
      };
      const retryAfter = r.headers.get("retry-after");
      if (retryAfter) relay["retry-after"] = retryAfter;
      if (!res.writableEnded && !res.destroyed) {
        res.writeHead(r.status, relay);
        res.end(text);
      }
      return r.status;
    } catch (err) {
      sendError(res, 502, `live upstream for ${chat.model} failed: ${(err as Error).message}`);
      return 502;
    }
  };

  const nextStep = (runId: string, model: string, purpose: string): ModelStep => {
    const key = JSON.stringify([runId, model, purpose]);
    const n = counters.get(key) ?? 0;
    counters.set(key, n + 1);
    const steps = scenario.models.script[model]?.[purpose === "judge" ? "judge" : "diagnose"] ?? [];
    return steps[n] ?? (purpose === "judge" ? { format: "plain" } : { reply: "truth", format: "plain" });
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

  const allModels = (): string[] => {
    const names = new Set<string>();
    for (const t of scenario.models.chain) names.add(t.model);
    names.add(scenario.models.judge.model);
    for (const m of Object.keys(scenario.models.script)) names.add(m);
    for (const m of Object.keys(virtualModels)) names.add(m);
    for (const m of seenModels) names.add(m);
    return [...names];
  };

  const handleCompletion = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (v === undefined) continue;
      const value = Array.isArray(v) ? v.join(", ") : v;
      headers[k.toLowerCase()] = k.toLowerCase() === "authorization" ? hashSecret(value) : value;
    }
    const at = new Date().toISOString();
    const raw = await readBody(req);
    let body: unknown = raw;
    let meta: Record<string, string> = {};
    const metaHeader = req.headers["x-tfy-metadata"];
    let metaError: string | null = null;
    if (typeof metaHeader === "string") {
      try {
        meta = MetadataSchema.parse(JSON.parse(metaHeader));
      } catch {
        metaError = "X-TFY-METADATA must be a JSON object of string values";
      }
    }
    const runId = meta.run_id ?? "default";
    const purpose = meta.purpose ?? "diagnose";
    const base = { at, purpose, run_id: runId, headers };
    try {
      body = JSON.parse(raw);
    } catch {
      record({ ...base, model: "", body, response_status: 400 });
      return sendError(res, 400, "We could not parse the JSON body of your request.");
    }
    const parsed = ChatRequestSchema.safeParse(body);
    if (!parsed.success) {
      const model =
        typeof (body as { model?: unknown })?.model === "string" ? (body as { model: string }).model : "";
      record({ ...base, model, body, response_status: 400 });
      return sendError(
        res,
        400,
        `Invalid request: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
      );
    }
    const chat = parsed.data;
    const fail = (status: number, message: string): void => {
      record({ ...base, model: chat.model, body, response_status: status });
      sendError(res, status, message);
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
    seenModels.add(chat.model);

    // Live mode: past the script, the real endpoint answers.
    const upstream = virtualModels[chat.model] ? null : (opts.live?.(chat.model, purpose) ?? null);
    if (upstream && scriptUsedUp(runId, chat.model, purpose)) {
      const status = await forward(res, upstream, chat, body, headers);
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
      outcome = stepOutcome(scenario, nextStep(runId, member, purpose), purpose);
      delayMs += outcome.delayMs + modelLatencyMs(scenario, member);
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
      return sendError(res, outcome.status, outcome.message, extra);
    }
    const promptChars = chat.messages.reduce((n, m) => n + contentText(m.content).length, 0);
    const usage = outcome.usage ?? {
      prompt_tokens: Math.ceil(promptChars / 4),
      completion_tokens: Math.ceil(outcome.text.length / 4),
    };
    sendJson(
      res,
      200,
      {
        id: `chatcmpl-${randomUUID().replaceAll("-", "").slice(0, 24)}`,
        object: "chat.completion",
        created: Math.floor(Date.now() / 1000),
        model: served,
        choices: [
          {
            index: 0,
            message: { role: "assistant", content: outcome.text, refusal: null },
            logprobs: null,
            finish_reason: outcome.finish,
          },
        ],
        usage: {
          prompt_tokens: usage.prompt_tokens,
          completion_tokens: usage.completion_tokens,
          total_tokens: usage.prompt_tokens + usage.completion_tokens,
        },
        system_fingerprint: "fp_backstop_sandbox",
      },
      { "x-tfy-resolved-model": served },
    );
  };

  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method === "GET" && path === "/v1/models") {
      const created = Math.floor(Date.now() / 1000);
      return sendJson(res, 200, {
        object: "list",
        data: allModels().map((id) => ({ id, object: "model", created, owned_by: "backstop-sandbox" })),
      });
    }
    if (path === "/v1/chat/completions") {
      if (req.method !== "POST") return sendError(res, 405, `Method ${req.method} not allowed.`);
      handleCompletion(req, res).catch((err: unknown) =>
        sendError(res, 500, `sandbox: ${(err as Error).message}`),
      );
      return;
    }
    sendError(res, 404, `Unknown request URL: ${req.method} ${path}.`);
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, opts.host ?? "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;

  return {
    url: `http://${host}:${addr.port}/v1`,
    requests: () => log.map((e) => ({ ...e })),
    reset(next: Scenario) {
      scenario = next;
      counters.clear();
      seenModels.clear();
      log = [];
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        for (const t of pending) clearTimeout(t);
        pending.clear();
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
