/**
 * Benchmark `concurrency`: `--incidents` incidents on as many workloads, every model call scripted at
 * `--model-ms`, processed by `--workers` worker processes (the real BullMQ worker and processors, each
 * a separate Node process running `--concurrency` jobs at once; default incidents ÷ workers).
 * First one incident alone gives the per-run time; then all incidents are queued at once.
 * - `makespan_ratio`: makespan (first enqueue → last run done) ÷ ideal, where ideal = incidents ×
 *   per-run time ÷ total concurrency (never below one run's time).
 * - `lost`: incidents whose run did not complete (failed after its attempts, or not done by the deadline).
 * - `rss_mb_peak`: the largest worker process's peak RSS (MB, sampled every 100 ms).
 * - `redis_mb`: growth of Redis `used_memory` over the batch (a shared server: indicative only).
 * - `cpu_ms_per_run`: CPU time (user + system) the worker processes, the mcp-infra process and the
 *   sandbox process used over the batch, per completed run (ms): what the makespan costs in CPU,
 *   whatever else the machine runs; `cpu_ms_per_run_backstop` Backstop's own share (workers and
 *   mcp-infra; the sandbox stands in for the cluster, the model provider, the ticket tracker and Slack).
 *   `cpu_ms_per_run_bench` is this process alone (the driver: enqueueing, reading progress), apart.
 * - `cpu_floor_ms`: incidents × `cpu_ms_per_run` ÷ the machine's cores (`os.availableParallelism()`):
 *   the makespan no scheduling can beat on this machine, since the batch's CPU must be spent somewhere;
 *   `cpu_floor_ratio` = that ÷ ideal. At or above the target ratio, the target is out of reach at this
 *   size on this machine whatever the overlap; `cpu_demand_cores` = total concurrency ×
 *   `cpu_ms_per_run` ÷ per-run time, the cores the configured concurrency asks for while every slot is busy.
 *
 * Usage: `npx tsx bench/concurrency.ts [--incidents 200] [--workers 2] [--concurrency N]
 *   [--model-ms 2000] [--quick] [--json FILE]`.
 * JSON `result`: `{makespan_ratio, lost, rss_mb_peak}` plus the timing, CPU and memory fields bench/README.md lists.
 */

import { availableParallelism } from "node:os";
import { DEFAULT_CLUSTER_NAME } from "../src/contracts/cluster.js";
import { setLogLevel } from "../src/log.js";
import { targetFromAlert } from "../src/pipeline/target.js";
import type { RunJobData } from "../src/queue/jobs.js";
import { incidentKeyForAlert, runIdFor } from "../src/queue/jobs.js";
import { cpuMsOf, main, parseFlags, pct, round, table, writeResult } from "./lib/common.js";
import { CHANNEL, CHILD_RUNTIME, type Fleet, groupNotification, startFleet, until } from "./lib/fleet.js";

setLogLevel("silent");

/** The triage job for workload `catalog-<g>` (`tag` keeps a warm-up incident apart from the batch). */
function job(fleet: Fleet, g: number, tag = ""): RunJobData {
  const webhook = groupNotification(fleet.scenario, g, 0);
  if (tag) webhook.groupKey += `/${tag}`;
  const alert = { ...webhook.alerts[0]! };
  // The fleet's sandbox serves one cluster under the single-cluster default name.
  const incidentKey = incidentKeyForAlert(webhook, alert, DEFAULT_CLUSTER_NAME);
  const target = targetFromAlert(alert);
  if (!target) throw new Error("the fleet's alert names no workload");
  return {
    runId: runIdFor(incidentKey),
    cluster: DEFAULT_CLUSTER_NAME,
    trigger: "alert",
    incidentKey,
    target,
    onset: alert.startsAt ?? new Date().toISOString(),
    alert: { ...webhook, alerts: [alert] },
    note: null,
    requestedBy: null,
    slack: { channel: CHANNEL, responseUrl: null },
  };
}

