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
    // What Redis received for our key, seen through MONITOR (other suites share this Redis).
    const monitor = await admin.monitor();
    const sent: string[] = [];
    monitor.on("monitor", (_time: string, args: string[]) => {
      if (args.includes(key)) sent.push(String(args[0]).toLowerCase());
    });
    expect(await lua.incrBy(key, 2)).toBe(2);
    expect(await lua.incrBy(key, 3)).toBe(5);
    await new Promise((r) => setTimeout(r, 100));
    monitor.disconnect();
    // The text once on this connection, then the SHA only.
    expect(sent.filter((c) => c !== "incrby")).toEqual(["eval", "evalsha"]);
    // Redis restarted or SCRIPT FLUSH: NOSCRIPT, and ioredis sends the text again.
    await admin.script("FLUSH");
    expect(await lua.incrBy(key, 4)).toBe(9);
  });

  it("passes a script's Redis error through", async () => {
    const lua = defineLuaCommands(redis, { boom: { keys: 0, lua: "return redis.error_reply('BOOM nope')" } });
    await expect(lua.boom()).rejects.toThrow(/BOOM nope/);
  });
});
