import type { KnownBlock } from "@slack/types";
import type { ActionRecord } from "../src/contracts/events.js";
import { actionPlain, actionText, decisionLine } from "./events.js";
import {
  actions,
  button,
  code,
  context,
  escapeText,
  mention,
  message,
  type SlackMessage,
  safe,
  section,
  slackDate,
} from "./text.js";

/** `action_id` of the Approve button on an escalation (its `value` is the run id). */
export const ACTION_APPROVE = "backstop_approve";
/** `action_id` of the Reject button on an escalation (its `value` is the run id). */
export const ACTION_REJECT = "backstop_reject";
/** `action_id` of the "Download receipt" button (its `value` is the run id). */
export const ACTION_RECEIPT = "backstop_receipt";
/** `block_id` of the Approve/Reject `actions` block, so a listener can find and replace it. */
export const BLOCK_DECISION = "backstop_decision";

/**
 * What an escalation shows: why it escalated, the model's hypothesis, the failed rules, the proposed
 * action, who may decide, and when the request expires (`expiresAt` ISO-8601; afterwards it counts as
 * rejected). `approvers` are Slack user ids (`U…`) or user group ids (`S…`).
 */
export interface EscalationInput {
  runId: string;
  reason: string;
  proposedAction: ActionRecord | null;
  hypothesis: string | null;
  failedRules: string[];
  approvers: string[];
  expiresAt: string;
}

function summaryLines(e: {
  reason: string;
  hypothesis: string | null;
  failedRules: string[];
  proposedAction: ActionRecord | null;
}): string {
  const lines = [`:rotating_light: *Escalated to a human*\n${safe(e.reason, 1200)}`];
  if (e.hypothesis) lines.push(`*Hypothesis:* ${safe(e.hypothesis, 800)}`);
  if (e.failedRules.length > 0) {
    const shown = e.failedRules.slice(0, 15).map((r) => code(r.slice(0, 100)));
    const more = e.failedRules.length > 15 ? ` …and ${e.failedRules.length - 15} more` : "";
    lines.push(`*Failed rules:* ${shown.join(", ")}${more}`);
  }
  if (e.proposedAction) lines.push(`*Proposed action:* ${actionText(e.proposedAction)}`);
  return lines.join("\n");
}

/**
 * The escalation message. With a proposed action: a section (reason, hypothesis, failed rules, proposed
 * action), a context line (who may decide, when it expires) and an `actions` block with Approve
 * (`backstop_approve`, style `primary`, a confirm dialog saying the hard rules are checked again) and
 * Reject (`backstop_reject`, style `danger`), both `value: runId`. Without a proposed action there is
 * nothing to approve: an acknowledgement line that a human must take over, and no buttons.
 */
export function escalationMessage(e: EscalationInput): SlackMessage {
  const blocks: KnownBlock[] = [section(summaryLines(e))];
  if (!e.proposedAction) {
    blocks.push(
      context(
        `No safe action was proposed, so there is nothing to approve; a human needs to take it from here. Run ${code(e.runId.slice(0, 200))}.`,
      ),
    );
    return message(`Escalated to a human: ${escapeText(e.reason)}`, blocks);
  }
  const who =
    e.approvers.length > 0 ? e.approvers.slice(0, 20).map(mention).join(", ") : "_no approvers configured_";
  blocks.push(
    context(
      `*Who may decide:* ${who}`,
      `Expires ${slackDate(e.expiresAt)}; no decision by then counts as rejected.`,
    ),
  );
  const plainAction = actionPlain(e.proposedAction);
  blocks.push(
    actions(
      BLOCK_DECISION,
      button({
        text: "Approve",
        actionId: ACTION_APPROVE,
        value: e.runId,
        style: "primary",
        confirm: {
          title: "Approve this action?",
          text: `Backstop will run *${plainAction}*. The action gate's hard rules are checked again before it runs.`,
          confirm: "Approve",
          deny: "Cancel",
        },
      }),
      button({ text: "Reject", actionId: ACTION_REJECT, value: e.runId, style: "danger" }),
    ),
  );
  return message(`Approval needed: ${plainAction}. ${escapeText(e.reason)}`, blocks);
}

/**
 * Replaces the escalation message (`chat.update`) once decided: the same summary, then who decided and
 * when (`at` ISO-8601), and no buttons. `expired` means nobody decided before the timeout (treated as a
 * rejection).
 */
export function decisionMessage(d: {
  runId: string;
  decision: "approved" | "rejected" | "expired" | "withdrawn";
  by: string | null;
  at: string;
  proposedAction: ActionRecord | null;
}): SlackMessage {
  const blocks: KnownBlock[] = [];
  if (d.proposedAction) blocks.push(section(`*Proposed action:* ${actionText(d.proposedAction)}`));
  let line = decisionLine(d.decision, d.by, d.at);
  if (d.decision === "approved" && d.proposedAction) {
    line += `; running ${actionText(d.proposedAction)} after the hard rules pass again.`;
  }
  blocks.push(section(line));
  blocks.push(context(`Run ${code(d.runId.slice(0, 200))}`));
  const what = d.proposedAction ? ` ${actionPlain(d.proposedAction)}` : "";
  return message(`${d.decision[0]!.toUpperCase()}${d.decision.slice(1)}:${what}`, blocks);
}
