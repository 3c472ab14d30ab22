import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import type { QueueConnection } from "../../src/queue/runs.js";

/** The test Redis on 127.0.0.1:6379. */
export const REDIS: QueueConnection = { host: "127.0.0.1", port: 6379 };

/** A key prefix no other test file uses. */
export function uniquePrefix(area: string): string {
  return `test-${area}-${randomBytes(4).toString("hex")}`;
}

/** Deletes every key under `prefix` (SCAN, never KEYS). */
export async function dropPrefix(prefix: string): Promise<void> {
  const r = new Redis({ ...REDIS, lazyConnect: true });
  try {
    let cursor = "0";
    do {
      const [next, keys] = await r.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 500);
      cursor = next;
      if (keys.length > 0) await r.del(...keys);
    } while (cursor !== "0");
  } finally {
    r.disconnect();
  }
}

/** Polls `check` every 25 ms until it returns a value other than undefined, or fails after `ms`. */
export async function eventually<T>(check: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 25));
  }
}
