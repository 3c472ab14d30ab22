import type { Diagnosis } from "../contracts/diagnosis.js";
import type { ActionRecord, RunEvent } from "../contracts/events.js";
import type { Signals } from "../contracts/signals.js";

/**
 * The parts the pipeline runs over, as narrow interfaces ("ports"). The real implementations are the
 * MCP infra client (`src/mcp/infra.ts`), the model router (`src/gateway/`), the write path
 * (`src/actions/`) and the notify MCP client (`src/mcp/notify.ts`); tests may pass their own.
 */

/** Read-only cluster signals (the infra MCP server's tools). Errors are thrown as BackstopError. */
export interface SignalsSource {
  namespaces(): Promise<{ name: string; labels: Record<string, string> }[]>;
  getSignals(namespace: string, workload: string, window?: string): Promise<Signals>;
  /**
   * The workload that owns a named object, read-only: a Pod's controller chain (ReplicaSet →
   * Deployment, StatefulSet, DaemonSet, Job → CronJob), an HPA's `scaleTargetRef`, a Job's CronJob.
   * Optional: without it a run whose alert named a pod, an HPA or a Job triages that name as is (and
   * escalates when it is not a Deployment or StatefulSet).
   */
  resolveOwner?(
    namespace: string,
    kind: "Pod" | "HorizontalPodAutoscaler" | "Job",
    name: string,
  ): Promise<{ kind: string; name: string }>;
}

/** The narrow write path: dry-run, execute once per idempotency key, watch recovery (ms). */
export interface ActionRunner {
  dryRun(action: ActionRecord): Promise<{ ok: boolean; error: string | null }>;
  execute(
    action: ActionRecord,
    idempotencyKey: string,
  ): Promise<{ executed: boolean; alreadyApplied: boolean; revision: number | null }>;
  waitForRecovery(
    namespace: string,
    name: string,
    opts?: { timeoutMs?: number },
  ): Promise<{ ok: boolean; ready: number; desired: number; waited_ms: number }>;
  /** True when an earlier attempt already applied the action with this idempotency key. */
  wasApplied?(namespace: string, name: string, idempotencyKey: string): Promise<boolean>;
}

/** Ticket creation only (the notify MCP server through its allow-list). */
export interface TicketSink {
  createTicket(t: { title: string; description: string; labels?: string[]; priority?: number }): Promise<{
    id: string;
    url: string | null;
  }>;
}

/** What an escalation carries so a human can decide, and an approval can act. */
export interface Escalation {
  reason: string;
  proposedAction: ActionRecord | null;
  diagnosis: Diagnosis | null;
  failedRules: string[];
}

/**
 * An escalated run waiting for a human: what was proposed, and the receipt so far (ending with
 * `escalation.opened`), so `resumeAfterDecision` can continue the same hash chain. JSON-serialisable
 * (the bot keeps it in Redis). Times are ISO-8601; money USD.
 */
export interface PendingApproval {
  runId: string;
  /**
   * The cluster the run was diagnosed on: an approval acts there and nowhere else (the worker opens
   * that cluster's write path). Absent only on approvals saved before clusters existed.
   */
  cluster?: string;
  target: { namespace: string; workload: string };
  reason: string;
  proposedAction: ActionRecord;
  hypothesis: string | null;
  events: RunEvent[];
  totals: {
    modelCalls: number;
    fallbacks: number;
    tokens: { input: number; output: number };
    costUsd: number;
  };
  startedAt: string;
  /**
   * When the incident began (the alert's `startsAt`, ISO-8601), for the approval's re-check of
   * `deploy_within_window`; null or absent (an approval saved before this field): `startedAt` is used.
   */
  onset?: string | null;
}
