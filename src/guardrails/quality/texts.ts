import type { Signals } from "../../contracts/signals.js";

/** Collapses every run of whitespace to one space and trims. */
export function normalizeWhitespace(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

/**
 * The texts of the signals an evidence quote may come from: log lines, event reasons and messages, pod
 * names, phases, reasons and termination messages, workload conditions and annotations, rollout history
 * (SHA, image), and the metrics rendered as `name: value`, `name=value` and `"name": value`. Each text
 * is whitespace-normalised.
 */
export function signalTexts(s: Signals): string[] {
  const out: string[] = [];
  const push = (t: string | null | undefined) => {
    if (t) out.push(normalizeWhitespace(t));
  };
  for (const l of s.logs) for (const line of l.lines) push(line);
  for (const e of s.events) {
    push(e.message);
    push(`${e.reason}: ${e.message}`);
    push(`${e.type} ${e.reason} ${e.object} ${e.message}`);
  }
  for (const p of s.pods) {
    push(p.name);
    push(p.waiting_reason);
    push(p.last_termination_reason);
    push(p.image);
    push(p.termination_message);
    push(`${p.name} ${p.phase}`);
    if (p.last_exit_code !== null) push(`exit code ${p.last_exit_code}`);
  }
  for (const c of s.workload.conditions) {
    push(c.message);
    push(c.reason);
    push(`${c.type}=${c.status}${c.reason ? ` ${c.reason}` : ""}${c.message ? `: ${c.message}` : ""}`);
  }
  push(s.workload.image);
  // Untrusted free text may be quoted as evidence (it never chooses an action: see the action gate).
  for (const [k, v] of Object.entries(s.workload.annotations ?? {})) {
    push(v);
    push(`${k}: ${v}`);
    push(`${k}=${v}`);
  }
  for (const r of s.rollout_history) {
    push(r.sha);
    push(r.image);
  }
  for (const [k, v] of Object.entries(s.metrics)) {
    if (k === "source" || v === null) continue;
    push(`${k}: ${v}`);
    push(`${k}=${v}`);
    push(`"${k}": ${v}`);
  }
  return out;
}
