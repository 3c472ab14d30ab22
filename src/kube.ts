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
export const KEEP_ALIVE_MAX_SOCKETS = 32;

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
 *   verification), so a rotated client certificate gets a new agent and never a socket of the old one;
 * - bearer tokens and other credentials travel in headers, set per request, and may change freely;
 * - a proxy agent (`proxy-url` in the kubeconfig) and an agent of another kind are left as they are;
 * - at most {@link KEEP_ALIVE_MAX_SOCKETS} connections per server and identity;
 * - idle sockets close after {@link KEEP_ALIVE_IDLE_MS}, or earlier when the API server's
 *   `Keep-Alive: timeout=` hint says so (Node's agent honours it).
 */
export class KubeAgentPool {
  private readonly agents = new Map<string, HttpAgent>();

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

  private keyOf(tls: boolean, options: HttpsAgentOptions): string {
    const h = createHash("sha256").update(tls ? "https" : "http");
    for (const f of TLS_FIELDS) {
      const v = options[f];
      h.update(`\0${f}=`);
      if (v === undefined) continue;
      for (const part of Array.isArray(v) ? v : [v]) {
        if (typeof part === "string" || Buffer.isBuffer(part)) h.update(part);
        else h.update(JSON.stringify(part));
        h.update("\0");
      }
    }
    return h.digest("hex");
  }
}

/** The process's pool, shared by mcp-infra's read-only clients and the write path. */
export const kubeAgents = new KubeAgentPool();
