/**
 * `npm run bench`: runs the benchmarks one after another, each in its own process, and prints a summary.
 * Order: overhead, alert-storm, concurrency, failover, receipt, then redaction when `bench/redaction.ts`
 * exists. Each writes `<dir>/<name>.json` (default dir `.backstop/bench`).
 *
 * Usage: `npm run bench -- [--quick] [--only a,b] [--dir DIR] [--tsx]`. `--quick` is passed to every
 * benchmark (small sizes for a fast check). First it compiles the project (`tsc -p tsconfig.build.json`)
 * and sets `BENCH_DIST=1`, so the worker and sandbox processes the queue benchmarks fork run the compiled
 * `dist/` under plain node, as production does; `--tsx` skips that and runs them under tsx.
 * Exit code 1 if any benchmark failed.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { resolveInPackage } from "../src/paths.js";
import { table } from "./lib/common.js";

/** The benchmarks, in run order. */
export const BENCHES = [
  "overhead",
  "alert-storm",
  "concurrency",
  "failover",
  "receipt",
  "redaction",
] as const;

const { values } = parseArgs({
  options: {
    quick: { type: "boolean" },
    only: { type: "string" },
    dir: { type: "string", default: join(".backstop", "bench") },
    tsx: { type: "boolean" },
  },
  strict: true,
});
const only = values.only?.split(",").map((s) => s.trim()) ?? null;
for (const name of only ?? []) {
  if (!(BENCHES as readonly string[]).includes(name)) {
    console.error(`unknown benchmark "${name}"; known: ${BENCHES.join(", ")}`);
    process.exit(1);
  }
}
const dir = values.dir ?? join(".backstop", "bench");
mkdirSync(dir, { recursive: true });

const childEnv: Record<string, string> = {};
if (!values.tsx) {
  console.log("=== compiling dist/ (tsc -p tsconfig.build.json) for the forked processes");
  const tsc = spawnSync(
    process.execPath,
    [resolveInPackage("node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json"],
    {
      stdio: "inherit",
      cwd: resolveInPackage(),
    },
  );
  if (tsc.status !== 0) {
    console.error("tsc failed; run with --tsx to benchmark without compiling");
    process.exit(1);
  }
  childEnv.BENCH_DIST = "1";
}

const rows: string[][] = [];
let failed = 0;
for (const name of BENCHES) {
  if (only && !only.includes(name)) continue;
  const file = resolveInPackage("bench", `${name}.ts`);
  if (!existsSync(file)) {
    rows.push([name, "skipped (no bench file)", ""]);
    continue;
  }
  const json = join(dir, `${name}.json`);
  console.log(`\n=== ${name}`);
  const t0 = Date.now();
  const r = spawnSync(
    process.execPath,
    ["--import", "tsx", file, "--json", json, ...(values.quick ? ["--quick"] : [])],
    { stdio: "inherit", env: { ...process.env, ...childEnv, LOG_LEVEL: process.env.LOG_LEVEL ?? "silent" } },
  );
  const secs = ((Date.now() - t0) / 1000).toFixed(0);
  if (r.status !== 0) {
    failed += 1;
    rows.push([name, `FAILED (exit ${r.status ?? r.signal})`, `${secs} s`]);
    continue;
  }
  let summary = "";
  try {
    const result = (JSON.parse(readFileSync(json, "utf8")) as { result: Record<string, unknown> }).result;
    summary = Object.entries(result)
      .filter(([, v]) => typeof v !== "object" || v === null)
      .slice(0, 4)
      .map(([k, v]) => `${k}=${String(v)}`)
      .join(" ");
    if (name === "failover") summary = `added_ms=${JSON.stringify(result.added_ms)} ${summary}`;
  } catch {
    summary = `(no ${json})`;
  }
  rows.push([name, summary, `${secs} s`]);
}
console.log(`\n=== summary (JSON in ${dir})\n`);
console.log(table(["benchmark", "result", "took"], rows));
process.exit(failed > 0 ? 1 : 0);
