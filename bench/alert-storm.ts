/**
 * Benchmark `alert-storm`: `--notifications` Alertmanager notifications (webhook v4, 1–3 pod alerts
 * each, re-sends of the same groups interleaved) over `--groups` groups, sent `--concurrency` at a time
 * to the bot's `POST /alerts/alertmanager` (this process), with the worker in a separate process
 * (`bench/lib/worker-proc.ts`, `--worker-concurrency` jobs) running the runs as they are queued.
 * - `runs`: triage runs the worker made; one per group is correct (deduplication), so it must equal
 *   `--groups`.
 * - `rps`: notifications answered per second over the storm; `p50_ms` / `p99_ms`: request latency.
 * Every answer must be 2xx; others are counted and printed.
 *
 * Usage: `npx tsx bench/alert-storm.ts [--notifications 10000] [--groups 100] [--concurrency 64]
 *   [--worker-concurrency 8] [--quick] [--json FILE]`.
 * JSON `result`: `{runs, rps, p50_ms, p99_ms}` plus `errors`.
 */
import { randomBytes } from "node:crypto";
import { Pool } from "undici";
import { setLogLevel } from "../src/log.js";
import { createBackstopApp } from "../src/slack/app.js";
import { main, parseFlags, pct, round, table, writeResult } from "./lib/common.js";
import { BOT_TOKEN, CHANNEL, groupNotification, startFleet, until } from "./lib/fleet.js";

setLogLevel("silent");

main(async () => {
  const flags = parseFlags(
    "npx tsx bench/alert-storm.ts [--notifications N] [--groups N] [--concurrency N] [--worker-concurrency N] [--quick] [--json FILE]",
    {
      full: { notifications: 10_000, groups: 100, concurrency: 64, "worker-concurrency": 8 },
      quick: { notifications: 1000, groups: 10, concurrency: 64, "worker-concurrency": 8 },
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
      slackApiUrl: fleet.slack.apiUrl,
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
  const pool = new Pool(url, { connections: concurrency, pipelining: 1 });
  try {
    const worker = fleet.spawnWorker(flags.sizes["worker-concurrency"]);
    await worker.ready;
    // Bodies are built before the clock starts: the storm measures the bot, not JSON.stringify.
    const bodies = Array.from({ length: notifications }, (_, i) =>
      JSON.stringify(groupNotification(fleet.scenario, i % groups, Math.floor(i / groups))),
    );
    // Warm-up (connections, JIT): resolved notifications for a group that never fired make no run.
    const warm = groupNotification(fleet.scenario, groups + 1, 0);
    const warmBody = JSON.stringify({
      ...warm,
      status: "resolved",
      alerts: warm.alerts.map((a) => ({ ...a, status: "resolved" })),
    });
    await Promise.all(
      Array.from({ length: Math.min(concurrency, 64) }, async () => {
        for (let k = 0; k < 4; k++) {
          const res = await pool.request({
            path: "/alerts/alertmanager",
            method: "POST",
            headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
            body: warmBody,
          });
          await res.body.dump();
        }
      }),
    );
    const latencies: number[] = [];
    const errors = new Map<number, number>();
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        for (;;) {
          const i = next++;
          if (i >= notifications) return;
          const s = performance.now();
          const res = await pool.request({
            path: "/alerts/alertmanager",
            method: "POST",
            headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
            body: bodies[i],
          });
          await res.body.dump();
          latencies.push(performance.now() - s);
          if (res.statusCode >= 300) errors.set(res.statusCode, (errors.get(res.statusCode) ?? 0) + 1);
        }
      }),
    );
    const seconds = (performance.now() - t0) / 1000;

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
      errors: Object.fromEntries(errors),
    };
    console.log(
      `alert storm: ${notifications} notifications over ${groups} groups, ${concurrency} at a time, worker in a separate process\n`,
    );
    console.log(
      table(
        ["measure", "value"],
        [
          ["runs made (expected)", `${result.runs} (${groups})`],
          ["requests/s", result.rps],
          ["p50 ms", result.p50_ms],
          ["p99 ms", result.p99_ms],
          ["non-2xx answers", [...errors.values()].reduce((a, b) => a + b, 0)],
        ],
      ),
    );
    if (result.runs !== groups) console.error(`\nFAIL: ${result.runs} runs for ${groups} groups`);
    writeResult(flags.json, "alert-storm", { notifications, groups, concurrency }, result);
    await worker.close();
    if (result.runs !== groups) process.exitCode = 1;
  } finally {
    await pool.close();
    await bot.stop();
    await fleet.close();
  }
});
