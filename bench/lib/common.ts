/**
 * Shared helpers of the benchmarks (`bench/*.ts`): flags, percentiles, a printed table and the JSON
 * result file. A benchmark prints a table and, with `--json FILE`, writes `{bench, machine, at,
 * params, result}` where `result` holds the fields issue 11 fixes for comparisons over time.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { parseArgs } from "node:util";

/** Flags every benchmark takes: `--json FILE`, `--quick` (small sizes for a fast check), `--help`. */
export interface CommonFlags {
  json: string | undefined;
  quick: boolean;
}

/**
 * Parses `--json FILE`, `--quick` and the benchmark's own integer flags (each `--name N`, default from
 * `sizes.full`, or `sizes.quick` under `--quick`).
 * @throws Error naming the flag when a size is not a positive integer or a flag is unknown.
 */
export function parseFlags<K extends string>(
  usage: string,
  sizes: { full: Record<K, number>; quick: Record<K, number> },
  argv: string[] = process.argv.slice(2),
): CommonFlags & { sizes: Record<K, number> } {
  const options: Record<string, { type: "string" | "boolean" }> = {
    json: { type: "string" },
    quick: { type: "boolean" },
    help: { type: "boolean" },
  };
  for (const k of Object.keys(sizes.full)) options[k] = { type: "string" };
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({ args: argv, options, strict: true }).values as typeof values;
  } catch (err) {
    throw new Error(`${(err as Error).message}\nusage: ${usage}`);
  }
  if (values.help) {
    console.log(`usage: ${usage}`);
    process.exit(0);
  }
  const quick = values.quick === true;
  const base = quick ? sizes.quick : sizes.full;
  const out = { ...base };
  for (const k of Object.keys(sizes.full) as K[]) {
    const raw = values[k];
    if (raw === undefined) continue;
    const n = Number(raw);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`--${k} must be a positive integer, got "${raw}"`);
    out[k] = n;
  }
  return { json: values.json as string | undefined, quick, sizes: out };
}

/** The p-th percentile (nearest rank, 0 < p <= 100) of `xs`; NaN for an empty list. */
export function pct(xs: readonly number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

/** Rounds to `d` decimals (default 2). */
export const round = (x: number, d = 2): number => Math.round(x * 10 ** d) / 10 ** d;

/** A fixed-width table: a header row, a rule, then the rows (cells stringified). */
export function table(header: string[], rows: (string | number)[][]): string {
  const cells = rows.map((r) => r.map(String));
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ");
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...cells.map(line)].join("\n");
}

/** What the numbers were measured on: logical cores, CPU model, total memory (GB), Node version. */
export function machine(): { cores: number; cpu: string; mem_gb: number; node: string } {
  const c = cpus();
  return {
    cores: c.length,
    cpu: c[0]?.model ?? "unknown",
    mem_gb: round(totalmem() / 1024 ** 3, 1),
    node: process.version,
  };
}

/** Writes the result file when `--json FILE` was given. */
export function writeResult(
  file: string | undefined,
  bench: string,
  params: Record<string, unknown>,
  result: Record<string, unknown>,
): void {
  if (!file) return;
  writeFileSync(
    file,
    `${JSON.stringify({ bench, at: new Date().toISOString(), machine: machine(), params, result }, null, 2)}\n`,
  );
  console.log(`\nwrote ${file}`);
}

/** Runs a benchmark's main, printing an error and exiting 1 on failure (a clear message, no stack for bad flags). */
export function main(fn: () => Promise<void>): void {
  fn().then(
    () => process.exit(process.exitCode ?? 0),
    (err: unknown) => {
      console.error(`bench failed: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    },
  );
}

/** What a forked bench process reports on `stats`: its peak RSS (MB, as sampled by the caller) and CPU time (user + system, ms). */
export function processStats(rssPeakBytes: number): { rss_mb: number; cpu_ms: number } {
  return { rss_mb: rssPeakBytes / 1024 / 1024, cpu_ms: cpuMsOf(process.cpuUsage()) };
}

/** User + system CPU time of a `process.cpuUsage()` reading (µs each), in ms. */
export function cpuMsOf(cpu: NodeJS.CpuUsage): number {
  return (cpu.user + cpu.system) / 1000;
}

/**
 * CPU time (user + system, ms) process `pid` has used so far, from Linux's `/proc/<pid>/stat` (fields
 * 14 and 15, in clock ticks of 10 ms: `getconf CLK_TCK` is 100 on Linux). NaN where there is no /proc.
 */
export function procCpuMs(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) is in parentheses and may hold spaces: count fields after its ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return Number.NaN;
  }
}
