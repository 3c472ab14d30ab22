import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { defineLuaCommands } from "../../src/queue/lua.js";
import { dropPrefix, REDIS, uniquePrefix } from "./redis-helpers.js";

const prefix = uniquePrefix("lua");
const redis = new Redis(REDIS);
const admin = new Redis(REDIS);

afterAll(async () => {
  await redis.quit();
  await admin.quit();
  await dropPrefix(prefix);
});

describe("defineLuaCommands", () => {
  it("runs scripts by SHA after the first call, and survives a flushed script cache", async () => {
    const lua = defineLuaCommands(redis, {
      incrBy: { keys: 1, lua: "return redis.call('INCRBY', KEYS[1], ARGV[1])" },
    });
    const key = `${prefix}:n`;
    const before = await admin.info("commandstats");
    const calls = (info: string, cmd: string) =>
      Number(new RegExp(`cmdstat_${cmd}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
    expect(await lua.incrBy(key, 2)).toBe(2);
    expect(await lua.incrBy(key, 3)).toBe(5);
    const after = await admin.info("commandstats");
    // Other suites share this Redis, so only a lower bound holds: at least our second call went by SHA.
    expect(calls(after, "evalsha") - calls(before, "evalsha")).toBeGreaterThanOrEqual(1);
    // Redis restarted or SCRIPT FLUSH: NOSCRIPT, and ioredis sends the text again.
    await admin.script("FLUSH");
    expect(await lua.incrBy(key, 4)).toBe(9);
  });

  it("passes a script's Redis error through", async () => {
    const lua = defineLuaCommands(redis, { boom: { keys: 0, lua: "return redis.error_reply('BOOM nope')" } });
    await expect(lua.boom()).rejects.toThrow(/BOOM nope/);
  });
});
