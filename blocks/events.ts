import type { KnownBlock } from "@slack/types";
import type { ActionRecord, RuleResult, RunEvent, RunEventDataMap } from "../src/contracts/events.js";
import {
  code,
  context,
  escapeText,
  LIMITS,
  mention,
  message,
  percent,
  type SlackMessage,
  safe,
  section,
  slackDate,
} from "./text.js";

type Data<T extends keyof RunEventDataMap> = RunEventDataMap[T];

/**
 * An action in mrkdwn: `*rollback* `shop/Deployment/checkout` to `3f9c2a1``; escaped. Scale shows the
 * replica count, rollback the SHA or revision.
 */
export function actionText(a: ActionRecord): string {
  const ref = code(`${a.namespace}/${a.kind}/${a.name}`);
  let tail = "";
  if (a.type === "rollback") {
    if (a.to_sha !== undefined) tail = ` to ${code(a.to_sha)}`;
    else if (a.to_revision !== undefined) tail = ` to revision ${a.to_revision}`;
  } else if (a.type === "scale" && a.replicas !== undefined) tail = ` to ${a.replicas} replicas`;
  const where = a.cluster ? ` in ${code(a.cluster.slice(0, 100))}` : "";
  return `*${escapeText(a.type)}* ${ref}${where}${tail}`;
}

/** The same action as plain text for the `text` fallback (escaped, no mrkdwn). */
export function actionPlain(a: ActionRecord): string {
  const tail =
    a.type === "rollback"
      ? a.to_sha
        ? ` to ${a.to_sha}`
        : a.to_revision !== undefined
          ? ` to revision ${a.to_revision}`
          : ""
      : a.type === "scale" && a.replicas !== undefined
        ? ` to ${a.replicas}`
        : "";
  const where = a.cluster ? ` in ${a.cluster}` : "";
  return escapeText(`${a.type} ${a.namespace}/${a.kind}/${a.name}${where}${tail}`);
}

/** Failed rules as mrkdwn bullets: `• `rule` — detail`; at most 20, then "…and N more". */
export function failedRulesText(rules: RuleResult[]): string {
  const failed = rules.filter((r) => !r.passed);
  const lines = failed.slice(0, 20).map((r) => `• ${code(r.rule.slice(0, 100))} — ${safe(r.detail, 300)}`);
  if (failed.length > 20) lines.push(`…and ${failed.length - 20} more`);
  return lines.join("\n");
}

function usd(n: number): string {
  return `$${n.toFixed(n >= 1 ? 2 : 4)}`;
}

function link(url: string | null, label: string): string {
  if (url && /^https?:\/\/[^\s|<>]+$/.test(url)) return `<${url.replace(/&/g, "&amp;")}|${safe(label, 200)}>`;
  return code(label.slice(0, 200));
}

function signals(d: Data<"signals.gathered">): SlackMessage {
  const target = safe(`${d.namespace}/${d.workload}${d.cluster ? ` in ${d.cluster}` : ""}`, 300);
  const failed = d.tool_calls.filter((t) => !t.ok);
  const calls = d.tool_calls
    .slice(0, 10)
    .map((t) => `${code(t.tool.slice(0, 60))} ${t.ok ? `${t.ms} ms` : "failed"}`)
    .join(", ");
  const blocks: KnownBlock[] = [];
  if (failed.length > 0 && d.pods === 0) {
    blocks.push(
      section(
        `:warning: *Signals unavailable* for \`${target}\`\n` +
          failed.map((t) => `• ${code(t.tool.slice(0, 60))}: ${safe(t.error ?? "error", 500)}`).join("\n"),
      ),
    );
    return message(`Signals unavailable for ${target}`, blocks);
  }
  blocks.push(
    section(`:mag: *Signals gathered* for \`${target}\` (read-only)`, [
      `*Pods*\n${d.pods} (${d.unhealthy_pods} unhealthy)`,
      `*Revisions*\n${d.revisions}`,
      `*Events*\n${d.events}`,
      `*Log lines*\n${d.log_lines}`,
      `*Tool errors*\n${failed.length}`,
    ]),
  );
  if (calls) blocks.push(context(`Tools: ${calls}`));
  return message(
    `Signals for ${target}: ${d.pods} pods (${d.unhealthy_pods} unhealthy), ${d.revisions} revisions, ${d.events} events, ${d.log_lines} log lines`,
    blocks,
  );
}

