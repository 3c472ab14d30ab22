/**
 * Benchmark `receipt`: what the receipt costs per event. Builds `--runs` receipts of a realistic run
 * (`run.started` … `run.finished`, 13 events with the data shapes of a resolved run, each with a
 * `duration_ms`), and measures per event: appending to the hash chain (RFC 8785 canonical JSON +
 * SHA-256), signing (`signReceipt` re-checks the chain, then Ed25519), and verifying (`verifyReceipt`,
 * and the file check `verifyReceiptText` with its canonical-bytes test).
 *
 * Usage: `npx tsx bench/receipt.ts [--runs 2000] [--quick] [--json FILE]`.
 * JSON `result`: `{events, append_us_per_event, sign_us_per_event, verify_us_per_event,
 * verify_file_us_per_event}`.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RunEventDataMap, RunEventType } from "../src/contracts/events.js";
import { setLogLevel } from "../src/log.js";
import {
  loadSigningKey,
  ReceiptRecorder,
  serializeReceipt,
  signReceipt,
  verifyReceipt,
  verifyReceiptText,
} from "../src/receipt/index.js";
import { main, parseFlags, round, table, writeResult } from "./lib/common.js";

setLogLevel("silent");

const action = {
  type: "rollback",
  namespace: "shop",
  kind: "Deployment",
  name: "catalog",
  to_sha: "c013c5c",
} as const;
const call = (purpose: "diagnose" | "judge"): RunEventDataMap["model.call"] => ({
  purpose,
  target: "claude-sonnet-4",
  model: "claude-sonnet-4",
  served_model: "claude-sonnet-4",
  tier: 1,
  attempt: 1,
  ok: true,
  status: 200,
  error: null,
  latency_ms: 1834,
  tokens: { input: 5120, output: 410 },
  cost_usd: 0.021,
  prompt: { name: purpose === "judge" ? "judge" : "diagnosis", version: "3", sha256: "a".repeat(64) },
  route: { why: "tier 1: recent latency 1790 ms (EWMA), rank 1 of 2 (other 2210 ms)", ewma_ms: 1790 },
});
const rule = (r: string) => ({ rule: r, passed: true, detail: `${r} holds for shop/Deployment/catalog` });

/** The events of one resolved run, in order. */
const steps: [RunEventType, unknown][] = [
  [
    "run.started",
    {
      run_id: "bench",
      agent: "backstop",
      trigger: "alert",
      namespace: "shop",
      workload: "catalog",
      alertname: "KubePodCrashLooping",
      scenario: null,
      note: null,
    },
  ],
  [
    "signals.gathered",
    {
      namespace: "shop",
      workload: "catalog",
      pods: 3,
      unhealthy_pods: 3,
      revisions: 4,
      events: 25,
      log_lines: 150,
      tool_calls: [
        { tool: "get_signals", ms: 41, ok: true },
        { tool: "namespaces", ms: 3, ok: true },
      ],
    },
  ],
  ["redaction.applied", { counts: { aws_access_key: 1, email: 2 }, total: 3 }],
  ["model.call", call("diagnose")],
  [
    "diagnosis.parsed",
    {
      model: "claude-sonnet-4",
      ok: true,
      error: null,
      diagnosis: {
        hypothesis: "deploy 9f8e7d6 of catalog crashes on start (ImportError in werkzeug.urls)",
        suspected_resource: "shop/Deployment/catalog",
        suspected_deploy_sha: "9f8e7d6",
        confidence: 0.9,
        evidence: ["ImportError: cannot import name 'url_decode' from 'werkzeug.urls'"],
        recommended_action: { ...action },
      },
      extraction: "fenced",
    },
  ],
  ["model.call", call("judge")],
  [
    "gate.quality",
    {
      passed: true,
      model: "claude-sonnet-4",
      rules: ["resource_in_signals", "sha_in_history", "sha_matches_onset", "confidence", "evidence"].map(
        rule,
      ),
      judge: { model: "claude-haiku-4", grounded: true, reason: "supported", error: null },
      reroute_to_tier: null,
    },
  ],
  ["action.dry_run", { action, ok: true, error: null }],
  [
    "gate.action",
    { passed: true, action, rules: ["type_allowed", "not_protected", "one_workload", "dry_run"].map(rule) },
  ],
  ["action.executed", { action, idempotency_key: "f".repeat(32), revision: 5 }],
  [
    "recovery.verified",
    { ok: true, workload: "shop/Deployment/catalog", ready: 3, desired: 3, waited_ms: 2100 },
  ],
  ["ticket.filed", { id: "BCK-12", url: "http://127.0.0.1/issue/BCK-12", tool: "create_issue" }],
  [
    "run.finished",
    {
      outcome: "resolved",
      summary: "rollback shop/Deployment/catalog to c013c5c; 3/3 ready.",
      wall_ms: 4321,
      cost_usd: 0.042,
      tokens: { input: 10240, output: 820 },
    },
  ],
];

