/**
 * Block Kit builders for Backstop's Slack surface: pure functions `(input) => { text, blocks }` over the
 * types of `@slack/types`. Every message has a plain `text` fallback, escapes untrusted text and respects
 * Slack's limits (https://api.slack.com/reference/block-kit/blocks).
 */
export {
  ACTION_APPROVE,
  ACTION_RECEIPT,
  ACTION_REJECT,
  BLOCK_DECISION,
  decisionMessage,
  type EscalationInput,
  escalationMessage,
} from "./escalation.js";
export { actionPlain, actionText, decisionLine, eventReply, failedRulesText } from "./events.js";
export { errorMessage, helpMessage, USAGE } from "./help.js";
export {
  alertJoinedReply,
  alertNoticeMessage,
  alertResolvedReply,
  INCIDENT_STATUSES,
  type IncidentStatus,
  type IncidentView,
  incidentRoot,
  type RunStage,
  stageLabel,
  stageOf,
  statusEmoji,
  statusLabel,
  statusMessage,
  statusOf,
  threadPointer,
} from "./incident.js";
export { receiptMessage } from "./receipt.js";
export { escapeText, LIMITS, type SlackMessage, truncate } from "./text.js";