function redaction(d: Data<"redaction.applied">): SlackMessage {
  const list = (counts: Record<string, number>) =>
    Object.entries(counts)
      .filter(([, n]) => n > 0)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 30)
      .map(([k, n]) => `${safe(k, 60)} × ${n}`)
      .join(", ");
  const parts = list(d.counts);
  const invisible = d.invisible && d.invisible.total > 0 ? d.invisible : null;
  const invisibleText = invisible
    ? ` Stripped ${invisible.total} invisible characters (${list(invisible.counts)}).`
    : "";
  if (d.direction === "output") {
    const where = d.stage ? ` (${safe(d.stage, 40)})` : "";
    return message(`Redaction of a model reply${where}: ${d.total} masked (${parts})`, [
      section(
        `:lock: *Redaction of a model reply${where}:* ${d.total} masked before it was recorded: ${parts}`,
      ),
    ]);
  }
  const text =
    d.total === 0
      ? `:lock: *Redaction:* no secrets found; nothing masked.${invisibleText}`
      : `:lock: *Redaction:* ${d.total} masked before any model saw the signals: ${parts}.${invisibleText}`;
  return message(
    (d.total === 0 ? "Redaction: no secrets found" : `Redaction: ${d.total} masked (${parts})`) +
      (invisible ? `; ${invisible.total} invisible characters stripped` : ""),
    [section(text)],
  );
}

function diagnosis(d: Data<"diagnosis.parsed">): SlackMessage {
  const model = code(d.model.slice(0, 100));
  if (!d.ok || !d.diagnosis) {
    return message(`Unparseable diagnosis from ${escapeText(d.model)}`, [
      section(`:warning: *Unparseable diagnosis* from ${model}\n${safe(d.error ?? "no JSON found", 1500)}`),
    ]);
  }
  const x = d.diagnosis;
  const a = x.recommended_action;
  const action =
    a.type === "none"
      ? "*none*"
      : `${actionText({ type: a.type, namespace: a.namespace, kind: a.kind, name: a.name, ...(a.to_sha ? { to_sha: a.to_sha } : {}), ...(a.replicas !== undefined ? { replicas: a.replicas } : {}) })}${a.scope ? ` (scope ${code(a.scope.slice(0, 100))})` : ""}`;
  const blocks: KnownBlock[] = [
    section(`:brain: *Diagnosis* from ${model}\n>${safe(x.hypothesis, 2000).replace(/\n/g, "\n>")}`, [
      `*Confidence*\n${percent(x.confidence)}`,
      `*Suspected SHA*\n${x.suspected_deploy_sha ? code(x.suspected_deploy_sha.slice(0, 100)) : "none"}`,
      `*Suspected resource*\n${code(x.suspected_resource.slice(0, 300))}`,
      `*Recommended action*\n${action}`,
    ]),
  ];
  if (x.evidence.length > 0) {
    blocks.push(
      context(
        `Evidence (${x.evidence.length}): ${x.evidence
          .slice(0, 3)
          .map((q) => `“${safe(q, 200)}”`)
          .join(" · ")}`,
      ),
    );
  }
  return message(
    `Diagnosis from ${escapeText(d.model)} (${percent(x.confidence)}): ${escapeText(x.hypothesis)}`,
    blocks,
  );
}

function quality(d: Data<"gate.quality">): SlackMessage {
  const lines = [
    `${d.passed ? ":white_check_mark:" : ":x:"} *Quality gate ${d.passed ? "PASS" : "FAIL"}* for ${code(d.model.slice(0, 100))}`,
  ];
  const failed = failedRulesText(d.rules);
  if (failed) lines.push(failed);
  if (d.judge) {
    const verdict =
      d.judge.error !== null
        ? `error (${safe(d.judge.error, 300)}), fail-closed`
        : d.judge.grounded === true
          ? "grounded"
          : "ungrounded";
    lines.push(`*Judge* ${code(d.judge.model.slice(0, 100))}: ${verdict} — ${safe(d.judge.reason, 800)}`);
  }
  if (d.reroute_to_tier !== null)
    lines.push(`:arrows_counterclockwise: Re-routing to tier ${d.reroute_to_tier}`);
  const failedIds = d.rules.filter((r) => !r.passed).map((r) => r.rule);
  return message(
    `Quality gate ${d.passed ? "PASS" : `FAIL (${escapeText(failedIds.join(", "))})`}` +
      (d.reroute_to_tier !== null ? `, re-routing to tier ${d.reroute_to_tier}` : ""),
    [section(lines.join("\n"))],
  );
}

