/**
 * One line per run event for the console's agent columns: the stage, what happened (model, verdict,
 * action) and the cost in USD when the event has one. Pure and DOM-free; the event shapes are
 * `RunEventDataMap` in `src/contracts/events.ts`.
 */
import type { ActionRecord, RunEvent, RunEventDataMap } from "../../../src/contracts/events.js";

/** A rendered timeline line: `tone` colours it (`ok` green, `bad` red, `warn` amber, `info` neutral). */
export interface TimelineLine {
  seq: number;
  stage: string;
  detail: string;
  cost_usd: number | null;
  tone: "ok" | "bad" | "warn" | "info";
}

/** `rollback shop/Deployment/checkout → a1b2c3d`, the way the thread and the CLI name an action. */
export function describeAction(a: ActionRecord | null): string {
  if (a === null) return "no action";
  const target = `${a.namespace}/${a.kind}/${a.name}`;
  if (a.type === "rollback") {
    const to = a.to_sha ?? (a.to_revision === undefined ? "previous" : `revision ${a.to_revision}`);
    return `rollback ${target} → ${to}`;
  }
  if (a.type === "scale") return `scale ${target} → ${a.replicas ?? "?"} replicas`;
  return `${a.type} ${target}`;
}

function failedRules(rules: { rule: string; passed: boolean }[]): string {
  const failed = rules.filter((r) => !r.passed).map((r) => r.rule);
  return failed.length === 0 ? "" : ` (failed: ${failed.join(", ")})`;
}

function data<T extends keyof RunEventDataMap>(e: RunEvent, _type: T): RunEventDataMap[T] {
  return e.data as RunEventDataMap[T];
}

/** Summarises one event. Never throws: an unexpected shape yields the bare event type. */
export function describeEvent(e: RunEvent): TimelineLine {
  const line = (stage: string, detail: string, tone: TimelineLine["tone"], cost: number | null = null) => ({
    seq: e.seq,
    stage,
    detail,
    cost_usd: cost,
    tone,
  });
  try {
    switch (e.type) {
      case "run.started": {
        const d = data(e, "run.started");
        return line(
          "started",
          `${d.namespace}/${d.workload}${d.alertname ? ` · ${d.alertname}` : ""}`,
          "info",
        );
      }
      case "signals.gathered": {
        const d = data(e, "signals.gathered");
        const failed = d.tool_calls.filter((c) => !c.ok).length;
        return line(
          "signals",
          `${d.pods} pods (${d.unhealthy_pods} unhealthy), ${d.revisions} revisions, ${d.events} events, ${d.log_lines} log lines${failed > 0 ? `, ${failed} tool calls failed` : ""}`,
          failed > 0 ? "warn" : "info",
        );
      }
      case "redaction.applied": {
        const d = data(e, "redaction.applied");
        const what = d.direction === "output" ? " in a model reply" : "";
        const inv = d.invisible?.total ? `, ${d.invisible.total} invisible characters stripped` : "";
        return line("redaction", `${d.total} values masked${what}${inv}`, "info");
      }
      case "model.call": {
        const d = data(e, "model.call");
        const status = d.ok ? "ok" : `failed${d.status === null ? "" : ` ${d.status}`}: ${d.error ?? ""}`;
        return line(
          `model · ${d.purpose}`,
          `${d.served_model || d.model} (tier ${d.tier}) ${status}`,
          d.ok ? "info" : "warn",
          d.cost_usd,
        );
      }
      case "model.fallback": {
        const d = data(e, "model.fallback");
        return line(
          "fallback",
          `${d.from} → ${d.to ?? "none"}: ${d.reason}${d.status === null ? "" : ` (${d.status})`}`,
          "warn",
        );
      }
      case "diagnosis.parsed": {
        const d = data(e, "diagnosis.parsed");
        if (!d.ok || d.diagnosis === null)
          return line("diagnosis", `${d.model}: unparseable (${d.error ?? "?"})`, "bad");
        const dx = d.diagnosis;
        return line(
          "diagnosis",
          `${d.model}: ${dx.hypothesis} · confidence ${dx.confidence.toFixed(2)}${dx.suspected_deploy_sha ? ` · sha ${dx.suspected_deploy_sha}` : ""}`,
          "info",
        );
      }
      case "gate.quality": {
        const d = data(e, "gate.quality");
        return line(
          "quality gate",
          `${d.passed ? "passed" : "failed"}${failedRules(d.rules)}`,
          d.passed ? "ok" : "bad",
        );
      }
      case "gate.action": {
        const d = data(e, "gate.action");
        return line(
          "action gate",
          `${d.passed ? "passed" : "refused"}: ${describeAction(d.action)}${failedRules(d.rules)}`,
          d.passed ? "ok" : "bad",
        );
      }
      case "breaker.anomaly": {
        const d = data(e, "breaker.anomaly");
        return line("anomaly", `${d.kind} (+${d.cost}, ${d.spent}/${d.budget}): ${d.detail}`, "warn");
      }
      case "breaker.tripped": {
        const d = data(e, "breaker.tripped");
        return line("breaker", `tripped: ${d.reason}`, "bad");
      }
      case "action.dry_run": {
        const d = data(e, "action.dry_run");
        return line(
          "dry run",
          `${describeAction(d.action)} ${d.ok ? "ok" : `failed: ${d.error ?? ""}`}`,
          d.ok ? "info" : "bad",
        );
      }
      case "action.executed": {
        const d = data(e, "action.executed");
        return line("action", describeAction(d.action), "ok");
      }
      case "action.failed": {
        const d = data(e, "action.failed");
        return line("action failed", `${describeAction(d.action)}: ${d.error}`, "bad");
      }
      case "recovery.verified": {
        const d = data(e, "recovery.verified");
        return line(
          "recovery",
          `${d.workload} ${d.ready}/${d.desired} ready${d.ok ? "" : " — not recovered"}`,
          d.ok ? "ok" : "bad",
        );
      }
      case "escalation.opened": {
        const d = data(e, "escalation.opened");
        return line("escalation", `${d.reason}; proposed: ${describeAction(d.proposed_action)}`, "warn");
      }
      case "approval.decided": {
        const d = data(e, "approval.decided");
        return line(
          "decision",
          `${d.decision}${d.by ? ` by ${d.by}` : ""}`,
          d.decision === "approved" ? "ok" : "warn",
        );
      }
      case "ticket.filed": {
        const d = data(e, "ticket.filed");
        return line("ticket", d.id, "info");
      }
      case "run.finished": {
        const d = data(e, "run.finished");
        const tone = d.outcome === "resolved" ? "ok" : d.outcome === "escalated" ? "warn" : "bad";
        return line("finished", `${d.outcome}: ${d.summary}`, tone, d.cost_usd);
      }
    }
  } catch {
    // fall through to the bare line
  }
  return line(e.type, "", "info");
}
