import type { RunEvent, RunEventDataMap, RunReporter } from "../../src/contracts/events.js";

type Data<T extends keyof RunEventDataMap> = RunEventDataMap[T];

/** One readable line per event: `stage  detail`. Returns null for events not worth a line. */
export function formatEvent(e: RunEvent): string | null {
  const d = e.data as unknown;
  switch (e.type) {
    case "run.started": {
      const x = d as Data<"run.started">;
      return `start     ${x.agent} on ${x.namespace}/${x.workload}${x.alertname ? ` (${x.alertname})` : ""}`;
    }
    case "signals.gathered": {
      const x = d as Data<"signals.gathered">;
      const failed = x.tool_calls.find((t) => !t.ok);
      return failed
        ? `triage    signals unavailable: ${failed.error}`
        : `triage    ${x.pods} pods (${x.unhealthy_pods} unhealthy), ${x.revisions} revisions, ${x.events} events, ${x.log_lines} log lines`;
    }
    case "redaction.applied": {
      const x = d as Data<"redaction.applied">;
      const parts = Object.entries(x.counts).map(([k, v]) => `${k}×${v}`);
      const dir = x.direction === "output" ? ` (model reply${x.stage ? `, ${x.stage}` : ""})` : "";
      const inv = x.invisible?.total ? `; ${x.invisible.total} invisible characters stripped` : "";
      return `redact    ${x.total} masked${dir}${parts.length ? `: ${parts.join(", ")}` : ""}${inv}`;
    }
    case "model.call": {
      const x = d as Data<"model.call">;
      const what = x.ok ? "ok" : `failed: ${x.error ?? x.status}`;
      const served = x.served_model !== x.model ? ` (served by ${x.served_model})` : "";
      return `model     ${x.purpose} → ${x.model}${served} tier ${x.tier} #${x.attempt}: ${what}, ${x.tokens.input}+${x.tokens.output} tokens, $${x.cost_usd.toFixed(5)}, ${x.latency_ms} ms`;
    }
    case "model.fallback": {
      const x = d as Data<"model.fallback">;
      return `fallback  ${x.from} → ${x.to ?? "(none left)"}: ${x.reason}`;
    }
    case "diagnosis.parsed": {
      const x = d as Data<"diagnosis.parsed">;
      if (!x.ok || !x.diagnosis) return `diagnose  ${x.model}: unparseable (${x.error})`;
      const a = x.diagnosis.recommended_action;
      return `diagnose  ${x.model}: "${x.diagnosis.hypothesis}" sha=${x.diagnosis.suspected_deploy_sha ?? "-"} confidence=${x.diagnosis.confidence} → ${a.type} ${a.namespace}/${a.kind}/${a.name}${a.scope ? ` scope=${a.scope}` : ""}`;
    }
    case "gate.quality": {
      const x = d as Data<"gate.quality">;
      const failed = x.rules.filter((r) => !r.passed).map((r) => r.rule);
      const judge = x.judge
        ? `, judge ${x.judge.grounded === true ? "grounded" : x.judge.error ? `error (${x.judge.error})` : "ungrounded"}`
        : "";
      return `quality   ${x.passed ? "PASS" : `FAIL [${failed.join(", ")}]`}${judge}${x.reroute_to_tier ? ` → re-route to tier ${x.reroute_to_tier}` : ""}`;
    }
    case "gate.action": {
      const x = d as Data<"gate.action">;
      const failed = x.rules.filter((r) => !r.passed).map((r) => `${r.rule}: ${r.detail}`);
      return `action    ${x.passed ? "PASS" : `FAIL [${failed.join("; ")}]`}`;
    }
    case "breaker.anomaly": {
      const x = d as Data<"breaker.anomaly">;
      return `anomaly   ${x.kind} +${x.cost} (${x.spent}/${x.budget})`;
    }
    case "breaker.tripped":
      return `BREAKER   ${(d as Data<"breaker.tripped">).reason}`;
    case "action.dry_run": {
      const x = d as Data<"action.dry_run">;
      return `dry-run   ${x.action.type} ${x.action.namespace}/${x.action.name}: ${x.ok ? "ok" : x.error}`;
    }
    case "action.executed": {
      const x = d as Data<"action.executed">;
      const a = x.action;
      return `ACT       ${a.type} ${a.namespace}/${a.kind}/${a.name}${a.to_sha ? ` to ${a.to_sha}` : ""}${a.replicas !== undefined ? ` to ${a.replicas}` : ""}`;
    }
    case "action.failed": {
      const x = d as Data<"action.failed">;
      return `FAILED    ${x.action.type} ${x.action.namespace}/${x.action.name}: ${x.error}${x.changed ? " (changed)" : " (nothing changed)"}`;
    }
    case "recovery.verified": {
      const x = d as Data<"recovery.verified">;
      return `recovery  ${x.ok ? "recovered" : "NOT recovered"}: ${x.ready}/${x.desired} ready after ${x.waited_ms} ms`;
    }
    case "escalation.opened": {
      const x = d as Data<"escalation.opened">;
      const p = x.proposed_action;
      return `ESCALATE  ${x.reason}${p ? ` — proposed: ${p.type} ${p.namespace}/${p.kind}/${p.name}` : ""}`;
    }
    case "approval.decided": {
      const x = d as Data<"approval.decided">;
      return `decision  ${x.decision}${x.by ? ` by ${x.by}` : ""}`;
    }
    case "ticket.filed": {
      const x = d as Data<"ticket.filed">;
      return `ticket    ${x.id}${x.url ? ` ${x.url}` : ""}`;
    }
    case "run.finished": {
      const x = d as Data<"run.finished">;
      return `finish    ${x.outcome.toUpperCase()}: ${x.summary} ($${x.cost_usd.toFixed(5)}, ${x.tokens.input}+${x.tokens.output} tokens, ${x.wall_ms} ms)`;
    }
    default:
      return null;
  }
}

/** A reporter that prints each event as a timeline line, prefixed with the agent's name. */
export class TimelineReporter implements RunReporter {
  constructor(
    private readonly prefix: string,
    private readonly write: (line: string) => void = (l) => console.log(l),
  ) {}

  emit(event: RunEvent): void {
    const line = formatEvent(event);
    if (line) this.write(`${this.prefix} ${String(event.seq).padStart(2)} ${line}`);
  }
}
