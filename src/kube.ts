import { createHash } from "node:crypto";
import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent, type AgentOptions as HttpsAgentOptions } from "node:https";
import type { RequestContext } from "@kubernetes/client-node";

/** How long an idle pooled connection to a Kubernetes API server is kept before it is closed, ms. */
export const KEEP_ALIVE_IDLE_MS = 30_000;

/**
 * At most this many connections per API server and TLS identity; more concurrent calls wait for a free
 * one (HTTP/1.1 keep-alive). Without a cap a burst of runs opens a TLS connection per call in flight.
 */
const KEEP_ALIVE_MAX_SOCKETS = 32;

/** At most this many pooled agents (one per distinct TLS identity) are kept; the oldest is closed first. */
const MAX_AGENTS = 32;

/** The TLS options client-node copies from a kubeconfig onto its per-request agent (config.js). */
const TLS_FIELDS = ["ca", "cert", "key", "pfx", "passphrase", "servername", "rejectUnauthorized"] as const;

/**
 * Connection reuse for client-node 1.4. Its `KubeConfig.applySecurityAuthentication` builds a new
 * `https.Agent` for every request (`createAgent` in client-node's config.js), and a new agent has no
 * pooled socket, so every Kubernetes API call pays a TCP connect and a full TLS handshake on both
 * sides. {@link reuse} swaps that per-request agent for a pooled keep-alive agent made with the same
 * TLS options, so calls with the same credentials share connections:
 * - the pool is keyed by a SHA-256 of the TLS options (CA, client certificate and key, SNI name,
 *   verification), so a rotated client certificate gets a new agent and never a socket of the old one
 *   (the hash is computed once per identity, see `keyOf`);
 * - bearer tokens and other credentials travel in headers, set per request, and may change freely;
 * - a proxy agent (`proxy-url` in the kubeconfig) and an agent of another kind are left as they are;
 * - at most {@link KEEP_ALIVE_MAX_SOCKETS} connections per server and identity;
 * - idle sockets close after {@link KEEP_ALIVE_IDLE_MS}, or earlier when the API server's
 *   `Keep-Alive: timeout=` hint says so (Node's agent honours it).
 */
export class KubeAgentPool {
  private readonly agents = new Map<string, HttpAgent>();
  /** The TLS identities seen last (most recent first, at most MAX_AGENTS) and their pool keys. */
  private readonly identities: { tls: boolean; fields: unknown[]; key: string }[] = [];

  /**
   * Client-node request middleware step: replaces `ctx`'s agent (set by client-node just before) with
   * the pooled keep-alive agent for the same TLS options. Call it from an `ObservableMiddleware.pre`.
   * Never throws.
   */
  reuse(ctx: RequestContext): void {
    const current = ctx.getAgent();
    if (!current || (current.constructor !== HttpsAgent && current.constructor !== HttpAgent)) return;
    const options = (current as HttpsAgent).options as HttpsAgentOptions;
    const tls = current.constructor === HttpsAgent;
    const key = this.keyOf(tls, options);
    let pooled = this.agents.get(key);
    if (!pooled) {
      const picked: HttpsAgentOptions = {};
      for (const f of TLS_FIELDS) if (options[f] !== undefined) Object.assign(picked, { [f]: options[f] });
      const opts = {
        ...picked,
        keepAlive: true,
        timeout: KEEP_ALIVE_IDLE_MS,
        maxSockets: KEEP_ALIVE_MAX_SOCKETS,
        scheduling: "lifo" as const,
      };
      pooled = tls ? new HttpsAgent(opts) : new HttpAgent(opts);
      this.agents.set(key, pooled);
      if (this.agents.size > MAX_AGENTS) {
        const [oldest, agent] = this.agents.entries().next().value as [string, HttpAgent];
        this.agents.delete(oldest);
        agent.destroy();
      }
    }
    ctx.setAgent(pooled);
    // client-node's agent was never used; it holds no socket.
    current.destroy();
  }

  /** Closes every pooled connection (in-flight requests finish on theirs first). */
  close(): void {
    for (const agent of this.agents.values()) agent.destroy();
    this.agents.clear();
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

/** The process's pool, shared by mcp-infra's read-only clients and the write path. */
export const kubeAgents = new KubeAgentPool();
