import type { ActionRecord, RuleResult } from "../../contracts/events.js";

/**
 * Rules a human's approval may override: an escalation may propose an action that fails only these
 * (e.g. a rollback to an older healthy revision than the newest one), and `resumeAfterDecision`
 * re-checks every other policy rule. Nothing else in the gate can be approved away.
 */
export const APPROVABLE_RULES = ["rollback_newest_healthy"] as const;

/** The rules an approved escalation is re-checked against before it executes. */
export const HARD_RULES = [
  "type_allowed",
  "not_protected",
  "single_workload",
  "no_wide_scope",
  "replicas_bounds",
] as const;

/**
 * The server-side dry-run the write path provides (`dryRun=All` on the real PATCH/POST, Kubernetes API
 * conventions): `ok` when the API server accepted the change without persisting it.
 */
export type DryRunFn = (a: ActionRecord) => Promise<{ ok: boolean; error: string | null }>;

/**
 * Context of the gate: `namespaceLabels` maps a namespace to its `metadata.labels` (from mcp-infra
 * `namespaces`); `onset` is when the incident began (the alert's `startsAt`), which `deploy_within_window`
 * needs for a rollback (absent: a rollback fails that rule, fail-closed).
 */
export interface ActionGateContext {
  namespaceLabels: Record<string, Record<string, string>>;
  onset?: Date;
}

/**
 * Context of {@link checkHardRules}: the namespaces' labels, plus the facts the action alone does not
 * carry. `currentReplicas` is the workload's current desired replica count (needed for `scale`; when
 * absent a scale fails `replicas_bounds`, fail-closed); `actualKind` the kind the cluster reports for
 * the target (a StatefulSet claimed to be a Deployment is still protected).
 */
export interface HardRuleContext extends ActionGateContext {
  currentReplicas?: number;
  actualKind?: string;
}

/**
 * The gate's verdict. `action` is the concrete typed action (kind canonicalised; for rollback `to_sha`
 * is the full history SHA and `to_revision` the revision number) or null when the recommendation has
 * no executable action (`none`). `passed` only when every rule passed, including `server_dry_run`.
 */
export interface ActionVerdict {
  passed: boolean;
  action: ActionRecord | null;
  rules: RuleResult[];
}
