/**
 * mcp-infra CPU benchmark: the CPU time (user + system, ms) Backstop's `backstop mcp-infra` process spends per
 * `get_signals` call. Starts the sandbox cluster of the fleet scenario (`--workloads N` copies of
 * `clean-signal`'s workload, `catalog-0` …) in this process and mcp-infra in its own process (as deployed,
 * `startMcpInfraProcess`: `dist/` with `BENCH_DIST=1`), then calls `get_signals` `--n` times, `--concurrency`
 * at a time over that many pooled MCP clients (as the workers' client pool does), cycling over the
 * workloads. Reads the mcp-infra process's CPU from /proc before and after (a warm-up round is not counted).
 * `BENCH_CPU_PROF=<dir>` writes mcp-infra's V8 CPU profile there on exit. `--out FILE` writes every result
 * (without `collected_at`) as JSON lines, sorted by workload, to compare the output of two builds.
 * Run: `BENCH_DIST=1 npx tsx bench/infra-cpu.ts [--n 200] [--concurrency 32] [--workloads 200] [--json FILE]`.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startSandboxCluster } from "../sandbox/cluster/index.js";
import { setLogLevel } from "../src/log.js";
import { connectInfra, type InfraClient } from "../src/mcp/infra.js";
import { main, parseFlags, procCpuMs, round, table, writeResult } from "./lib/common.js";
import { CHILD_RUNTIME, fleetScenario, startMcpInfraProcess, stopChild } from "./lib/fleet.js";

const USAGE =
  "tsx bench/infra-cpu.ts [--n 200] [--concurrency 32] [--workloads 200] [--quick] [--json FILE] [--out FILE]";

function outFile(argv: string[]): { rest: string[]; out: string | undefined } {
  const i = argv.indexOf("--out");
  if (i < 0) return { rest: argv, out: undefined };
  return { rest: [...argv.slice(0, i), ...argv.slice(i + 2)], out: argv[i + 1] };
}

main(async () => {
  const { rest, out } = outFile(process.argv.slice(2));
  const { json, sizes } = parseFlags(
    USAGE,
    {
      full: { n: 200, concurrency: 32, workloads: 200 },
      quick: { n: 40, concurrency: 8, workloads: 20 },
    },
    rest,
  );
  setLogLevel("silent");
  const scenario = fleetScenario(sizes.workloads, 0);
  const cluster = await startSandboxCluster({ scenario });
  const dir = mkdtempSync(join(tmpdir(), "backstop-bench-infra-"));
  const kubeconfig = join(dir, "readonly.kubeconfig");
  writeFileSync(kubeconfig, cluster.kubeconfigYaml("readonly"));
  const infra = await startMcpInfraProcess(kubeconfig, cluster.url);
  const clients: InfraClient[] = [];
  try {
    for (let i = 0; i < sizes.concurrency; i++) clients.push(await connectInfra(infra.url));
    const results = new Map<string, string>();
    const round_ = async (n: number, keep: boolean) => {
      let next = 0;
      await Promise.all(
        clients.map(async (client) => {
          while (next < n) {
            const i = next++;
            const workload = `catalog-${i % sizes.workloads}`;
            const signals = await client.getSignals("shop", workload, "15m");
            if (keep) results.set(workload, JSON.stringify({ ...signals, collected_at: null }));
          }
        }),
      );
    };
    // Warm-up (JIT, connection pools): one call per client, not counted.
    await round_(sizes.concurrency, false);
    const cpu0 = procCpuMs(infra.child.pid);
    const t0 = performance.now();
    await round_(sizes.n, out !== undefined);
    const wallMs = performance.now() - t0;
    const cpuMs = procCpuMs(infra.child.pid) - cpu0;
    const perCall = cpuMs / sizes.n;
    console.log(
      table(
        ["runtime", "calls", "concurrency", "workloads", "mcp-infra CPU ms", "CPU ms / call", "wall ms"],
        [
          [
            CHILD_RUNTIME,
            sizes.n,
            sizes.concurrency,
            sizes.workloads,
            round(cpuMs, 0),
            round(perCall, 2),
            round(wallMs, 0),
          ],
        ],
      ),
    );
    if (out) {
      const lines = [...results.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, s]) => s);
      writeFileSync(out, `${lines.join("\n")}\n`);
    }
    writeResult(json, "infra-cpu", { ...sizes, runtime: CHILD_RUNTIME }, { cpu_ms_per_call: round(perCall) });
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    // SIGINT lets node write the --cpu-prof profile (it is written on a normal exit, not on SIGKILL).
    await stopChild(infra.child, () => infra.child.kill("SIGINT"), 10_000);
    await cluster.close();
  }
});
