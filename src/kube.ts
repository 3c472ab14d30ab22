import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent, type AgentOptions as HttpsAgentOptions } from "node:https";
import {
  type HttpLibrary,
  IsomorphicFetchHttpLibrary,
  Observable,
  type ObservableMiddleware,
  type RequestContext,
  ResponseContext,
  wrapHttpLibrary,
} from "@kubernetes/client-node";
import { Agent, type Dispatcher, request } from "undici";

/** How long an idle pooled connection to a Kubernetes API server is kept before it is closed, ms. */
export const KEEP_ALIVE_IDLE_MS = 30_000;

/**
 * At most this many connections per API server and TLS identity; more concurrent calls wait for a free
 * one (HTTP/1.1 keep-alive). Without a cap a burst of runs opens a TLS connection per call in flight.
 */
const KEEP_ALIVE_MAX_SOCKETS = 32;

/** At most this many pooled agents (one per distinct TLS identity) are kept; the oldest is closed first. */
const MAX_AGENTS = 32;

/** The TLS options client-node copies from a kubeconfig onto its per-request agent (config.js); passed to `tls.connect`. */
const TLS_FIELDS = ["ca", "cert", "key", "pfx", "passphrase", "servername", "rejectUnauthorized"] as const;

/**
 * Connection reuse and a lean HTTP client for client-node 1.4. client-node sends every request with
 * node-fetch on a new `https.Agent` (`createAgent` in its config.js, built per request by
 * `KubeConfig.applySecurityAuthentication`), so every call would pay a TCP connect and a full TLS
 * handshake on both sides, and node-fetch's own cost on top. {@link httpApi} is a client-node
 * `HttpLibrary` (pass it as the per-call `httpApi` option) that sends the request with undici's
 * `request` on a pooled keep-alive undici `Agent` made with the same TLS options as client-node's agent,
 * so calls with the same credentials share connections:
 * - one agent per TLS identity: the TLS options (CA, client certificate and key, SNI name, verification)
 *   compared by content, so a rotated client certificate gets a new agent and never a socket of the
 *   old one; at most {@link MAX_AGENTS}, the least recently used closed first;
 * - bearer tokens and other credentials travel in headers, set per request, and may change freely;
 * - a proxy agent (`proxy-url` in the kubeconfig) or an agent of another kind is sent the way client-node
 *   sends it (node-fetch on that agent);
 * - at most {@link KEEP_ALIVE_MAX_SOCKETS} connections per server and identity;
 * - idle sockets close after {@link KEEP_ALIVE_IDLE_MS}, or earlier when the API server's
 *   `Keep-Alive: timeout=` hint says so (undici honours it).
 * The request's `signal` (the per-call timeout) aborts it, body included.
 */
export class KubeAgentPool {
  /** One agent per TLS identity, most recently used first, at most MAX_AGENTS. */
  private readonly pooled: { tls: boolean; fields: unknown[]; agent: Agent }[] = [];
  private readonly fallback = new IsomorphicFetchHttpLibrary();

  /** client-node's `HttpLibrary` over this pool: pass it as `httpApi` in a call's options. */
  readonly httpApi: HttpLibrary = wrapHttpLibrary({ send: (ctx) => this.send(ctx) });