main(async () => {
  const flags = parseFlags("npx tsx bench/receipt.ts [--runs N] [--quick] [--json FILE]", {
    full: { runs: 2000 },
    quick: { runs: 200 },
  });
  const runs = flags.sizes.runs;
  const dir = mkdtempSync(join(tmpdir(), "backstop-bench-receipt-"));
  const key = loadSigningKey({ path: join(dir, "key.pem"), create: true });

  let appendNs = 0n;
  let signNs = 0n;
  let verifyNs = 0n;
  let fileNs = 0n;
  let events = 0;
  for (let i = 0; i < runs; i++) {
    const runId = `bench-${i}`;
    const rec = new ReceiptRecorder({ runId });
    let t = process.hrtime.bigint();
    for (const [type, data] of steps) {
      const d = type === "run.started" ? { ...(data as object), run_id: runId } : data;
      rec.append(type, d as never, 12);
    }
    appendNs += process.hrtime.bigint() - t;
    const evs = rec.events();
    events += evs.length;
    t = process.hrtime.bigint();
    const receipt = signReceipt(runId, evs, key);
    signNs += process.hrtime.bigint() - t;
    t = process.hrtime.bigint();
    const v = verifyReceipt(receipt);
    verifyNs += process.hrtime.bigint() - t;
    if (!v.ok) throw new Error(`receipt ${i} did not verify: ${v.reason}`);
    const text = serializeReceipt(receipt);
    t = process.hrtime.bigint();
    const f = verifyReceiptText(text);
    fileNs += process.hrtime.bigint() - t;
    if (!f.ok) throw new Error(`receipt file ${i} did not verify: ${f.reason}`);
  }
  const us = (ns: bigint) => round(Number(ns) / 1000 / events, 2);
  const result = {
    events,
    append_us_per_event: us(appendNs),
    sign_us_per_event: us(signNs),
    verify_us_per_event: us(verifyNs),
    verify_file_us_per_event: us(fileNs),
  };
  console.log(`receipt cost over ${runs} receipts of ${steps.length} events (${events} events)\n`);
  console.log(
    table(
      ["step", "µs per event", "ms per receipt"],
      [
        [
          "append (canonical JSON + SHA-256)",
          result.append_us_per_event,
          round((result.append_us_per_event * steps.length) / 1000, 3),
        ],
        [
          "sign (chain re-check + Ed25519)",
          result.sign_us_per_event,
          round((result.sign_us_per_event * steps.length) / 1000, 3),
        ],
        [
          "verify (object)",
          result.verify_us_per_event,
          round((result.verify_us_per_event * steps.length) / 1000, 3),
        ],
        [
          "verify (file, canonical bytes)",
          result.verify_file_us_per_event,
          round((result.verify_file_us_per_event * steps.length) / 1000, 3),
        ],
      ],
    ),
  );
  writeResult(flags.json, "receipt", { runs, events_per_receipt: steps.length }, result);
});
