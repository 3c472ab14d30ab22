/**
 * HTTP client benchmark: the CPU (user + system, µs) this process spends per request for each way the
 * SDKs could reach an HTTP API: Node's built-in `fetch`, Backstop's `createFetch` (src/http.ts: undici's
 * `request` answered as a `Response`), and undici's `request` alone (the floor). The server, a plain
 * `node:http` one answering a Slack-sized JSON body, runs in a forked process so its CPU is not counted.
 * `--n` requests per client, `--concurrency` in flight, after 300 warm-up requests.
 * Usage: `npx tsx bench/http-client.ts [--n 3000] [--concurrency 16] [--quick] [--json FILE]`.
 * JSON `result`: `{global_fetch_us, backstop_fetch_us, undici_request_us}` (CPU µs per request).
 */
import { type ChildProcess, fork } from "node:child_process";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { Agent, request } from "undici";
import { createFetch } from "../src/http.js";
import { cpuMsOf, main, parseFlags, round, table, writeResult } from "./lib/common.js";

const USAGE = "tsx bench/http-client.ts [--n 3000] [--concurrency 16] [--quick] [--json FILE]";

/** The forked server: answers every POST with one JSON body and reports its port. */
function serve(): void {
  const body = JSON.stringify({
    ok: true,
    channel: "C1",
    ts: "1.000100",
    message: { text: "x".repeat(300) },
  });
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(body);
    });
  });
  server.listen(0, "127.0.0.1", () => process.send?.((server.address() as AddressInfo).port));
}

if (process.argv[2] === "--serve") serve();
else {
  main(async () => {
    const { json, sizes } = parseFlags(USAGE, {
      full: { n: 3000, concurrency: 16 },
      quick: { n: 300, concurrency: 8 },
    });
    const child: ChildProcess = fork(fileURLToPath(import.meta.url), ["--serve"]);
    try {
      const port = await new Promise<number>((resolve) => child.once("message", (m) => resolve(Number(m))));
      const url = `http://127.0.0.1:${port}/api/chat.postMessage`;
      const payload = JSON.stringify({ channel: "C1", text: "hello ".repeat(100) });
      const init = { method: "POST", headers: { "content-type": "application/json" }, body: payload };
      const agent = new Agent();
      const lean = createFetch(agent);
      const clients: [string, () => Promise<unknown>][] = [
        ["global_fetch_us", async () => (await fetch(url, init)).json()],
        ["backstop_fetch_us", async () => (await lean(url, init)).json()],
        ["undici_request_us", async () => (await request(url, { ...init, dispatcher: agent })).body.json()],
      ];
      const result: Record<string, number> = {};
      for (const [name, call] of clients) {
        for (let i = 0; i < 300; i++) await call();
        const before = process.cpuUsage();
        let next = 0;
        await Promise.all(
          Array.from({ length: sizes.concurrency }, async () => {
            while (next++ < sizes.n) await call();
          }),
        );
        result[name] = round((cpuMsOf(process.cpuUsage(before)) * 1000) / sizes.n, 0);
      }
      await agent.close();
      console.log(
        `HTTP client: ${sizes.n} requests each, ${sizes.concurrency} in flight, ${process.version}\n`,
      );
      console.log(
        table(
          ["client", "CPU µs / request"],
          Object.entries(result).map(([k, v]) => [k.replace(/_us$/, ""), v]),
        ),
      );
      writeResult(json, "http-client", { ...sizes, node: process.version }, result);
    } finally {
      child.kill();
    }
  });
}
