import type { KnownBlock } from "@slack/types";
import type { RunEvent, RunEventDataMap } from "../src/contracts/events.js";
import { type RunStage, stageOf as stageFor } from "../src/contracts/stages.js";
import {
  code,
  context,
  divider,
  escapeText,
  header,
  LIMITS,
  mention,
  message,
  type SlackMessage,
  safe,
  section,
  slackDate,
} from "./text.js";

/**
 * Where an incident stands, as shown on its root message. `awaiting_approval` means an escalation with a
 * proposed action waits for Approve/Reject; `escalated` means a human must take over (nothing to approve);
 * `rejected` covers a Reject click and an approval that timed out.
 */
export type IncidentStatus =
  | "queued"
  | "triaging"
  | "diagnosing"
  | "validating"
  | "acting"
  | "awaiting_approval"
  | "resolved"
  | "escalated"
  | "rejected"
  | "failed";

/** Every {@link IncidentStatus}, in run order. */
export const INCIDENT_STATUSES: readonly IncidentStatus[] = [
  "queued",
  "triaging",
  "diagnosing",
  "validating",
  "acting",
  "awaiting_approval",
  "resolved",
  "escalated",
  "rejected",
  "failed",
];

/**
 * What the root message of an incident shows. `startedAt` is ISO-8601; `stage` is a {@link RunStage}
 * (or free text); `summary` is the run's final summary (shown instead of the stage once set);
 * `requestedBy` is the Slack user id behind a `/backstop triage` command; `resolvedByAlertmanager` is set
 * once Alertmanager sends `status: resolved` for the alert. `cluster` is the cluster the run is on
 * (shown in the header and as a field; null/absent for runs from before clusters).
 */
export interface IncidentView {
  runId: string;
  cluster?: string | null;
  alertname: string | null;
  severity: string | null;
  namespace: string;
  workload: string;
  trigger: "alert" | "command";
  requestedBy: string | null;
  status: IncidentStatus;
  stage: string | null;
  summary: string | null;
  startedAt: string;
  resolvedByAlertmanager?: boolean;
}

export type { RunStage } from "../src/contracts/stages.js";

const STAGE_LABELS: Record<RunStage, string> = {
  triage: "Triage: reading cluster signals (read-only) and redacting secrets",
  diagnose: "Diagnosis: asking the model for a structured diagnosis",
  validate: "Validation: quality gate, action gate and anomaly budget",
  act: "Acting through the narrow write path, then verifying recovery",
  escalate: "Escalated to a human",
  record: "Recording: ticket and signed receipt",
};

const STATUS_EMOJI: Record<IncidentStatus, string> = {
  queued: ":hourglass_flowing_sand:",
  triaging: ":mag:",
  diagnosing: ":brain:",
  validating: ":scales:",
  acting: ":hammer_and_wrench:",
  awaiting_approval: ":raised_hand:",
  resolved: ":white_check_mark:",
  escalated: ":rotating_light:",
  rejected: ":no_entry_sign:",
  failed: ":x:",
};

const STATUS_LABELS: Record<IncidentStatus, string> = {
  queued: "Queued",
  triaging: "Triaging",
  diagnosing: "Diagnosing",
  validating: "Validating",
  acting: "Acting",
  awaiting_approval: "Awaiting approval",
  resolved: "Resolved",
  escalated: "Escalated",
  rejected: "Rejected",
  failed: "Failed",
};

/** The emoji short code for a status (`:white_check_mark:` for `resolved`, …). */
export function statusEmoji(status: IncidentStatus): string {
  return STATUS_EMOJI[status];
}

/** The human label for a status (`Awaiting approval`, …). */
export function statusLabel(status: IncidentStatus): string {
  return STATUS_LABELS[status];
}

/** The readable line for a stage; unknown text is escaped and returned as is. */
export function stageLabel(stage: string): string {
  return (STAGE_LABELS as Record<string, string>)[stage] ?? escapeText(stage);
}

/**
 * The root's status after `event`, given the status before it (`prev`):
 * `run.started`, `signals.gathered`, `redaction.applied` → `triaging` (an `output` one, of a model reply,
 * keeps the status); `model.*`, `diagnosis.parsed` →
 * `diagnosing`; `gate.*` and `action.dry_run` (the action gate's server-side dry-run) → `validating`;
 * `action.executed`, `action.failed`, `recovery.verified` → `acting`; `escalation.opened` →
 * `awaiting_approval` when it proposes an action, else `escalated`; `approval.decided` → `acting` when
 * approved, `rejected` when rejected or expired; `run.finished` → its outcome (`resolved`; `escalated`,
 * kept `rejected` after a rejection; `damaged`/`failed` → `failed`). `breaker.*` and `ticket.filed`
 * leave the status as it was.
 */
