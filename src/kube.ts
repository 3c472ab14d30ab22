import { createHash } from "node:crypto";
import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent, type AgentOptions as HttpsAgentOptions } from "node:https";
import {
  type HttpLibrary,
  IsomorphicFetchHttpLibrary,
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
 * - the pool is keyed by a SHA-256 of the TLS options (CA, client certificate and key, SNI name,
 *   verification), so a rotated client certificate gets a new agent and never a socket of the old one
 *   (the hash is computed once per identity, see `keyOf`);
 * - bearer tokens and other credentials travel in headers, set per request, and may change freely;
 * - a proxy agent (`proxy-url` in the kubeconfig) or an agent of another kind is sent the way client-node
 *   sends it (node-fetch on that agent);
 * - at most {@link KEEP_ALIVE_MAX_SOCKETS} connections per server and identity;
 * - idle sockets close after {@link KEEP_ALIVE_IDLE_MS}, or earlier when the API server's
 *   `Keep-Alive: timeout=` hint says so (undici honours it).
 * The request's `signal` (the per-call timeout) aborts it, body included.
 */
export class KubeAgentPool {
  private readonly agents = new Map<string, Agent>();
  /** The TLS identities seen last (most recent first, at most MAX_AGENTS) and their pool keys. */
  private readonly identities: { tls: boolean; fields: unknown[]; key: string }[] = [];
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
    const signal = ctx.getSignal();
    const res = await request(ctx.getUrl(), {
      method: ctx.getHttpMethod() as Dispatcher.HttpMethod,
      headers: ctx.getHeaders(),
      body: body === undefined ? null : (body as string | Buffer),
      dispatcher,
      ...(signal ? { signal: signal as AbortSignal } : {}),
    }).catch((err: unknown) => {
      throw signal?.aborted ? signal.reason : err;
    });
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(res.headers)) {
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(", ") : value;
    }
    const data = Buffer.from(
      await res.body.arrayBuffer().catch((err: unknown) => {
        throw signal?.aborted ? signal.reason : err;
      }),
    );
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
    const key = this.keyOf(tls, options);
    let pooled = this.agents.get(key);
    if (!pooled) {
      const connect: Record<string, unknown> = {};
      if (tls) for (const f of TLS_FIELDS) if (options[f] !== undefined) connect[f] = options[f];
      pooled = new Agent({
        connect,
        connections: KEEP_ALIVE_MAX_SOCKETS,
        keepAliveTimeout: KEEP_ALIVE_IDLE_MS,
        keepAliveMaxTimeout: KEEP_ALIVE_IDLE_MS,
      });
      this.agents.set(key, pooled);
      if (this.agents.size > MAX_AGENTS) {
        const [oldest, agent] = this.agents.entries().next().value as [string, Agent];
        this.agents.delete(oldest);
        void agent.close();
      }
    }
    // client-node's agent was never used; it holds no socket.
    current.destroy();
    return pooled;
  }

  /** Closes every pooled connection (in-flight requests finish on theirs first) and forgets the identities. */
  close(): void {
    for (const agent of this.agents.values()) void agent.close();
    this.agents.clear();
    this.identities.length = 0;
  }

  /**
   * The pool key of `options`. The SHA-256 is computed once per TLS identity: client-node hands every
   * request fresh Buffers (it decodes the kubeconfig's CA, certificate and key again each time), so a
   * request's fields are compared by content with the identities seen last (Buffer.equals, a memcmp),
   * and only an unseen identity (a first request, a rotated certificate) is hashed.
   */
  private keyOf(tls: boolean, options: HttpsAgentOptions): string {
    const fields = TLS_FIELDS.map((f) => options[f]);
    const i = this.identities.findIndex(
      (e) => e.tls === tls && e.fields.every((v, j) => sameField(v, fields[j])),
    );
    if (i >= 0) {
      const hit = this.identities[i]!;
      if (i > 0) this.identities.unshift(...this.identities.splice(i, 1));
      return hit.key;
    }
    const key = hashIdentity(tls, fields);
    this.identities.unshift({ tls, fields, key });
    if (this.identities.length > MAX_AGENTS) this.identities.pop();
    return key;
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

/** SHA-256 (hex) of the scheme and the {@link TLS_FIELDS} values, each field named and NUL-separated. */
function hashIdentity(tls: boolean, fields: readonly unknown[]): string {
  const h = createHash("sha256").update(tls ? "https" : "http");
  TLS_FIELDS.forEach((f, i) => {
    const v = fields[i];
    h.update(`\0${f}=`);
    if (v === undefined) return;
    for (const part of Array.isArray(v) ? v : [v]) {
      if (typeof part === "string" || Buffer.isBuffer(part)) h.update(part);
      else h.update(JSON.stringify(part));
      h.update("\0");
    }
  });
  return h.digest("hex");
}

/** The process's pool, shared by mcp-infra's read-only clients and the write path (`kubeAgents.httpApi`). */
export const kubeAgents = new KubeAgentPool();