  /**
   * Sends one client-node request on the pooled agent for its TLS identity. Resolves with the status,
   * the headers (a repeated header joined with ", ") and the whole body; rejects with undici's error on a
   * network failure, or with the signal's reason when the call's deadline aborts it.
   */
  private async send(ctx: RequestContext): Promise<ResponseContext> {
    const dispatcher = this.dispatcherFor(ctx.getAgent());
    if (!dispatcher) return this.fallback.send(ctx).toPromise();
    const body = ctx.getBody();
    const signal = ctx.getSignal() as AbortSignal | undefined;
    // Our deadline rejects with its own reason (a TimeoutError), as client-node's fetch would.
    const rethrow = (err: unknown): never => {
      throw signal?.aborted ? signal.reason : err;
    };
    const res = await request(ctx.getUrl(), {
      method: ctx.getHttpMethod() as Dispatcher.HttpMethod,
      headers: ctx.getHeaders(),
      body: body === undefined ? null : (body as string | Buffer),
      dispatcher,
      ...(signal ? { signal } : {}),
    }).catch(rethrow);
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(res.headers)) {
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(", ") : value;
    }
    const data = Buffer.from(await res.body.arrayBuffer().catch(rethrow));
    return new ResponseContext(res.statusCode, headers, {
      text: async () => data.toString("utf8"),
      binary: async () => data,
    });
  }

  /** The pooled undici agent for the TLS options of client-node's per-request `agent`; null for a proxy or unknown agent. */
  private dispatcherFor(current: HttpAgent | undefined): Agent | null {
    if (!current || (current.constructor !== HttpsAgent && current.constructor !== HttpAgent)) return null;
    const options = (current as HttpsAgent).options as HttpsAgentOptions;
    const tls = current.constructor === HttpsAgent;
    const pooled = this.agentFor(tls, options);
    // client-node's agent was never used; it holds no socket.
    current.destroy();
    return pooled;
  }

  /** Closes every pooled connection (in-flight requests finish on theirs first) and forgets the identities. */
  close(): void {
    for (const { agent } of this.pooled.splice(0)) void agent.close();
  }

  /**
   * The agent for `options`' TLS identity, made on first use. client-node hands every request fresh
   * Buffers (it decodes the kubeconfig's CA, certificate and key again each time), so identities are
   * compared by content (Buffer.equals, a memcmp) with the ones pooled, most recently used first.
   */
  private agentFor(tls: boolean, options: HttpsAgentOptions): Agent {
    const fields = TLS_FIELDS.map((f) => options[f]);
    const i = this.pooled.findIndex(
      (e) => e.tls === tls && e.fields.every((v, j) => sameField(v, fields[j])),
    );
    if (i >= 0) {
      const hit = this.pooled[i]!;
      if (i > 0) this.pooled.unshift(...this.pooled.splice(i, 1));
      return hit.agent;
    }
    const connect: Record<string, unknown> = {};
    if (tls) {
      for (const [j, f] of TLS_FIELDS.entries()) if (fields[j] !== undefined) connect[f] = fields[j];
    }
    const agent = new Agent({
      connect,
      connections: KEEP_ALIVE_MAX_SOCKETS,
      keepAliveTimeout: KEEP_ALIVE_IDLE_MS,
      keepAliveMaxTimeout: KEEP_ALIVE_IDLE_MS,
    });
    this.pooled.unshift({ tls, fields, agent });
    if (this.pooled.length > MAX_AGENTS) void this.pooled.pop()?.agent.close();
    return agent;
  }
}

/** True when two values of one TLS option are the same: equal bytes, strings or primitives, element by element. */
function sameField(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Buffer.isBuffer(a) && Buffer.isBuffer(b)) return a.equals(b);
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((v, i) => sameField(v, b[i]));
  if (typeof a === "object" && a !== null && typeof b === "object" && b !== null && !Buffer.isBuffer(a))
    return !Buffer.isBuffer(b) && JSON.stringify(a) === JSON.stringify(b);
  return false;
}

/** The process's pool, shared by mcp-infra's read-only clients and the write path (`kubeAgents.httpApi`). */
export const kubeAgents = new KubeAgentPool();

/** Per-call client-node options of every Kubernetes call Backstop makes (see {@link kubeCallOptions}). */
export interface KubeCallOptions {
  middleware: ObservableMiddleware[];
  middlewareMergeStrategy: "append";
  httpApi: HttpLibrary;
}

/**
 * Per-call options for a client-node 1.4 `ObjectParamAPI` call: a fresh `AbortSignal.timeout(timeoutMs)`
 * per request (client-node hands `RequestContext.signal` to its HTTP client), `headers` set on each request
 * (e.g. a patch `Content-Type`), and {@link kubeAgents}' pooled `httpApi`. The middleware is an
 * `ObservableMiddleware` because the object-parameter API hands per-call options straight to the
 * observable layer (client-node's own `setHeaderMiddleware` has the same shape).
 */
export function kubeCallOptions(timeoutMs: number, headers: Record<string, string> = {}): KubeCallOptions {
  const middleware: ObservableMiddleware = {
    pre: (ctx: RequestContext) => {
      ctx.setSignal(AbortSignal.timeout(timeoutMs));
      for (const [name, value] of Object.entries(headers)) ctx.setHeaderParam(name, value);
      return new Observable(Promise.resolve(ctx));
    },
    post: (rsp: ResponseContext) => new Observable(Promise.resolve(rsp)),
  };
  return { middleware: [middleware], middlewareMergeStrategy: "append", httpApi: kubeAgents.httpApi };
}
