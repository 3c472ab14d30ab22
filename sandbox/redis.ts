import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createServer, Socket } from "node:net";
import { BackstopError } from "../src/errors.js";

/** Sends `PING` to a Redis at host:port; true when it answers `+PONG` within `timeoutMs`. */
export function redisAnswers(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("error", () => done(false));
    socket.once("data", (buf) => done(buf.toString("utf8").startsWith("+PONG")));
    socket.connect(port, host, () => socket.write("PING\r\n"));
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const address = srv.address();
      srv.close(() =>
        typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port")),
      );
    });
  });
}

/** Where the demo's Redis is, and how to stop it when the demo started it. */
export interface DemoRedis {
  url: string;
  /** `env` (REDIS_URL), `local` (127.0.0.1:6379 answered) or `child` (a redis-server the demo started). */
  source: "env" | "local" | "child";
  stop(): Promise<void>;
}

/**
 * Finds a Redis for the demo: `redisUrl` (REDIS_URL) if given, else 127.0.0.1:6379 if it answers, else a
 * `redis-server` child on a free port (nothing persisted) if the binary is installed.
 * @throws BackstopError `demo.redis` with how to get one (apt-get, brew, `docker compose up redis`).
 */
export async function ensureRedis(redisUrl: string | undefined): Promise<DemoRedis> {
  const none = async () => undefined;
  if (redisUrl) return { url: redisUrl, source: "env", stop: none };
  if (await redisAnswers("127.0.0.1", 6379))
    return { url: "redis://127.0.0.1:6379", source: "local", stop: none };
  const found = spawnSync("redis-server", ["--version"], { encoding: "utf8" });
  if (found.error || found.status !== 0) {
    throw new BackstopError(
      "demo.redis",
      [
        "the demo needs Redis (>= 6.2) and none answers on 127.0.0.1:6379.",
        "Start one of these, then run the demo again:",
        "  - install it: `sudo apt-get install redis-server` (Debian/Ubuntu) or `brew install redis` (macOS)",
        "  - or with Docker: `docker compose up -d redis` (from this repository)",
        "  - or point at one: `REDIS_URL=redis://host:6379 npm run demo`",
      ].join("\n"),
    );
  }
  const port = await freePort();
  const child: ChildProcess = spawn(
    "redis-server",
    [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
      "--maxmemory-policy",
      "noeviction",
    ],
    { stdio: "ignore" },
  );
  for (let i = 0; i < 50; i++) {
    if (await redisAnswers("127.0.0.1", port)) {
      return {
        url: `redis://127.0.0.1:${port}`,
        source: "child",
        async stop() {
          child.kill("SIGTERM");
        },
      };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill("SIGKILL");
  throw new BackstopError("demo.redis", `started redis-server on port ${port} but it never answered PING`);
}