function actionGate(d: Data<"gate.action">): SlackMessage {
  const lines = [
    `${d.passed ? ":white_check_mark:" : ":x:"} *Action gate ${d.passed ? "PASS" : "FAIL"}*${d.action ? ` — ${actionText(d.action)}` : ""}`,
  ];
  const failed = failedRulesText(d.rules);
  if (failed) lines.push(failed);
  const failedIds = d.rules.filter((r) => !r.passed).map((r) => r.rule);
  return message(`Action gate ${d.passed ? "PASS" : `FAIL (${escapeText(failedIds.join(", "))})`}`, [
    section(lines.join("\n")),
  ]);
}

function fallback(d: Data<"model.fallback">): SlackMessage {
  const to = d.to ? code(d.to.slice(0, 100)) : "_no model left_";
  const why = `${safe(d.reason, 1000)}${d.status !== null ? ` (HTTP ${d.status})` : ""}`;
  const blocks: KnownBlock[] = [
    section(`:twisted_rightwards_arrows: *Fallback* ${code(d.from.slice(0, 100))} → ${to}\n${why}`),
  ];
  if (d.cooldown_until)
    blocks.push(context(`${code(d.from.slice(0, 100))} cools down until ${safe(d.cooldown_until, 40)}`));
  return message(
    `Fallback ${escapeText(d.from)} → ${escapeText(d.to ?? "none")}: ${escapeText(d.reason)}`,
    blocks,
  );
}

function finished(d: Data<"run.finished">): SlackMessage {
  const emoji =
    d.outcome === "resolved" ? ":white_check_mark:" : d.outcome === "escalated" ? ":rotating_light:" : ":x:";
  return message(`Run finished: ${d.outcome}. ${escapeText(d.summary)}`, [
    section(`${emoji} *Run finished: ${d.outcome}*\n${safe(d.summary, 2500)}`, [
      `*Cost*\n${usd(d.cost_usd)}`,
      `*Tokens*\n${d.tokens.input} in / ${d.tokens.output} out`,
      `*Wall time*\n${(d.wall_ms / 1000).toFixed(1)} s`,
    ]),
  ]);
}

/**
 * The threaded reply for one run event, or `null` when the event has no reply of its own (`run.started`,
 * `model.call`, `breaker.anomaly`, `action.dry_run`: they stay visible in the receipt). Replies:
 * `signals.gathered` (pods, unhealthy, revisions, events, log lines, tool errors), `redaction.applied`
 * (counts per type; "no secrets found" at 0), `diagnosis.parsed` (model, hypothesis, confidence in %,
 * suspected SHA, recommended action), `gate.quality` / `gate.action` (PASS/FAIL, failed rules with
 * details, the judge's verdict, re-route tier), `model.fallback` (from → to, reason, HTTP status),
 * `breaker.tripped`, `action.executed` / `action.failed` / `recovery.verified`, `escalation.opened` (an
 * informational line; the reporter posts `escalationMessage` with buttons instead), `approval.decided`
 * (who as `<@U…>`, when), `ticket.filed` (link), `run.finished` (outcome, summary, cost in USD, tokens,
 * wall time). Text from the cluster or a model is escaped (`&`, `<`, `>`) and cut to Slack's limits.
 */
