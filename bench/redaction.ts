/**
 * Redaction benchmark (issue 8): runs the redactor over the synthetic corpus and prints recall per
 * kind (a record passes when no 12-character window of its planted secret survives), over-redaction
 * (clean lines changed) and time per line, p50/p99 in ms after a warm-up (each line redacted on its
 * own with `redactText`; wall time, and this process's CPU time, which a loaded machine's scheduler
 * does not inflate), and the whole corpus redacted as one text, the way `backstop redact FILE` runs.
 *
 * Usage: npx tsx bench/redaction.ts [--seed N] [--per-kind N] [--quick] [--json FILE]
 * Without `--seed`, the committed `test/fixtures/redaction/corpus.jsonl` is used; `--quick` uses a
 * small corpus (seed 8, 8 per kind). `--json FILE` writes `{bench, machine, params, result}` with the
 * summary in `result` and every kind in `result.kinds`.
 */
import { readFileSync } from "node:fs";
import { redactLines, redactText } from "../src/guardrails/redact.js";
import { resolveInPackage } from "../src/paths.js";
import { type CorpusRecord, generateCorpus } from "../test/fixtures/redaction/generate.js";
import { score } from "../test/fixtures/redaction/judge.js";
import { main as runBench, writeResult } from "./lib/common.js";

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

async function main(): Promise<void> {
  const quick = process.argv.includes("--quick");
  const seedArg = arg("--seed") ?? (quick ? "8" : undefined);
  const perKind = Number(arg("--per-kind") ?? (quick ? "8" : "40"));
  if (
    (seedArg !== undefined && !Number.isInteger(Number(seedArg))) ||
    !Number.isInteger(perKind) ||
    perKind < 1
  )
    throw new Error("--seed and --per-kind must be integers (per-kind ≥ 1)");
  const records: CorpusRecord[] = seedArg
    ? generateCorpus(Number(seedArg), perKind)
    : readFileSync(resolveInPackage("test", "fixtures", "redaction", "corpus.jsonl"), "utf8")
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as CorpusRecord);
  // Warm-up: start-up cost (module loading, regex compilation, JIT) is not per-line cost.
  for (const r of records.slice(0, 200)) await redactText(r.line);
  const outputs: string[] = [];
  const times: number[] = [];
  const cpu: number[] = [];
  for (const r of records) {
    for (const line of r.line.split("\n")) {
      const c0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      await redactText(line);
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
      const c = process.cpuUsage(c0);
      cpu.push((c.user + c.system) / 1000);
    }
    outputs.push((await redactText(r.line)).value);
  }
  times.sort((a, b) => a - b);
  cpu.sort((a, b) => a - b);
  // The whole corpus as one text, the way `backstop redact FILE` runs it.
  const all = records.map((r) => r.line).join("\n");
  const b0 = process.hrtime.bigint();
  await redactLines(all);
  const batchMs = Number(process.hrtime.bigint() - b0) / 1e6;
  const scores = [...score(records, outputs).values()];
  const rows = scores.map((s) => ({
    kind: s.kind,
    category: s.category,
    total: s.total,
    passed: s.passed,
    rate: s.passed / s.total,
  }));
  const agg = (cat: string) => {
    const xs = scores.filter((s) => s.category === cat);
    const total = xs.reduce((a, s) => a + s.total, 0);
    const passed = xs.reduce((a, s) => a + s.passed, 0);
    return { total, passed, rate: total ? passed / total : 1 };
  };
  const clean = agg("clean");
  const report = {
    records: records.length,
    secrets: agg("secret"),
    pii: agg("pii"),
    clean_changed: clean.total - clean.passed,
    clean_total: clean.total,
    ms_per_line: { p50: percentile(times, 50), p99: percentile(times, 99), lines: times.length },
    cpu_ms_per_line: { p50: percentile(cpu, 50), p99: percentile(cpu, 99) },
    batch_ms_per_line: batchMs / times.length,
    kinds: rows,
  };
  for (const r of rows)
    console.log(
      `${r.category.padEnd(6)} ${r.kind.padEnd(32)} ${(r.rate * 100).toFixed(1).padStart(6)} %  (${r.passed}/${r.total})`,
    );
  console.log(
    `secrets recall ${(report.secrets.rate * 100).toFixed(2)} %, PII recall ${(report.pii.rate * 100).toFixed(2)} %, clean lines changed ${report.clean_changed}/${report.clean_total}`,
  );
  console.log(
    `time per line (wall): p50 ${report.ms_per_line.p50.toFixed(3)} ms, p99 ${report.ms_per_line.p99.toFixed(3)} ms (${times.length} lines, each alone)`,
  );
  console.log(
    `time per line (CPU of this process): p50 ${report.cpu_ms_per_line.p50.toFixed(3)} ms, p99 ${report.cpu_ms_per_line.p99.toFixed(3)} ms`,
  );
  console.log(
    `whole corpus as one text (backstop redact FILE): ${report.batch_ms_per_line.toFixed(4)} ms per line`,
  );
  writeResult(
    arg("--json"),
    "redaction",
    { corpus: seedArg ? `seed ${seedArg}, ${perKind} per kind` : "test/fixtures/redaction/corpus.jsonl" },
    {
      secrets_recall: report.secrets.rate,
      pii_recall: report.pii.rate,
      clean_changed: report.clean_changed,
      p99_ms_per_line: report.ms_per_line.p99,
      p50_ms_per_line: report.ms_per_line.p50,
      p99_cpu_ms_per_line: report.cpu_ms_per_line.p99,
      batch_ms_per_line: report.batch_ms_per_line,
      records: report.records,
      clean_total: report.clean_total,
      kinds: report.kinds,
    },
  );
}

runBench(main);