export function statusOf(event: RunEvent, prev: IncidentStatus): IncidentStatus {
  switch (event.type) {
    case "redaction.applied":
      // An output redaction (a model reply) happens mid-run: it leaves the status as it was.
      return (event.data as RunEventDataMap["redaction.applied"]).direction === "output" ? prev : "triaging";
    case "run.started":
    case "signals.gathered":
      return "triaging";
    case "model.call":
    case "model.fallback":
    case "diagnosis.parsed":
      return "diagnosing";
    case "gate.quality":
    case "gate.action":
    case "action.dry_run":
      return "validating";
    case "action.executed":
    case "action.failed":
    case "recovery.verified":
      return "acting";
    case "escalation.opened": {
      const d = event.data as RunEventDataMap["escalation.opened"];
      return d.proposed_action ? "awaiting_approval" : "escalated";
    }
    case "approval.decided": {
      const d = event.data as RunEventDataMap["approval.decided"];
      return d.decision === "approved" ? "acting" : "rejected";
    }
    case "run.finished": {
      const d = event.data as RunEventDataMap["run.finished"];
      if (d.outcome === "resolved") return "resolved";
      if (d.outcome === "escalated") return prev === "rejected" ? "rejected" : "escalated";
      return "failed";
    }
    default:
      return prev;
  }
}

/**
 * The stage an event belongs to on the root message (see {@link RunStage}); `null` for none: the
 * contracts' mapping as the `thread` reads it (`src/contracts/stages.ts`). `run.started`, `signals.gathered`,
 * `redaction.applied` → `triage` (an `output` one → `diagnose`); `model.*`, `diagnosis.parsed` → `diagnose`; `gate.*`, `breaker.*`,
 * `action.dry_run` → `validate`; `action.executed`, `action.failed`, `recovery.verified` and an approved
 * `approval.decided` → `act`; `escalation.opened` and a rejected/expired decision → `escalate`;
 * `ticket.filed`, `run.finished` → `record`.
 */
export function stageOf(event: RunEvent): RunStage | null {
  return stageFor(event, "thread");
}

/** `shop/checkout in prod-eu1`, or `shop/checkout` when the view names no cluster. */
function withCluster(v: Pick<IncidentView, "namespace" | "workload" | "cluster">): string {
  const target = `${v.namespace}/${v.workload}`;
  return v.cluster ? `${target} in ${v.cluster}` : target;
}

function triggerText(view: IncidentView): string {
  if (view.trigger === "alert") return "Alertmanager alert";
  return view.requestedBy ? `/backstop triage by ${mention(view.requestedBy)}` : "/backstop triage";
}

/**
 * What a root message turns into when another worker's root won the incident's thread: a one-line
 * pointer (`namespace/workload: followed in the incident's thread`), so nothing is deleted.
 */
export function threadPointer(view: Pick<IncidentView, "namespace" | "workload">): SlackMessage {
  return message(`${escapeText(`${view.namespace}/${view.workload}`)}: followed in the incident's thread`, [
    context(":thread: This incident is followed in its existing thread in this channel."),
  ]);
}

/**
 * The root message of an incident, updated in place (`chat.update`) as the run moves: a `header` with the
 * status emoji and `namespace/workload in cluster`; a `section` with fields Cluster (when known), Alert,
 * Severity, Status, Trigger, Started, Run; a `context` line with the summary (once finished) or the current stage; a second context line when
 * Alertmanager reported the alert resolved. Every text from the alert or cluster is escaped and cut to
 * Slack's limits.
 */
