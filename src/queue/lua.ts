import type { Redis } from "ioredis";

/** A Lua script and how many of its arguments are keys (`KEYS[1..keys]`); the rest are `ARGV`. */
export interface LuaScript {
  keys: number;
  lua: string;
}

/** A registered script: call it with its keys, then its other arguments. Resolves with the script's reply. */
export type LuaCommand = (...keysThenArgs: (string | number)[]) => Promise<unknown>;

/**
 * Registers `scripts` on `redis` with ioredis' `defineCommand` and returns one caller per script.
 * ioredis sends a script's text (EVAL) the first time on each connection and its SHA1 (EVALSHA)
 * after that, re-sending the text when Redis answers NOSCRIPT (after a restart or SCRIPT FLUSH), so a
 * hot script no longer ships its source on every call
 * (https://redis.io/docs/latest/develop/interactive/programmability/eval-intro/#script-cache).
 * Names are prefixed `backstop_` so they cannot shadow a Redis command method of the client.
 * Errors are Redis' own, as from `eval`.
 */
export function defineLuaCommands<N extends string>(
  redis: Redis,
  scripts: Record<N, LuaScript>,
): Record<N, LuaCommand> {
  const out = {} as Record<N, LuaCommand>;
  for (const name of Object.keys(scripts) as N[]) {
    const method = `backstop_${name}`;
    const { keys, lua } = scripts[name];
    redis.defineCommand(method, { numberOfKeys: keys, lua });
    const fn = (redis as unknown as Record<string, LuaCommand>)[method]!;
    out[name] = (...args) => fn.apply(redis, args);
  }
  return out;
}
