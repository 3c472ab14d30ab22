import { timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { z } from "zod";
import type { RuleResult } from "../contracts/events.js";
import { type Signals, SignalsSchema } from "../contracts/signals.js";
import { formatZodIssues } from "../errors.js";
import { parseDiagnosis } from "./extract.js";
import { checkQualityRules, type QualityGateOptions } from "./quality.js";

/**
 * Backstop's quality gate hosted as an AI-gateway output guardrail, on TrueFoundry's custom guardrail
 * contract (https://www.truefoundry.com/docs/ai-gateway/custom-guardrails, and the pydantic models of
 * truefoundry/custom-guardrails-template `entities.py`):
 *
 * request  `{ requestBody: ChatCompletionCreateParams, responseBody: ChatCompletion, config?: object,
 *            context: { user: object, metadata?: Record<string,string> } }`
 * answer   HTTP 200 `{ verdict: boolean, message: string }` when the check ran (allow and deny alike);
 *          a non-2xx status only when it could not run (401 unauthenticated, 400 malformed, 413 too
 *          large, 415 not JSON, 405 not POST), which the gateway treats as a guardrail failure, not a deny.
 *
 * The signals are the first JSON object in the request's `user` messages that is a `Signals` document
 * (what the diagnosis prompt embeds); the alert is the text before it in that message; the diagnosis is
 * the first choice's content, parsed as the pipeline parses it. The deterministic rules
 * ({@link checkQualityRules}) decide; the LLM judge is not called here (the gateway is the caller).
 */

/** The route the bot serves the guardrail on. */
export const GUARDRAIL_QUALITY_ROUTE = "/guardrails/quality";

/** Default bound on the request body: 1 MiB. */
export const DEFAULT_GUARDRAIL_MAX_BYTES = 1024 * 1024;

/** Candidate JSON objects tried per message when looking for the signals. */
const MAX_CANDIDATES = 2_000;
/** Characters scanned in all while looking for the signals (bounds the work of unclosed braces). */
const MAX_SCANNED_CHARS = 16 * 1024 * 1024;

const TextPart = z.object({ type: z.string(), text: z.string().optional() }).loose();
const Content = z.union([z.string(), z.array(TextPart), z.null()]);

/** The contract's request, as far as this guardrail reads it; unknown fields pass. */
export const GuardrailRequestSchema = z.object({
  requestBody: z
    .object({
      messages: z.array(z.object({ role: z.string(), content: Content.optional() }).loose()).min(1),
      metadata: z.record(z.string(), z.unknown()).nullish(),
    })
    .loose(),
  responseBody: z
    .object({
      choices: z
        .array(z.object({ message: z.object({ content: Content.optional() }).loose() }).loose())
        .min(1, "responseBody.choices is empty"),
    })
    .loose(),
  config: z
    .object({
      confidence_threshold: z.number().min(0).max(1).optional(),
      onset_grace_ms: z.number().int().min(0).optional(),
      min_quote_chars: z.number().int().min(1).optional(),
    })
    .loose()
    .nullish(),
  context: z
    .object({
      user: z.record(z.string(), z.unknown()).nullish(),
      metadata: z.record(z.string(), z.string()).nullish(),
    })
    .loose()
    .nullish(),
});

export type GuardrailRequest = z.infer<typeof GuardrailRequestSchema>;

/** The contract's answer on 2xx. `rules` is Backstop's addition (ignored by the gateway, useful in its logs). */
export interface GuardrailAnswer {
  verdict: boolean;
  message: string;
  rules?: RuleResult[];
}

function text(content: z.infer<typeof Content> | undefined): string {
  if (content === undefined || content === null) return "";
  if (typeof content === "string") return content;
  return content
    .filter((p) => p.type === "text" && typeof p.text === "string")
    .map((p) => p.text)
    .join("\n");
}

/** End index (exclusive) of the balanced JSON object starting at `start`, or -1. Strings are skipped. */
function objectEnd(src: string, start: number): number {
  let depth = 0;
  let inString = false;
  for (let i = start; i < src.length; i++) {
    const ch = src[i];
    if (inString) {
      if (ch === "\\") i++;
      else if (ch === '"') inString = false;
    } else if (ch === '"') inString = true;
    else if (ch === "{") depth++;
    else if (ch === "}" && --depth === 0) return i + 1;
  }
  return -1;
}

/**
 * The first `Signals` document (zod `SignalsSchema`) embedded in `message`, and the text before it;
 * null when none is found within {@link MAX_CANDIDATES} `{` positions.
 */
export function findSignals(message: string): { signals: Signals; before: string } | null {
  let n = 0;
  let scanned = 0;
  for (let i = message.indexOf("{"); i !== -1 && n < MAX_CANDIDATES; i = message.indexOf("{", i + 1), n++) {
    const end = objectEnd(message, i);
    scanned += (end === -1 ? message.length : end) - i;
    if (scanned > MAX_SCANNED_CHARS) return null;
    if (end === -1) continue; // an unclosed brace (e.g. in the alert text): a later one may still open the signals
    let value: unknown;
    try {
      value = JSON.parse(message.slice(i, end));
    } catch {
      continue;
    }
    const parsed = SignalsSchema.safeParse(value);
    if (parsed.success) return { signals: parsed.data, before: message.slice(0, i) };
    i = end - 1; // a complete object that is not the signals: skip its inside
  }
  return null;
}

/** The alert text of the diagnosis prompt: the text before the signals, without the section labels. */
function alertFrom(before: string): string {
  return before
    .replace(/Signals \(redacted JSON\):\s*$/i, "")
    .replace(/^\s*Alert \(Alertmanager\):/i, "")
    .trim();
}

function parseOnset(...candidates: unknown[]): { onset: Date; source: string } | null {
  const names = ["context.metadata.onset", "requestBody.metadata.onset"];
  for (const [i, c] of candidates.entries()) {
    if (typeof c !== "string") continue;
    const t = Date.parse(c);
    if (Number.isFinite(t)) return { onset: new Date(t), source: names[i]! };
  }
  return null;
}

/**
 * Checks one guardrail request: signals from the request, diagnosis from the response, the deterministic
 * quality rules. Never throws for content: a missing signals document or diagnosis is a deny
 * (fail-closed, as the in-process gate). The onset is `context.metadata.onset`, else
 * `requestBody.metadata.onset` (ISO-8601), else the signals' `collected_at` (said in the message).
 */
export function evaluateGuardrail(req: GuardrailRequest): GuardrailAnswer {
  let found: { signals: Signals; before: string } | null = null;
  for (const m of req.requestBody.messages) {
    if (m.role !== "user") continue;
    found = findSignals(text(m.content));
    if (found) break;
  }
  if (!found) {
    return {
      verdict: false,
      message: "no Backstop signals document in the request's user messages: nothing to ground the answer in",
    };
  }
  const reply = text(req.responseBody.choices[0]!.message.content);
  const parsed = parseDiagnosis(reply);
  if (!parsed.ok)
    return { verdict: false, message: `the response holds no valid diagnosis: ${parsed.error}` };

  const onset =
    parseOnset(req.context?.metadata?.onset, req.requestBody.metadata?.onset) ??
    ({ onset: new Date(found.signals.collected_at), source: "signals.collected_at" } as const);
  const opts: QualityGateOptions = {};
  if (req.config?.confidence_threshold !== undefined)
    opts.confidenceThreshold = req.config.confidence_threshold;
  if (req.config?.onset_grace_ms !== undefined) opts.onsetGraceMs = req.config.onset_grace_ms;
  if (req.config?.min_quote_chars !== undefined) opts.minQuoteChars = req.config.min_quote_chars;
  const rules = checkQualityRules(
    parsed.diagnosis,
    found.signals,
    { onset: onset.onset, alertText: alertFrom(found.before) },
    opts,
  );
  const failed = rules.filter((r) => !r.passed);
  return failed.length === 0
    ? {
        verdict: true,
        message: `grounded: ${rules.length} quality rules passed (onset from ${onset.source})`,
        rules,
      }
    : {
        verdict: false,
        message: `ungrounded: ${failed.map((r) => `${r.rule}: ${r.detail}`).join("; ")}`,
        rules,
      };
}

/** Options of {@link createGuardrailHandler}: the bearer token the gateway sends, and the body bound. */
export interface GuardrailHandlerOptions {
  /** The `Authorization: Bearer …` credential configured in the gateway (at least 16 characters). */
  token: string;
  /** Largest accepted body in bytes (default {@link DEFAULT_GUARDRAIL_MAX_BYTES}). */
  maxBodyBytes?: number;
}

function send(res: ServerResponse, code: number, body: unknown, headers: Record<string, string> = {}): void {
  const json = JSON.stringify(body);
  res.writeHead(code, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(json),
    ...headers,
  });
  res.end(json);
}

function tokenMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
  if (!m) return false;
  const got = Buffer.from(m[1]!);
  const want = Buffer.from(token);
  return got.length === want.length && timingSafeEqual(got, want);
}

/**
 * The node:http handler for `POST /guardrails/quality`: bearer authentication (constant-time compare;
 * 401 with `WWW-Authenticate`), `application/json` only (415), a body bound (413, checked on
 * `Content-Length` and while reading), zod validation of the contract (400 naming the bad fields),
 * then {@link evaluateGuardrail} (200 `{verdict, message, rules}`).
 * @throws Error at construction when `token` is shorter than 16 characters.
 */
export function createGuardrailHandler(
  opts: GuardrailHandlerOptions,
): (req: IncomingMessage, res: ServerResponse) => void {
  if (opts.token.length < 16) throw new Error("the guardrail token must be at least 16 characters");
  const max = opts.maxBodyBytes ?? DEFAULT_GUARDRAIL_MAX_BYTES;
  return (req, res) => {
    void (async () => {
      if (req.method !== "POST")
        return send(res, 405, { error: "method not allowed: use POST" }, { allow: "POST" });
      if (!tokenMatches(req.headers.authorization, opts.token)) {
        req.resume();
        return send(
          res,
          401,
          { error: "unauthenticated: a valid bearer token is required" },
          {
            "www-authenticate": 'Bearer realm="backstop-guardrail"',
          },
        );
      }
      const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
      if (type !== "application/json") {
        req.resume();
        return send(res, 415, { error: "unsupported content type: send application/json" });
      }
      const declared = Number(req.headers["content-length"] ?? "0");
      if (declared > max) {
        req.resume();
        return send(
          res,
          413,
          { error: `request body too large: the limit is ${max} bytes` },
          { connection: "close" },
        );
      }
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of req) {
        size += (chunk as Buffer).length;
        if (size > max) {
          send(
            res,
            413,
            { error: `request body too large: the limit is ${max} bytes` },
            { connection: "close" },
          );
          req.destroy();
          return;
        }
        chunks.push(chunk as Buffer);
      }
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      } catch (err) {
        return send(res, 400, { error: `malformed JSON: ${(err as Error).message}` });
      }
      const parsed = GuardrailRequestSchema.safeParse(body);
      if (!parsed.success) {
        return send(res, 400, { error: `not a custom guardrail request: ${formatZodIssues(parsed.error)}` });
      }
      send(res, 200, evaluateGuardrail(parsed.data));
    })().catch((err: unknown) => {
      if (!res.headersSent) send(res, 500, { error: `guardrail failed: ${(err as Error).message}` });
      else res.end();
    });
  };
}
