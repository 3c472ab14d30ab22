import { randomUUID } from "node:crypto";
import type { ServerResponse } from "node:http";
import type { ModelStep } from "../../scenarios/schema.js";
import { sendJson } from "../http.js";

/**
 * Reply formatting for the sandbox model provider, in the OpenAI wire format
 * (https://platform.openai.com/docs/api-reference/chat/create and /docs/guides/error-codes): scripted text
 * wrapped per `format`, `chat.completion` objects, and error bodies `{error:{message,type,param,code}}`.
 */

/** Error `type`/`code` per HTTP status, as the OpenAI API answers them (docs: guides/error-codes). */
export function errorShape(status: number): { type: string; code: string | null; message: string } {
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

/** Answers JSON with an OpenAI-style `x-request-id` (`req_` + 32 hex). */
export function sendOpenAiJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  sendJson(res, status, body, { "x-request-id": `req_${randomUUID().replaceAll("-", "")}`, ...headers });
}

/** Answers an OpenAI error body for `status`; `message` defaults to the status's usual one. */
export function sendOpenAiError(
  res: ServerResponse,
  status: number,
  message?: string,
  headers: Record<string, string> = {},
): void {
  const shape = errorShape(status);
  sendOpenAiJson(
    res,
    status,
    { error: { message: message ?? shape.message, type: shape.type, param: null, code: shape.code } },
    headers,
  );
}

/**
 * A `chat.completion` object answering with `text` from model `served`. Token usage is the scripted one, or
 * estimated as 4 characters per token of the prompt (`promptChars`) and the reply.
 */
export function completionBody(
  served: string,
  text: string,
  finish: "stop" | "length",
  usage: { prompt_tokens: number; completion_tokens: number } | undefined,
  promptChars: number,
): Record<string, unknown> {
  const u = usage ?? {
    prompt_tokens: Math.ceil(promptChars / 4),
    completion_tokens: Math.ceil(text.length / 4),
  };
  return {
    id: `chatcmpl-${randomUUID().replaceAll("-", "").slice(0, 24)}`,
    object: "chat.completion",
    created: Math.floor(Date.now() / 1000),
    model: served,
    choices: [
      {
        index: 0,
        message: { role: "assistant", content: text, refusal: null },
        logprobs: null,
        finish_reason: finish,
      },
    ],
    usage: {
      prompt_tokens: u.prompt_tokens,
      completion_tokens: u.completion_tokens,
      total_tokens: u.prompt_tokens + u.completion_tokens,
    },
    system_fingerprint: "fp_backstop_sandbox",
  };
}
