import type { ServerResponse } from "node:http";
import { sendOpenAiError } from "./reply.js";
import type { LiveUpstream } from "./types.js";

/**
 * Live mode: forwards one chat request to a real OpenAI-compatible endpoint and relays its answer unchanged
 * (status, body, `content-type`, `retry-after`, and `x-tfy-resolved-model`, defaulting to the upstream model).
 * The request's `model` is replaced by `up.model`; only the caller's `x-tfy-*` headers are kept, and the
 * upstream's own API key is sent. A network failure or timeout (`up.timeoutMs`) answers 502.
 * Returns the HTTP status answered.
 */
export async function forward(
  res: ServerResponse,
  up: LiveUpstream,
  requestedModel: string,
  body: unknown,
  headers: Record<string, string>,
): Promise<number> {
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
    sendOpenAiError(res, 502, `live upstream for ${requestedModel} failed: ${(err as Error).message}`);
    return 502;
  }
}