export function eventReply(event: RunEvent): SlackMessage | null {
  const raw = event.data as unknown;
  switch (event.type) {
    case "run.started":
    case "model.call":
    case "breaker.anomaly":
    case "action.dry_run":
      return null;
    case "signals.gathered":
      return signals(raw as Data<"signals.gathered">);
    case "redaction.applied":
      return redaction(raw as Data<"redaction.applied">);
    case "diagnosis.parsed":
      return diagnosis(raw as Data<"diagnosis.parsed">);
    case "gate.quality":
      return quality(raw as Data<"gate.quality">);
    case "gate.action":
      return actionGate(raw as Data<"gate.action">);
    case "model.fallback":
      return fallback(raw as Data<"model.fallback">);
    case "breaker.tripped": {
      const d = raw as Data<"breaker.tripped">;
      return message(`Circuit breaker tripped: ${escapeText(d.reason)}`, [
        section(`:rotating_light: *Circuit breaker tripped*\n${safe(d.reason, 1500)}`, [
          `*Anomaly budget*\n${d.spent} / ${d.budget}`,
          `*Steps*\n${d.steps} / ${d.max_steps}`,
        ]),
      ]);
    }
    case "action.executed": {
      const d = raw as Data<"action.executed">;
      return message(`Action executed: ${actionPlain(d.action)}`, [
        section(`:hammer_and_wrench: *Action executed* — ${actionText(d.action)}`),
        context(
          `Idempotency key ${code(d.idempotency_key.slice(0, 200))}${d.revision !== null ? ` · revision ${d.revision}` : ""}`,
        ),
      ]);
    }
    case "action.failed": {
      const d = raw as Data<"action.failed">;
      const status = d.status !== null ? ` (HTTP ${d.status})` : "";
      return message(`Action failed: ${actionPlain(d.action)}: ${escapeText(d.error)}`, [
        section(
          `:x: *Action failed* — ${actionText(d.action)}\n${safe(d.error, 1500)}${status}\n` +
            (d.changed ? ":warning: The cluster may have changed." : "Nothing changed in the cluster."),
        ),
      ]);
    }
    case "recovery.verified": {
      const d = raw as Data<"recovery.verified">;
      const line = `${d.ready}/${d.desired} ready after ${(d.waited_ms / 1000).toFixed(1)} s`;
      return message(`${d.ok ? "Recovered" : "Not recovered"}: ${escapeText(d.workload)} ${line}`, [
        section(
          `${d.ok ? ":white_check_mark: *Recovered*" : ":warning: *Not recovered*"} — ${code(d.workload.slice(0, 300))} ${line}`,
        ),
      ]);
    }
    case "escalation.opened": {
      const d = raw as Data<"escalation.opened">;
      return message(`Escalated to a human: ${escapeText(d.reason)}`, [
        section(
          `:rotating_light: *Escalated to a human*\n${safe(d.reason, 1500)}` +
            (d.proposed_action ? `\n*Proposed action:* ${actionText(d.proposed_action)}` : ""),
        ),
      ]);
    }
    case "approval.decided": {
      const d = raw as Data<"approval.decided">;
      return decisionReply(d.decision, d.by, d.at);
    }
    case "ticket.filed": {
      const d = raw as Data<"ticket.filed">;
      return message(`Ticket filed: ${escapeText(d.url ?? d.id)}`, [
        section(`:ticket: *Ticket filed* — ${link(d.url, d.id)}`),
      ]);
    }
    case "run.finished":
      return finished(raw as Data<"run.finished">);
    default:
      return null;
  }
}

/** The line for an Approve/Reject decision or its expiry (shared with `decisionMessage`). */
export function decisionLine(
  decision: "approved" | "rejected" | "expired" | "withdrawn",
  by: string | null,
  at: string,
): string {
  const who = by ? ` by ${mention(by)}` : "";
  const when = ` at ${slackDate(at)}`;
  if (decision === "approved") return `:white_check_mark: *Approved*${who}${when}`;
  if (decision === "rejected") return `:no_entry_sign: *Rejected*${who}${when}; nothing will run.`;
  if (decision === "withdrawn")
    return `:leaves: *Withdrawn*${when}: resolved on its own; approval withdrawn; nothing will run.`;
  return `:hourglass: *Expired*${when}: no decision before the timeout, treated as rejected; nothing will run.`;
}

function decisionReply(
  decision: "approved" | "rejected" | "expired" | "withdrawn",
  by: string | null,
  at: string,
): SlackMessage {
  return message(`Decision: ${decision}${by ? ` by ${escapeText(by)}` : ""}`, [
    section(decisionLine(decision, by, at).slice(0, LIMITS.sectionText)),
  ]);
}