export function incidentRoot(view: IncidentView): SlackMessage {
  const target = withCluster(view);
  const blocks: KnownBlock[] = [
    header(`${statusEmoji(view.status)} ${safe(target, LIMITS.header - 20)}`),
    section(null, [
      ...(view.cluster ? [`*Cluster*\n${safe(view.cluster, 200)}`] : []),
      `*Alert*\n${view.alertname ? safe(view.alertname, 500) : "—"}`,
      `*Severity*\n${view.severity ? safe(view.severity, 200) : "—"}`,
      `*Status*\n${statusLabel(view.status)}`,
      `*Trigger*\n${triggerText(view)}`,
      `*Started*\n${slackDate(view.startedAt)}`,
      `*Run*\n${code(view.runId.slice(0, 200))}`,
    ]),
  ];
  if (view.summary) blocks.push(context(safe(view.summary, LIMITS.contextText)));
  else if (view.stage) blocks.push(context(`*Stage:* ${stageLabel(view.stage)}`));
  if (view.resolvedByAlertmanager) {
    blocks.push(context(":large_green_circle: Alertmanager reports this alert resolved."));
  }
  const what = view.alertname ? `${view.alertname} on ${target}` : target;
  return message(`${statusLabel(view.status)}: ${escapeText(what)}`, blocks);
}

/**
 * The `/backstop status` answer: one line per run (emoji, `namespace/workload`, status, run id, start),
 * newest first as given; "No runs in flight." for none. At most 40 runs are listed, then "…and N more".
 */
export function statusMessage(runs: IncidentView[]): SlackMessage {
  if (runs.length === 0) {
    return message("No Backstop runs in flight.", [section(":zzz: No Backstop runs in flight.")]);
  }
  const shown = runs.slice(0, 40);
  const blocks: KnownBlock[] = [header(`Backstop runs (${runs.length})`), divider()];
  for (const r of shown) {
    const stage = r.summary ? safe(r.summary, 300) : r.stage ? stageLabel(r.stage) : "";
    blocks.push(
      section(
        `${statusEmoji(r.status)} *${safe(withCluster(r), 300)}* — ${statusLabel(r.status)}` +
          `${r.alertname ? ` (${safe(r.alertname, 200)})` : ""}\n` +
          `${code(r.runId.slice(0, 200))} · started ${slackDate(r.startedAt)}${stage ? `\n${stage}` : ""}`,
      ),
    );
  }
  if (runs.length > shown.length) blocks.push(context(`…and ${runs.length - shown.length} more.`));
  const summary = shown
    .slice(0, 10)
    .map((r) => `${withCluster(r)}: ${statusLabel(r.status)}`)
    .join("; ");
  return message(`${runs.length} Backstop run(s): ${escapeText(summary)}`, blocks);
}

/** The threaded reply when Alertmanager sends `status: "resolved"` for the incident's alert (`at` ISO-8601). */
export function alertResolvedReply(alertname: string, at: string): SlackMessage {
  const name = safe(alertname, 500);
  return message(`Alertmanager reports ${name} resolved`, [
    section(`:large_green_circle: Alertmanager reports *${name}* resolved at ${slackDate(at)}.`),
  ]);
}

/**
 * The note posted in an incident's thread when another alert (or `/backstop triage`) for the same
 * workload arrives while its run is queued, running or awaiting approval: it joins this incident
 * instead of starting a second run. `what` is e.g. `shop/checkout`; text is escaped and cut.
 */
export function alertJoinedReply(d: { alertname: string; what: string; runId: string }): SlackMessage {
  const name = safe(d.alertname, 300);
  return message(`${d.alertname} for ${d.what} joined this incident; no second run`, [
    section(
      `:link: *${name}* for ${code(d.what.slice(0, 300))} arrived while this run is active for the same workload: it joins this incident; no second run is started.`,
    ),
    context(`Run ${code(d.runId.slice(0, 200))}`),
  ]);
}

/**
 * A channel notice for alerts that start no run: alerts naming no workload (e.g. `KubeMemoryOvercommit`,
 * `KubeQuotaExceeded`) and alerts refused at intake (an invalid namespace or name, labels over the
 * bounds). Each line is `{ alertname, reason }`; text is escaped and cut to Slack's limits.
 */
export function alertNoticeMessage(
  lines: { alertname: string; reason: string; refused: boolean }[],
): SlackMessage {
  const shown = lines.slice(0, 20);
  const body = shown
    .map(
      (l) =>
        `${l.refused ? ":no_entry:" : ":information_source:"} *${safe(l.alertname, 200)}*: ${safe(l.reason, 500)}${l.refused ? " (refused; no run)" : " (no run)"}`,
    )
    .join("\n");
  const more = lines.length > shown.length ? `\n…and ${lines.length - shown.length} more` : "";
  return message(`Alertmanager: ${lines.length} alert(s) started no run`, [
    section(`${body}${more}`.slice(0, LIMITS.sectionText)),
  ]);
}