main(async () => {
  const flags = parseFlags(
    "npx tsx bench/concurrency.ts [--incidents N] [--workers N] [--concurrency N] [--model-ms MS] [--quick] [--json FILE]",
    {
      full: { incidents: 200, workers: 2, concurrency: 0, "model-ms": 2000 },
      quick: { incidents: 20, workers: 2, concurrency: 0, "model-ms": 500 },
    },
  );
  const { incidents, workers } = flags.sizes;
  const modelMs = flags.sizes["model-ms"];
  const perWorker = flags.sizes.concurrency > 0 ? flags.sizes.concurrency : Math.ceil(incidents / workers);
  const total = perWorker * workers;
  const fleet = await startFleet(incidents, modelMs);
  try {
    const handles = Array.from({ length: workers }, () => fleet.spawnWorker(perWorker));
    await Promise.all(handles.map((h) => h.ready));
    const done = () => handles.reduce((n, h) => n + h.completed.size + h.failed.size, 0);

    // One incident alone: the per-run time (and a warm-up of every worker's first run).
    const solo = job(fleet, 0, "solo");
    await fleet.producer.enqueueRun(solo);
    await until(() => done() >= 1, 120_000 + modelMs * 20, "the solo run");
    const soloDone = handles.map((h) => h.completed.get(solo.incidentKey)).find((x) => x);
    if (!soloDone) throw new Error("the solo run failed");
    const perRun = soloDone.ms;

    const redisBefore = await fleet.redisUsedMb();
    const cpuNow = async () => ({
      sandbox: await fleet.sandboxCpuMs(),
      infra: fleet.infraCpuMs(),
      workers: (await Promise.all(handles.map((h) => h.cpuMs()))).reduce((a, b) => a + b, 0),
      bench: cpuMsOf(process.cpuUsage()),
      redis: await fleet.redisCpuMs(),
    });
    const cpuBefore = await cpuNow();
    const t0 = Date.now();
    // The incidents arrive together (an alert storm), not one after another.
    await Promise.all(Array.from({ length: incidents }, (_, g) => fleet.producer.enqueueRun(job(fleet, g))));
    const ideal = Math.max(perRun, (incidents * perRun) / total);
    const deadline = Math.max(120_000, ideal * 10);
    await until(() => done() >= incidents + 1, deadline, `${incidents} runs`).catch((err: Error) =>
      console.error(err.message),
    );
    const batch = handles.flatMap((h) =>
      [...h.completed.entries()].filter(([id]) => id !== solo.incidentKey),
    );
    const last = Math.max(t0, ...batch.map(([, v]) => v.at));
    const makespan = last - t0;
    const redisAfter = await fleet.redisUsedMb();
    const cpuAfter = await cpuNow();
    const perRunCpu = (k: keyof typeof cpuAfter) => (cpuAfter[k] - cpuBefore[k]) / Math.max(1, batch.length);
    const backstopCpu = perRunCpu("workers") + perRunCpu("infra");
    // Where a run's time goes: mean `duration_ms` per event type over the batch's receipts.
    const stageMs = new Map<string, { sum: number; n: number }>();
    const receipts = await Promise.all(batch.map(([id]) => fleet.store.getReceipt(runIdFor(id))));
    for (const raw of receipts) {
      const events = raw
        ? (JSON.parse(raw) as { events: { type: string; duration_ms?: number }[] }).events
        : [];
      for (const e of events) {
        if (e.duration_ms === undefined) continue;
        const s = stageMs.get(e.type) ?? { sum: 0, n: 0 };
        s.sum += e.duration_ms;
        s.n += 1;
        stageMs.set(e.type, s);
      }
    }
    const rss = Math.max(...(await Promise.all(handles.map((h) => h.rssPeakMb()))));
    const lost = incidents - batch.length;
    const runMs = batch.map(([, v]) => v.ms);
    const cpuPerRun = backstopCpu + perRunCpu("sandbox");
    const cores = availableParallelism();
    const cpuFloor = (incidents * cpuPerRun) / cores;
    const waitMs = batch.map(([, v]) => v.waitedMs);
    const result = {
      makespan_ratio: round(makespan / ideal, 3),
      lost,
      rss_mb_peak: round(rss, 1),
      makespan_ms: makespan,
      ideal_ms: round(ideal),
      per_run_ms: perRun,
      redis_mb: round(redisAfter - redisBefore, 2),
      cpu_ms_per_run: round(cpuPerRun, 1),
      cpu_ms_per_run_backstop: round(backstopCpu, 1),
      cpu_ms_per_run_workers: round(perRunCpu("workers"), 1),
      cpu_ms_per_run_mcp_infra: round(perRunCpu("infra"), 1),
      cpu_ms_per_run_bench: round(perRunCpu("bench"), 1),
      cpu_ms_per_run_redis: round(perRunCpu("redis"), 1),
      run_ms_p50: round(pct(runMs, 50)),
      run_ms_p99: round(pct(runMs, 99)),
      wait_ms_p50: round(pct(waitMs, 50)),
      wait_ms_p99: round(pct(waitMs, 99)),
      cpu_floor_ms: round(cpuFloor, 0),
      cpu_floor_ratio: round(cpuFloor / ideal, 3),
      cpu_demand_cores: round((total * cpuPerRun) / perRun, 2),
    };
    console.log(
      `concurrency: ${incidents} incidents, ${workers} worker processes × ${perWorker} jobs, ${modelMs} ms per model call, processes run from ${CHILD_RUNTIME}\n`,
    );
    console.log(
      table(
        ["measure", "value"],
        [
          ["per-run time alone (ms)", perRun],
          ["ideal makespan (ms)", round(ideal)],
          ["makespan (ms)", makespan],
          ["makespan / ideal", result.makespan_ratio],
          [`CPU floor: incidents × CPU per run ÷ ${cores} cores (ms)`, result.cpu_floor_ms],
          ["CPU floor / ideal", result.cpu_floor_ratio],
          [`cores asked for by ${total} busy slots (of ${cores})`, result.cpu_demand_cores],
          ["run processing p50 / p99 (ms)", `${result.run_ms_p50} / ${result.run_ms_p99}`],
          ["queue wait p50 / p99 (ms)", `${result.wait_ms_p50} / ${result.wait_ms_p99}`],
          ["runs lost", lost],
          ["worker peak RSS (MB)", result.rss_mb_peak],
          ["Redis used_memory growth (MB)", result.redis_mb],
          ["CPU per run, Backstop + sandbox incl. Slack (ms)", result.cpu_ms_per_run],
          ["CPU per run, Backstop: workers + mcp-infra (ms)", result.cpu_ms_per_run_backstop],
          [
            "  of which workers / mcp-infra (ms)",
            `${result.cpu_ms_per_run_workers} / ${result.cpu_ms_per_run_mcp_infra}`,
          ],
          [
            "CPU per run, bench driver (this process) / Redis (ms)",
            `${result.cpu_ms_per_run_bench} / ${result.cpu_ms_per_run_redis}`,
          ],
        ],
      ),
    );
    console.log("\nmean duration_ms per event type over the batch's receipts (per run: sum ÷ runs)\n");
    console.log(
      table(
        ["event", "mean ms", "per run ms"],
        [...stageMs]
          .sort((a, b) => b[1].sum - a[1].sum)
          .slice(0, 12)
          .map(([type, v]) => [type, round(v.sum / v.n), round(v.sum / Math.max(1, batch.length))]),
      ),
    );
    writeResult(
      flags.json,
      "concurrency",
      { incidents, workers, concurrency_per_worker: perWorker, model_ms: modelMs, runtime: CHILD_RUNTIME },
      result,
    );
    await Promise.all(handles.map((h) => h.close()));
  } finally {
    await fleet.close();
  }
});
