import { STATUS_CODES } from "node:http";
import { ReadableStream as WebReadableStream } from "node:stream/web";
import type { WebClientOptions } from "@slack/web-api";
import { Agent, type Dispatcher, interceptors, request } from "undici";

/** The WHATWG `fetch` signature the SDKs take as an option (Slack `WebClient`, `openai`, the MCP transport). */
export type FetchFn = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/** Statuses whose response has no body (Fetch standard, "null body status"), plus 1xx never reach here. */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

/**
 * A `fetch` for the SDKs Backstop drives (Slack's `WebClient`, the `openai` client, the MCP SDK's
 * streamable-HTTP transport), over undici's `request` on one keep-alive `Agent` per process.
 *
 * Why: Node's built-in `fetch` costs about 0.5 ms of CPU per call on Node 20 (WHATWG streams, an
 * `AbortSignal` and a `Request` per call); undici's `request` costs about 0.06 ms, and wrapping its
 * answer in a `Response` about 0.15 ms (`bench/http-client.ts`). A run makes about 20 such calls
 * (13 to Slack, 3 to the model, 4 over MCP), so this is a tenth of a worker's CPU per run.
 *
 * Semantics are fetch's where the SDKs can tell:
 * - Bodies: `string` (default `content-type: text/plain;charset=UTF-8`), `URLSearchParams`
 *   (`application/x-www-form-urlencoded;charset=UTF-8`), `Uint8Array`/`ArrayBuffer`, or none. Anything
 *   else (a `Request` input, `FormData`, `Blob`, a stream) goes to Node's own `fetch` unchanged
 *   (Slack's file uploads are multipart).
 * - The answer: `status`, `statusText`, `headers` (repeated headers such as `set-cookie` kept), and the
 *   body read in full before the promise resolves, except `text/event-stream`, which streams (pulled on
 *   demand, and safe to cancel at once). A null-body status (204, 304 …) and `HEAD` give a null body.
 *   A compressed body (`content-encoding` gzip, deflate, br) is decoded; none is asked for.
 * - Request headers: a record, an array of pairs or any `Headers`-like object (anything with `forEach`).
 * - `redirect`: `follow` (the default, at most 20 hops, by undici's redirect interceptor), `manual`
 *   (the 3xx as it is), `error` (rejects on a 3xx with a `location`).
 * - Errors: an aborted `signal` rejects with `signal.reason` (a `TimeoutError` for
 *   `AbortSignal.timeout`, as fetch does); any other failure rejects with `TypeError("fetch failed")`
 *   whose `cause` is undici's error (e.g. `code: "ECONNREFUSED"`), as fetch does.
 * @param dispatcher the undici dispatcher (default: a new keep-alive `Agent`).
 */
export function createFetch(dispatcher: Dispatcher = new Agent()): FetchFn {
  // A compressed answer (gzip, deflate, br) is decoded as fetch does; none is asked for (no Accept-Encoding).
  const plain = dispatcher.compose(interceptors.decompress());
  const follow = plain.compose(interceptors.redirect({ maxRedirections: 20 }));
  // Node's own fetch: it knows the global FormData, Blob and Request classes (undici's npm fetch
  // checks its own, and would send a global FormData as the text "[object FormData]").
  const viaFetch: FetchFn = (input, init) => globalThis.fetch(input, init);

  return async (input, init = {}) => {
    if (typeof input !== "string" && !(input instanceof URL)) return viaFetch(input, init);
    const body = lean(init.body);
    if (body === undefined) return viaFetch(input, init);
    const method = (init.method ?? "GET").toUpperCase();
    const headers = headerRecord(init.headers);
    if (body.type && !("content-type" in headers)) headers["content-type"] = body.type;
    const redirect = init.redirect ?? "follow";
    const signal = init.signal ?? undefined;
    let res: Dispatcher.ResponseData;
    try {
      res = await request(input, {
        method: method as Dispatcher.HttpMethod,
        headers,
        body: body.data,
        signal,
        dispatcher: redirect === "follow" ? follow : plain,
      });
    } catch (err) {
      throw fetchError(err, signal);
    }
    const status = res.statusCode;
    if (redirect === "error" && status >= 300 && status < 400 && res.headers.location !== undefined) {
      discard(res.body);
      throw new TypeError("fetch failed", { cause: new Error(`unexpected redirect (HTTP ${status})`) });
    }
    try {
      const responseHeaders = new Headers();
      for (const [name, value] of Object.entries(res.headers)) {
        if (Array.isArray(value)) for (const v of value) responseHeaders.append(name, v);
        else if (value !== undefined) responseHeaders.append(name, value);
      }
      let responseBody: ConstructorParameters<typeof Response>[0];
      if (NULL_BODY.has(status) || method === "HEAD") {
        discard(res.body);
        responseBody = null;
      } else if (/^text\/event-stream/i.test(responseHeaders.get("content-type") ?? "")) {
        // Pulled on demand; cancelling it early is safe (Node 20's Readable.toWeb throws then).
        responseBody = WebReadableStream.from(res.body) as unknown as ReadableStream<Uint8Array>;
      } else {
        responseBody = new Uint8Array(await res.body.arrayBuffer());
      }
      return new Response(responseBody, {
        status,
        statusText: STATUS_CODES[status] ?? "",
        headers: responseHeaders,
      });
    } catch (err) {
      discard(res.body);
      throw fetchError(err, signal);
    }
  };
}

