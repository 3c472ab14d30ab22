/** The records {@link RunStore} keeps in Redis: their zod schemas, types, TTLs and run-claim constants. */
import { z } from "zod";
import { INCIDENT_STATUSES, type IncidentStatus } from "../../blocks/incident.js";
import type { PendingApproval } from "../pipeline/ports.js";

/** How long incidents, threads and receipts are kept in Redis (s): 30 days. */
export const RECORD_TTL_S = 30 * 24 * 60 * 60;

/**
 * One incident as the bot tracks it: its Slack channel, its status and the run's current stage.
 * `key` is the incident key (the BullMQ job id), `runId` the run's id. Times are ISO-8601.
 * `alertname`/`severity` come from the alert's labels (null for a slash command). `cluster` is the
 * cluster the run is on (absent on records written before clusters existed).
 */
export const IncidentRecordSchema = z.object({
  key: z.string().min(1),
  runId: z.string().min(1),
  cluster: z.string().nullable().optional(),
  namespace: z.string(),
  workload: z.string(),
  alertname: z.string().nullable(),
  severity: z.string().nullable(),
  trigger: z.enum(["alert", "command"]),
  requestedBy: z.string().nullable(),
  channel: z.string(),
  status: z.string(),
  stage: z.string().nullable(),
  summary: z.string().nullable(),
  startedAt: z.string(),
  resolvedAt: z.string().nullable(),
});
/** See {@link IncidentRecordSchema}. */
export interface IncidentRecord {
  key: string;
  runId: string;
  cluster?: string | null;
  namespace: string;
  workload: string;
  alertname: string | null;
  severity: string | null;
  trigger: "alert" | "command";
  requestedBy: string | null;
  channel: string;
  status: string;
  stage: string | null;
  summary: string | null;
  startedAt: string;
  resolvedAt: string | null;
}

/**
 * The state of an approval: waiting for a human, or decided (once). `withdrawn`: Alertmanager
 * resolved the alert while it waited, so the approval was withdrawn and nothing runs.
 */
export type ApprovalStatus = "pending" | "approved" | "rejected" | "expired" | "withdrawn";

/**
 * An escalated run waiting for (or past) a human decision. `pending` is the pipeline's
 * {@link PendingApproval} (the receipt so far, so the run can resume on the same hash chain).
 * `expiresAt` is ISO-8601 (after it the `expire` job rejects it). `channel`/`threadTs` locate the
 * incident's thread, `escalationTs` the message with the Approve/Reject buttons. `decidedBy` (Slack
 * user id, null for `expired`) and `decidedAt` (ISO-8601) are set by {@link RunStore.decide}.
 */
export interface PendingApprovalRecord {
  runId: string;
  incidentKey: string;
  pending: PendingApproval;
  status: ApprovalStatus;
  expiresAt: string;
  channel: string;
  threadTs: string;
  escalationTs?: string | null;
  decidedBy?: string | null;
  decidedAt?: string | null;
}

/** Validates a {@link PendingApprovalRecord} (the `pending` payload is checked loosely, passthrough). */
export const PendingApprovalRecordSchema = z.object({
  runId: z.string().min(1),
  incidentKey: z.string().min(1),
  pending: z
    .object({
      runId: z.string(),
      target: z.object({ namespace: z.string(), workload: z.string() }),
      reason: z.string(),
      proposedAction: z.object({ type: z.string() }).passthrough(),
      events: z.array(z.unknown()),
    })
    .passthrough(),
  status: z.enum(["pending", "approved", "rejected", "expired", "withdrawn"]),
  expiresAt: z.string(),
  channel: z.string(),
  threadTs: z.string(),
  escalationTs: z.string().nullable().optional(),
  decidedBy: z.string().nullable().optional(),
  decidedAt: z.string().nullable().optional(),
});

/** An incident's Slack thread: channel id and root message `ts`. */
export const ThreadSchema = z.object({ channel: z.string(), ts: z.string() });

/** How long a workload's active-run entry lives at most (s) if its run never clears it: 24 h. */
export const ACTIVE_RUN_TTL_S = 24 * 60 * 60;

/**
 * Incident statuses of a run that is not over: queued or running (`triaging` … `acting`) or waiting
 * for a human (`awaiting_approval`). Any other status (resolved, escalated, failed, rejected, …) is over.
 */
export const ACTIVE_STATUSES: readonly IncidentStatus[] = INCIDENT_STATUSES.slice(
  0,
  INCIDENT_STATUSES.indexOf("awaiting_approval") + 1,
);
/** How long a fresh claim counts as live before its job exists (ms): the claim-then-add window, with margin. */
export const CLAIM_GRACE_MS = 30_000;

/** The answer of {@link RunStore.claimRun}. */
export type RunClaim =
  | { status: "claimed" }
  | { status: "duplicate" }
  | { status: "joined"; holder: string; first: boolean };
