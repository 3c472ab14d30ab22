/** Default age after which a pooled MCP client is replaced by a fresh connection (re-listing the tools), ms. */
export const DEFAULT_MCP_CLIENT_MAX_AGE_MS = 5 * 60_000;

/** What {@link McpClientPool} pools: an MCP client that can be closed and says whether it still works. */
export interface PooledMcpClient {
  /** False once the client lost its connection (then it is replaced, never handed out again). */
  usable(): boolean;
  close(): Promise<void>;
}

/** One run's use of a pooled client: `release()` exactly once when the run is done with it. */
export interface McpLease<C> {
  client: C;
  release(): void;
}

interface Entry<C> {
  ready: Promise<C>;
  client: C | null;
  bornMs: number;
  leases: number;
  retired: boolean;
}

/**
 * Long-lived MCP clients shared by a worker's runs, one per key (e.g. per cluster). Connecting costs
 * an `initialize`, a `tools/list` and the checks on the listed tools, so each run leases the current
 * client instead of connecting its own:
 * - concurrent {@link lease} calls for a key share one connect; a failed connect is not kept (the next
 *   lease tries again) and rejects with the connect's error;
 * - a client older than `maxAgeMs` (default {@link DEFAULT_MCP_CLIENT_MAX_AGE_MS}) or no longer
 *   `usable()` is retired: new leases get a fresh client, and the retired one is closed when its last
 *   lease is released, so no run loses a call in flight;
 * - {@link close} closes every client, leased or not.
 * Backstop's MCP servers are stateless (streamable HTTP without sessions), so a client outlives server
 * restarts; a stateful server's expired session shows as a lost connection and is replaced.
 */
export class McpClientPool<C extends PooledMcpClient> {
  private readonly current = new Map<string, Entry<C>>();
  private readonly retired = new Set<Entry<C>>();
  private readonly maxAgeMs: number;
  private readonly now: () => number;

  /**
   * @param connect makes the client for a key; throws what the pool's {@link lease} then rejects with.
   */
  constructor(
    private readonly connect: (key: string) => Promise<C>,
    opts: { maxAgeMs?: number; clock?: () => number } = {},
  ) {
    this.maxAgeMs = opts.maxAgeMs ?? DEFAULT_MCP_CLIENT_MAX_AGE_MS;
    this.now = opts.clock ?? Date.now;
  }

  /**
   * The client for `key`, connecting when there is none yet (or the current one is retired).
   * @throws whatever `connect` throws (e.g. BackstopError `mcp.unavailable`).
   */
  async lease(key: string): Promise<McpLease<C>> {
    let entry = this.current.get(key);
    if (entry && (this.now() - entry.bornMs > this.maxAgeMs || entry.client?.usable() === false)) {
      this.retire(key, entry);
      entry = undefined;
    }
    if (!entry) entry = this.start(key);
    entry.leases++;
    let client: C;
    try {
      client = await entry.ready;
    } catch (err) {
      entry.leases--;
      throw err;
    }
    let released = false;
    const held = entry;
    return {
      client,
      release: () => {
        if (released) return;
        released = true;
        held.leases--;
        if (held.retired && held.leases === 0) this.finish(held);
      },
    };
  }

  /** Closes every client, leased or not; later leases connect again. */
  async close(): Promise<void> {
    const all = [...this.current.values(), ...this.retired];
    this.current.clear();
    this.retired.clear();
    await Promise.all(all.map((e) => e.ready.then((c) => c.close()).catch(() => undefined)));
  }

  private start(key: string): Entry<C> {
    const entry: Entry<C> = {
      ready: this.connect(key),
      client: null,
      bornMs: this.now(),
      leases: 0,
      retired: false,
    };
    this.current.set(key, entry);
    entry.ready.then(
      (c) => {
        entry.client = c;
        if (entry.retired && entry.leases === 0) this.finish(entry);
      },
      () => {
        if (this.current.get(key) === entry) this.current.delete(key);
      },
    );
    return entry;
  }

  private retire(key: string, entry: Entry<C>): void {
    if (this.current.get(key) === entry) this.current.delete(key);
    entry.retired = true;
    this.retired.add(entry);
    if (entry.leases === 0 && entry.client) this.finish(entry);
  }

  private finish(entry: Entry<C>): void {
    this.retired.delete(entry);
    void entry.client?.close().catch(() => undefined);
  }
}

/** One lease to take in {@link leaseAll}: the pool and the key to lease from it. */
export interface LeaseSpec<C extends PooledMcpClient> {
  pool: McpClientPool<C>;
  key: string;
}

/** The client a {@link LeaseSpec} gives; `undefined` for a spec left out (`undefined` or `null`). */
type ClientOf<S> = S extends LeaseSpec<infer C> ? C : undefined;

/**
 * Leases several pools at once for one run, all or none: the leases are taken concurrently and, when
 * any fails, the ones that succeeded are released before the first failure is rethrown. A spec given as
 * `undefined`/`null` (e.g. an unconfigured optional server) is skipped and its client is `undefined`.
 * @returns the clients under the specs' names, and `release()` releasing every lease (idempotent).
 * @throws the first failing lease's error (what that pool's `connect` threw, e.g. BackstopError
 *   `mcp.unavailable`).
 */
export async function leaseAll<S extends Record<string, LeaseSpec<PooledMcpClient> | null | undefined>>(
  specs: S,
): Promise<{ clients: { [K in keyof S]: ClientOf<S[K]> }; release(): void }> {
  const names = Object.keys(specs);
  const settled = await Promise.allSettled(
    names.map((name) => {
      const spec = specs[name];
      return spec ? spec.pool.lease(spec.key) : Promise.resolve(undefined);
    }),
  );
  const leases = settled.flatMap((s) => (s.status === "fulfilled" && s.value ? [s.value] : []));
  const release = () => {
    for (const l of leases) l.release();
  };
  const failed = settled.find((s) => s.status === "rejected");
  if (failed) {
    release();
    throw failed.reason;
  }
  const clients: Record<string, PooledMcpClient | undefined> = {};
  names.forEach((name, i) => {
    const s = settled[i]!;
    clients[name] = s.status === "fulfilled" ? s.value?.client : undefined;
  });
  return { clients: clients as { [K in keyof S]: ClientOf<S[K]> }, release };
}