/** The body as undici's `request` takes it, with fetch's default content type; `undefined` when it is not one of those. */
function lean(
  body: RequestInit["body"],
): { data: string | Uint8Array | null; type: string | null } | undefined {
  if (body === undefined || body === null) return { data: null, type: null };
  if (typeof body === "string") return { data: body, type: "text/plain;charset=UTF-8" };
  if (body instanceof URLSearchParams) {
    return { data: body.toString(), type: "application/x-www-form-urlencoded;charset=UTF-8" };
  }
  if (body instanceof Uint8Array) return { data: body, type: null };
  if (body instanceof ArrayBuffer) return { data: new Uint8Array(body), type: null };
  return undefined;
}

/** `HeadersInit` as a plain record with lower-case names (repeated names joined with ", ", as `Headers` does). */
function headerRecord(init: RequestInit["headers"]): Record<string, string> {
  const out: Record<string, string> = {};
  if (init === undefined) return out;
  const add = (name: string, value: string) => {
    const k = name.toLowerCase();
    out[k] = k in out ? `${out[k]}, ${value}` : value;
  };
  // A Headers object of any implementation (anything with forEach that is not an array of pairs).
  const like = init as unknown as Headers;
  if (!Array.isArray(init) && typeof like.forEach === "function") {
    like.forEach((value, name) => {
      add(name, value);
    });
  } else if (Array.isArray(init)) {
    for (const [name, value] of init as [string, string][]) add(name, value);
  } else for (const [name, value] of Object.entries(init)) if (value !== undefined) add(name, String(value));
  return out;
}

/** Reads and drops an answer's body (undici's `dump`), so its connection goes back to the pool; never throws. */
function discard(body: Dispatcher.ResponseData["body"]): void {
  body.dump().catch(() => undefined);
}

/** fetch's rejection for `err`: the signal's reason when it aborted, else `TypeError("fetch failed", { cause })`. */
function fetchError(err: unknown, signal: AbortSignal | undefined): unknown {
  if (signal?.aborted) return signal.reason;
  return new TypeError("fetch failed", { cause: err });
}

let shared: FetchFn | undefined;

/**
 * The process's one {@link createFetch} (one keep-alive connection pool per origin for every SDK client).
 * Pass it as the SDKs' `fetch` option.
 */
export function backstopFetch(): FetchFn {
  shared ??= createFetch();
  return shared;
}

/**
 * The process's shared {@link backstopFetch} typed as `@slack/web-api`'s `fetch` option (its
 * `FetchFunction` declares `Headers.entries`, which the ES lib this project compiles against leaves out).
 */
export function slackFetch(): NonNullable<WebClientOptions["fetch"]> {
  return backstopFetch() as unknown as NonNullable<WebClientOptions["fetch"]>;
}
