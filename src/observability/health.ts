import type { WebClient } from "@slack/web-api";
import { Redis } from "ioredis";
import { errorMessage } from "../errors.js";
import type { QueueConnection } from "../queue/runs.js";

/** One readiness check: throws (or rejects) when the dependency is not usable. */
export interface ReadinessCheck {
  /** Stable name shown in `/readyz` (`redis`, `slack`, `mcp_infra`). */
  name: string;
  check(): Promise<void>;
}

/** The result of one check in a `/readyz` answer; `ms` is how long it took. */
export interface CheckResult {
  ok: boolean;
  ms: number;
  error?: string;
}

/** A `/readyz` answer: `ready` when every check passed; `failed` names the ones that did not. */
export interface Readiness {
  ready: boolean;
  failed: string[];
  checks: Record<string, CheckResult>;
}

/** How long one check may take before it counts as failed (ms). */
export const CHECK_TIMEOUT_MS = 2000;

/**
 * Runs every check at once, each bounded by `timeoutMs` (default {@link CHECK_TIMEOUT_MS}), and says
 * which failed. Never throws.
 */
export async function readiness(
  checks: readonly ReadinessCheck[],
  timeoutMs = CHECK_TIMEOUT_MS,
): Promise<Readiness> {
  const results = await Promise.all(
    checks.map(async (c): Promise<[string, CheckResult]> => {
      const start = performance.now();
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          c.check(),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs);
          }),
        ]);
        return [c.name, { ok: true, ms: Math.round(performance.now() - start) }];
      } catch (err) {
        return [c.name, { ok: false, ms: Math.round(performance.now() - start), error: errorMessage(err) }];
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  const failed = results.filter(([, r]) => !r.ok).map(([n]) => n);
  return { ready: failed.length === 0, failed, checks: Object.fromEntries(results) };
}

/**
 * Redis answers `PING`. Uses its own small client that never queues commands while disconnected
 * (`enableOfflineQueue: false`), so a down Redis fails the check at once; it reconnects by itself.
 * `close()` disconnects it.
 */
export function redisCheck(connection: QueueConnection): ReadinessCheck & { close(): Promise<void> } {
  const client = new Redis({
    ...connection,
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: CHECK_TIMEOUT_MS,
  });
  client.on("error", () => undefined); // reported by the check, not as an unhandled event
  return {
    name: "redis",
    async check() {
      if (client.status === "wait" || client.status === "end") await client.connect();
      const pong = await client.ping();
      if (pong !== "PONG") throw new Error(`PING answered ${pong}`);
    },
    async close() {
      client.disconnect();
    },
  };
}

/**
 * Slack accepts the bot token: `auth.test` (https://api.slack.com/methods/auth.test) answers `ok`.
 * A success is reused for `cacheMs` (default 30 s) and a failure for a tenth of that, so probes every
 * few seconds do not hit Slack's rate limits; concurrent probes share one call. Give it a client
 * without retries and with a short timeout (a retrying client would hold the answer for minutes).
 */
export function slackCheck(client: Pick<WebClient, "auth">, cacheMs = 30_000): ReadinessCheck {
  let cached: { at: number; error: string | null } | null = null;
  // One auth.test at a time: probes that arrive while one is in flight wait for it.
  let inFlight: Promise<{ at: number; error: string | null }> | null = null;
  const ask = async (): Promise<{ at: number; error: string | null }> => {
    const at = Date.now();
    try {
      const r = await client.auth.test();
      return { at, error: r.ok ? null : `auth.test: ${r.error ?? "not ok"}` };
    } catch (err) {
      return { at, error: `auth.test: ${errorMessage(err)}` };
    }
  };
  return {
    name: "slack",
    async check() {
      const ttl = cached?.error === null ? cacheMs : cacheMs / 10;
      if (!cached || Date.now() - cached.at >= ttl) {
        inFlight ??= ask().finally(() => {
          inFlight = null;
        });
        cached = await inFlight;
      }
      if (cached.error !== null) throw new Error(cached.error);
    },
  };
}

/**
 * An HTTP dependency answers: `GET url` returns a status below 500 (any answer from the server counts
 * as reachable; a 5xx or no answer does not). For mcp-infra, `url` is its `/healthz`.
 */
export function httpCheck(name: string, url: string): ReadinessCheck {
  return {
    name,
    async check() {
      const res = await fetch(url, { signal: AbortSignal.timeout(CHECK_TIMEOUT_MS) });
      await res.body?.cancel();
      if (res.status >= 500) throw new Error(`GET ${url} answered HTTP ${res.status}`);
    },
  };
}

/** mcp-infra's liveness URL from its MCP endpoint URL (`http://host:port/mcp` → `http://host:port/healthz`). */
export function mcpInfraHealthUrl(mcpUrl: string): string {
  return new URL("/healthz", mcpUrl).toString();
}
