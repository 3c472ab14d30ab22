/**
 * Benchmark `alert-storm`: `--notifications` Alertmanager notifications (webhook v4, 1–3 pod alerts
 * each, re-sends of the same groups interleaved) over `--groups` groups, sent `--concurrency` at a time
 * by a client in its own process (`bench/lib/storm-client.ts`, as Alertmanager is) to the bot's
 * `POST /alerts/alertmanager` (this process), with the worker in a separate process
 * (`bench/lib/worker-proc.ts`, `--worker-concurrency` jobs) running the runs as they are queued.
 * - `runs`: triage runs the worker made; one per group is correct (deduplication), so it must equal
 *   `--groups`.
 * - `rps`: notifications answered per second over the storm; `p50_ms` / `p99_ms`: request latency.
 * - `cpu_us_per_req`: this process's CPU (user + system) over the storm per notification: the bot
 *   alone (the sandbox Slack the bot and the worker post to runs in the sandbox process, as Slack is
 *   remote in production).
 * Every answer must be 2xx; others are counted and printed.
 *
 * Usage: `npx tsx bench/alert-storm.ts [--notifications 10000] [--groups 100] [--concurrency 64]
 *   [--worker-concurrency 8] [--warmup 2048] [--quick] [--json FILE]`. `--warmup`: `resolved`
 *   notifications for a group that never fired, sent before the clock starts (connections, JIT).
 * JSON `result`: `{runs, rps, p50_ms, p99_ms, cpu_us_per_req}` plus `errors`.
 */
import { fork } from "node:child_process";
import { randomBytes } from "node:crypto";
import { setLogLevel } from "../src/log.js";
import { createBackstopApp } from "../src/slack/app.js";
import { cpuMsOf, main, parseFlags, pct, round, table, writeResult } from "./lib/common.js";
import { BOT_TOKEN, CHANNEL, CHILD_RUNTIME, childModule, startFleet, until } from "./lib/fleet.js";
import type { StormDone, StormRequest } from "./lib/storm-client.js";

setLogLevel("silent");

main(async () => {
  const flags = parseFlags(
    "npx tsx bench/alert-storm.ts [--notifications N] [--groups N] [--concurrency N] [--worker-concurrency N] [--warmup N] [--quick] [--json FILE]",
    {
      full: { notifications: 10_000, groups: 100, concurrency: 64, "worker-concurrency": 8, warmup: 2048 },
      quick: { notifications: 1000, groups: 10, concurrency: 64, "worker-concurrency": 8, warmup: 2048 },
    },
  );
  const { notifications, groups, concurrency } = flags.sizes;
  if (groups > notifications) throw new Error("--groups must not exceed --notifications");
  const fleet = await startFleet(groups, 0);
  const token = randomBytes(16).toString("hex");
  const bot = createBackstopApp(
    {
      mode: "http",
      botToken: BOT_TOKEN,
      signingSecret: randomBytes(16).toString("hex"),
      botUserId: "U0BACKSTOP",
      botId: "B0BACKSTOP",
      slackApiUrl: fleet.slackApiUrl,
      port: 0,
      host: "127.0.0.1",
      alertChannel: CHANNEL,
      alertWebhookToken: token,
      approvers: { users: ["U0ONCALL"] },
      approvalTimeoutMs: 30 * 60_000,
    },
    { producer: fleet.producer, store: fleet.store },
  );
  const { url } = await bot.start();
  if (!url) throw new Error("the bot did not report its URL");
  const clientModule = childModule("storm-client");
  const client = fork(clientModule.file, [], {
    execArgv: clientModule.execArgv,
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  try {
    const worker = fleet.spawnWorker(flags.sizes["worker-concurrency"]);
    await worker.ready;
    // The bot's CPU is taken from the client's "start" (after its warm-up) to its "done".
    let cpu0 = process.cpuUsage();
    const done = await new Promise<StormDone>((resolve, reject) => {
      client.on("message", (m: { type: string }) => {
        if (m.type === "start") cpu0 = process.cpuUsage();
        else if (m.type === "done") resolve(m as StormDone);
      });
      client.once("exit", (code) => reject(new Error(`the storm client exited with code ${code}`)));
      const request: StormRequest = {
        type: "storm",
        url,
        token,
        scenario: fleet.scenario,
        notifications,
        groups,
        concurrency,
        warmup: flags.sizes.warmup,
      };
      client.send(request);
    });
    const cpu = process.cpuUsage(cpu0);
    const { latencies, seconds } = done;
    const errors = new Map(done.errors);

    // Let the worker finish: exactly `groups` runs are expected; wait a little past that for extras.
    const made = () => worker.completed.size + worker.failed.size;
    await until(() => made() >= groups, 300_000, `${groups} runs`).catch((err: Error) =>
      console.error(err.message),
    );
    await new Promise((r) => setTimeout(r, 3000));
    const result = {
      runs: made(),
      rps: round(notifications / seconds, 1),
      p50_ms: round(pct(latencies, 50)),
      p99_ms: round(pct(latencies, 99)),
      cpu_us_per_req: round((cpuMsOf(cpu) * 1000) / notifications, 1),
      errors: Object.fromEntries(errors),
    };
    console.log(
      `alert storm: ${notifications} notifications over ${groups} groups, ${concurrency} at a time, client and worker in separate processes run from ${CHILD_RUNTIME}\n`,
    );
    console.log(
      table(
        ["measure", "value"],
        [
          ["runs made (expected)", `${result.runs} (${groups})`],
          ["requests/s", result.rps],
          ["p50 ms", result.p50_ms],
          ["p99 ms", result.p99_ms],
          ["bot CPU µs/request", result.cpu_us_per_req],
          ["non-2xx answers", [...errors.values()].reduce((a, b) => a + b, 0)],
        ],
      ),
    );
    if (result.runs !== groups) console.error(`\nFAIL: ${result.runs} runs for ${groups} groups`);
    writeResult(
      flags.json,
      "alert-storm",
      { notifications, groups, concurrency, warmup: flags.sizes.warmup, runtime: CHILD_RUNTIME },
      result,
    );
    await worker.close();
    if (result.runs !== groups) process.exitCode = 1;
  } finally {
    if (client.exitCode === null) client.kill("SIGKILL");
    await bot.stop();
    await fleet.close();
  }
});
