import { Redis } from "ioredis";
import { BackstopError, errorMessage } from "../errors.js";
import { childLogger } from "../log.js";
import { defineLuaCommands } from "../queue/lua.js";
import type { QueueConnection } from "../queue/runs.js";
import { type BudgetStore, checkLatencySample, LATENCY_TTL_MS } from "./store.js";

const log = childLogger("gateway.redis-store");

/** How long a day's spend key lives after its last write (s): 2 days, so yesterday stays readable. */
export const SPEND_TTL_S = 2 * 24 * 60 * 60;
/** How long a minute window's counter lives (ms): its minute plus one of slack for clock skew. */
export const WINDOW_TTL_MS = 120_000;
/** How long a cooldown key outlives its end (ms), so a late reader still sees the end time. */
export const COOLDOWN_GRACE_MS = 24 * 60 * 60 * 1000;

/**
 * Takes one slot of a fixed minute window if fewer than `limit` were taken: GET, compare, INCR and
 * PEXPIRE in one script, so concurrent workers never take more than `limit` slots together.
 */
const ACQUIRE_LUA = `
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n >= tonumber(ARGV[1]) then return 0 end
redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`;

/**
 * Folds one sample into a target's latency EWMA atomically (concurrent workers never lose a sample):
 * `new = alpha * sample + (1 - alpha) * old`, or the sample when there is no average; the key expires
 * {@link LATENCY_TTL_MS} after the last sample. Returns the new average as a string (Lua numbers
 * returned to Redis are truncated to integers).
 */
const EWMA_LUA = `
local old = redis.call('GET', KEYS[1])
local x = tonumber(ARGV[1])
local a = tonumber(ARGV[2])
local v = x
if old then v = a * x + (1 - a) * tonumber(old) end
redis.call('SET', KEYS[1], tostring(v), 'PX', ARGV[3])
return tostring(v)
`;

/**
 * The model router's {@link BudgetStore} in Redis (ioredis), shared by every bot and worker process,
 * with exactly the semantics of `MemoryBudgetStore`:
 * - spend: `INCRBYFLOAT <prefix>:spend:<YYYY-MM-DD>` (USD; UTC day chosen by the caller, so a new day
 *   is a new key) and `EXPIRE` 2 days ({@link SPEND_TTL_S});
 * - requests per minute: a fixed-window counter per target and window start
 *   (`<prefix>:rpm:<target>:<windowStartMs>`), checked and incremented by one Lua script, expiring
 *   after {@link WINDOW_TTL_MS} (not a sliding sorted-set window: the router asks for fixed windows);
 * - cooldowns: `SET <prefix>:cooldown:<target> <untilMs> PX …`; the value is authoritative (the router
 *   compares it with its own clock), the TTL (until `untilMs` plus {@link COOLDOWN_GRACE_MS}) only
 *   reclaims memory, so an injected clock behaves as with the memory store;
 * - latency: `<prefix>:latency:<target>` holds the EWMA in ms, updated by one Lua script and read for
 *   all targets with one `MGET`; it expires {@link LATENCY_TTL_MS} after the last sample.
 *
 * Default prefix `backstop:budget`. Every method throws BackstopError `budget.unavailable` when Redis
 * fails (the router then fails closed), `input.invalid_spend` for a NaN or +Infinity amount.
 */
export class RedisBudgetStore implements BudgetStore {
  private readonly redis: Redis;
  private readonly lua;
  private readonly p: string;

  /** Opens a lazy ioredis client; commands fail after 2 reconnect retries instead of hanging. */
  constructor(opts: { connection: QueueConnection; prefix?: string }) {
    this.p = opts.prefix ?? "backstop:budget";
    this.redis = new Redis({ ...opts.connection, maxRetriesPerRequest: 2, lazyConnect: true });
    this.lua = defineLuaCommands(this.redis, {
      acquire: { keys: 1, lua: ACQUIRE_LUA },
      ewma: { keys: 1, lua: EWMA_LUA },
    });
    this.redis.on("error", (err) => log.warn({ err }, "budget store connection error"));
  }

  private async call<T>(what: string, op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (err) {
      throw new BackstopError("budget.unavailable", `budget store ${what} failed: ${errorMessage(err)}`, {
        cause: err,
      });
    }
  }

  /** @inheritdoc */
  async spent(day: string): Promise<number> {
    const raw = await this.call("spent", () => this.redis.get(`${this.p}:spend:${day}`));
    return raw === null ? 0 : Number(raw);
  }

  /** @inheritdoc Negative amounts count as 0, as in the memory store. */
  async addSpend(day: string, usd: number): Promise<number> {
    if (Number.isNaN(usd) || usd === Number.POSITIVE_INFINITY) {
      throw new BackstopError("input.invalid_spend", `a spend must be a finite number of USD, not ${usd}`);
    }
    const add = Math.max(0, usd);
    const key = `${this.p}:spend:${day}`;
    const res = await this.call("addSpend", () =>
      this.redis.multi().incrbyfloat(key, add).expire(key, SPEND_TTL_S).exec(),
    );
    const err = res?.[0]?.[0];
    if (err)
      throw new BackstopError("budget.unavailable", `INCRBYFLOAT failed: ${err.message}`, { cause: err });
    return Number(res?.[0]?.[1]);
  }

  /** @inheritdoc */
  async tryAcquire(target: string, windowStartMs: number, limit: number): Promise<boolean> {
    const key = `${this.p}:rpm:${target}:${windowStartMs}`;
    const res = await this.call("tryAcquire", () =>
      this.lua.acquire(key, String(limit), String(WINDOW_TTL_MS)),
    );
    return res === 1;
  }

  /** @inheritdoc */
  async cooldownUntil(target: string): Promise<number | null> {
    const raw = await this.call("cooldownUntil", () => this.redis.get(`${this.p}:cooldown:${target}`));
    return raw === null ? null : Number(raw);
  }

  /** @inheritdoc */
  async setCooldown(target: string, untilMs: number): Promise<void> {
    const ttl = Math.max(1, Math.ceil(untilMs - Date.now())) + COOLDOWN_GRACE_MS;
    await this.call("setCooldown", () =>
      this.redis.set(`${this.p}:cooldown:${target}`, String(untilMs), "PX", ttl),
    );
  }

  /** @inheritdoc */
  async clearCooldown(target: string): Promise<void> {
    await this.call("clearCooldown", () => this.redis.del(`${this.p}:cooldown:${target}`));
  }

  /** @inheritdoc */
  async latencies(targets: readonly string[]): Promise<(number | null)[]> {
    if (targets.length === 0) return [];
    const raw = await this.call("latencies", () =>
      this.redis.mget(...targets.map((t) => `${this.p}:latency:${t}`)),
    );
    return raw.map((v) => (v === null ? null : Number(v)));
  }

  /** @inheritdoc */
  async recordLatency(target: string, ms: number, alpha: number): Promise<number> {
    checkLatencySample(ms, alpha);
    const res = await this.call("recordLatency", () =>
      this.lua.ewma(`${this.p}:latency:${target}`, String(ms), String(alpha), String(LATENCY_TTL_MS)),
    );
    return Number(res);
  }

  /** Closes the Redis connection. */
  async close(): Promise<void> {
    try {
      await this.redis.quit();
    } catch {
      this.redis.disconnect();
    }
  }
}
