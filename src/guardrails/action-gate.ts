import { type Diagnosis, parseResourceRef, type RecommendedAction } from "../contracts/diagnosis.js";
import type { ActionRecord, RuleResult } from "../contracts/events.js";
import type { RolloutRevision, Signals } from "../contracts/signals.js";
import { errorMessage } from "../errors.js";
import { canonicalKind, durationMs, isProtected, type Policy } from "./policy.js";
import { currentRevision, findRevisionBySha, workloadState } from "./quality.js";

/**
 * The action gate: may the action a diagnosis recommends run through the write path? Policy rules
 * (stable ids below), then a server-side dry-run. "A wrong model output must never become a
 * destructive action": every rule fails closed when it lacks the facts to decide.
 *
 * Rule ids, in order: `type_allowed`, `not_protected`, `single_workload`, `no_wide_scope`,
 * `replicas_bounds` (the HARD rules, see {@link HARD_RULES}), then `rollback_target`,
 * `rollback_newest_healthy`, `deploy_within_window`, `restart_needs_unhealthy`,
 * `action_matches_evidence`, and `server_dry_run`.
 *
 * The target (namespace/kind/name) and the revision come from structured signals only: the workload the
 * alert names (its labels), the rollout history (ReplicaSets and their health from pods and Prometheus)
 * and pod status. Text in logs, events, annotations or termination messages may be quoted as evidence
 * for a hypothesis, but nothing here reads it: a `to_sha` a log line asks for passes only when it IS the
 * newest healthy revision the history shows.
 */

/**
 * Rules a human's approval may override: an escalation may propose an action that fails only these
 * (e.g. a rollback to an older healthy revision than the newest one), and `resumeAfterDecision`
 * re-checks every other policy rule. Nothing else in the gate can be approved away.
 */
export const APPROVABLE_RULES = ["rollback_newest_healthy"] as const;

/** Grace after the onset within which a deploy still counts as live at the onset (clock skew), ms. */
const ONSET_GRACE_MS = 120_000;

/** The rules an approved escalation is re-checked against before it executes. */
export const HARD_RULES = [
  "type_allowed",
  "not_protected",
  "single_workload",
  "no_wide_scope",
  "replicas_bounds",
] as const;

/** Kinds the write path knows (src/actions/): apps/v1 Deployment and StatefulSet. */
const WORKLOAD_KINDS = new Set(["Deployment", "StatefulSet"]);

/**
 * One Kubernetes object name: a DNS-1123 subdomain for the workload, a DNS-1123 label for the namespace
 * (https://kubernetes.io/docs/concepts/overview/working-with-objects/names/). No wildcards, lists or
 * selectors can pass these.
 */
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

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

function rule(id: string, passed: boolean, detail: string): RuleResult {
  return { rule: id, passed, detail };
}

/**
 * The HARD rules over one action, whether a model's recommendation or an action record awaiting
 * approval:
 * - `type_allowed`: `type` is in `policy.allowed_actions` (`none` and `delete` never are).
 * - `not_protected`: {@link isProtected} is false for the target (with its claimed and its actual kind),
 *   and the target namespace's labels are known (an unknown namespace fails closed).
 * - `single_workload`: exactly one object: namespace a DNS-1123 label, name a DNS-1123 subdomain,
 *   kind Deployment or StatefulSet (no `*`, lists, selectors, second targets).
 * - `no_wide_scope`: `scope` absent or equal to the workload's name (`all`, `*`, `app=x`, `a,b`,
 *   `!x` all fail).
 * - `replicas_bounds`: for `scale` only: an integer, ≥ max(1, policy.replicas.min), ≤
 *   floor(max(current, 1) × policy.replicas.max_factor); never 0; fails when current is unknown.
 * Pure; never throws.
 */
export function checkHardRules(
  a: ActionRecord | RecommendedAction,
  policy: Policy,
  ctx: HardRuleContext,
): RuleResult[] {
  const rules: RuleResult[] = [];
  const allowed = (policy.allowed_actions as readonly string[]).includes(a.type);
  rules.push(
    rule(
      "type_allowed",
      allowed,
      allowed
        ? `${a.type} is allowed`
        : `${a.type} is not an allowed action (${policy.allowed_actions.join(", ")})`,
    ),
  );

  const labels = ctx.namespaceLabels[a.namespace];
  const claimed = isProtected(policy, a, labels);
  const actual =
    ctx.actualKind && ctx.actualKind.toLowerCase() !== a.kind.toLowerCase()
      ? isProtected(policy, { ...a, kind: ctx.actualKind }, labels)
      : { protected: false, why: null };
  // Fail closed: a namespace whose labels we could not read might carry the protection label.
  const unknownLabels = labels === undefined && Object.keys(policy.protected.namespace_labels).length > 0;
  const prot = claimed.protected
    ? claimed
    : actual.protected
      ? actual
      : unknownLabels
        ? { protected: true, why: `the labels of namespace ${a.namespace} are unknown (it may be protected)` }
        : claimed;
  rules.push(
    rule(
      "not_protected",
      !prot.protected,
      prot.protected ? `protected: ${prot.why}` : `${a.namespace}/${a.kind}/${a.name} is not protected`,
    ),
  );

  const kind = canonicalKind(a.kind);
  const single: string[] = [];
  if (!DNS1123_LABEL.test(a.namespace)) single.push(`namespace "${a.namespace}" is not one namespace name`);
  if (!DNS1123_SUBDOMAIN.test(a.name)) single.push(`name "${a.name}" is not one object name`);
  if (!WORKLOAD_KINDS.has(kind)) single.push(`kind "${a.kind}" is not Deployment or StatefulSet`);
  rules.push(
    rule(
      "single_workload",
      single.length === 0,
      single.length === 0 ? `one workload: ${a.namespace}/${kind}/${a.name}` : single.join("; "),
    ),
  );

  const scope = "scope" in a ? a.scope : undefined;
  const scopeOk = scope === undefined || scope === a.name;
  rules.push(
    rule(
      "no_wide_scope",
      scopeOk,
      scope === undefined
        ? "no scope"
        : scopeOk
          ? `scope is the workload itself (${scope})`
          : `scope "${scope}" is wider than the workload ${a.name}${/[=,!*]|^all$/i.test(scope) ? " (selector, list or wildcard)" : ""}`,
    ),
  );

  if (a.type !== "scale") {
    rules.push(rule("replicas_bounds", true, `n/a for ${a.type}`));
  } else {
    const r = a.replicas;
    const min = Math.max(1, policy.replicas.min);
    const cur = ctx.currentReplicas;
    let why: string | null = null;
    if (r === undefined || !Number.isInteger(r)) why = "scale needs an integer replicas count";
    else if (r < min)
      why = `replicas ${r} is below the minimum ${min}${r === 0 ? " (scale to zero is never allowed)" : ""}`;
    else if (cur === undefined || !Number.isInteger(cur) || cur < 0)
      why = "current replicas unknown; cannot bound the scale";
    else {
      const max = Math.floor(Math.max(cur, 1) * policy.replicas.max_factor);
      if (r > max) why = `replicas ${r} exceeds ${max} (×${policy.replicas.max_factor} of current ${cur})`;
    }
    rules.push(
      rule(
        "replicas_bounds",
        why === null,
        why ?? `replicas ${r} within [${min}, ×${policy.replicas.max_factor} of ${cur}]`,
      ),
    );
  }
  return rules;
}

/**
 * The newest revision before `current` whose health is `healthy` and whose SHA differs from the
 * current one: the only rollback target the gate accepts on its own (`kubectl rollout undo` without
 * `--to-revision` picks the previous revision; we also skip revisions known to be failing or unknown).
 */
export function newestHealthyBefore(
  history: RolloutRevision[],
  current: RolloutRevision,
): RolloutRevision | null {
  const earlier = history
    .filter((r) => r.revision < current.revision && r.health === "healthy" && r.sha !== current.sha)
    .sort((x, y) => y.revision - x.revision);
  return earlier[0] ?? null;
}

/** Resolves the rollback target in the history: `to_sha` if given, else the newest earlier healthy revision. */
function rollbackTarget(
  history: RolloutRevision[],
  current: RolloutRevision,
  toSha: string | undefined,
): { target: RolloutRevision | null; why: string } {
  if (toSha !== undefined) {
    const { match, count } = findRevisionBySha(history, toSha);
    if (!match) {
      return {
        target: null,
        why:
          count > 1
            ? `to_sha ${toSha} is ambiguous (${count} revisions)`
            : `to_sha ${toSha} is not in the rollout history`,
      };
    }
    return { target: match, why: `to_sha ${toSha} is revision ${match.revision}` };
  }
  const pick = newestHealthyBefore(history, current);
  return pick
    ? {
        target: pick,
        why: `no to_sha given; resolved to the newest earlier healthy revision ${pick.revision}`,
      }
    : { target: null, why: "no to_sha given and no earlier healthy revision" };
}

/**
 * All policy rules over a diagnosis' recommended action (the hard rules of {@link checkHardRules}, then):
 * - `rollback_target`: for rollback, the target (`to_sha`, or the newest earlier healthy revision when
 *   absent) is in `rollout_history`, EARLIER than the current revision (lower revision number, another
 *   SHA), and its health is `healthy` (`unknown` fails closed). Resolves `to_sha`/`to_revision`.
 * - `rollback_newest_healthy`: for rollback, the target is the NEWEST healthy revision before the
 *   current (failing) one ({@link newestHealthyBefore}); an older one fails here and is at most a
 *   proposal a human approves ({@link APPROVABLE_RULES}).
 * - `deploy_within_window`: for rollback, the current revision (the deploy being undone) went live
 *   no more than `policy.rollback.max_deploy_age_before_onset` before `ctx.onset` and no later than
 *   2 min after it; otherwise the deploy did not start this incident and a rollback is not the fix.
 * - `restart_needs_unhealthy`: for restart, some pod is not ready / crashing, or ready < desired.
 * - `action_matches_evidence`: the action's `namespace/kind/name` equals `suspected_resource` and the
 *   signals' workload (kind case-insensitive).
 * Returns the rules and the concrete action (null for `none`). Pure; never throws.
 */
export function checkActionRules(
  d: Diagnosis,
  s: Signals,
  policy: Policy,
  ctx: ActionGateContext,
): { rules: RuleResult[]; action: ActionRecord | null } {
  const ra = d.recommended_action;
  const w = s.workload;
  const onWorkload = ra.namespace === w.namespace && ra.name === w.name;
  const rules = checkHardRules(ra, policy, {
    namespaceLabels: ctx.namespaceLabels,
    ...(onWorkload ? { currentReplicas: w.replicas.desired, actualKind: w.kind } : {}),
  });

  let action: ActionRecord | null = null;
  if (ra.type !== "none") {
    action = { type: ra.type, namespace: ra.namespace, kind: canonicalKind(ra.kind), name: ra.name };
    if (ra.type === "scale" && ra.replicas !== undefined) action.replicas = ra.replicas;
  }

  // rollback_target
  if (ra.type !== "rollback") {
    rules.push(rule("rollback_target", true, `n/a for ${ra.type}`));
  } else if (!onWorkload) {
    rules.push(
      rule("rollback_target", false, "the rollback targets another workload than the signals' history"),
    );
  } else {
    const current = currentRevision(s.rollout_history);
    if (!current) {
      rules.push(rule("rollback_target", false, "no current revision in the rollout history"));
    } else {
      const { target, why } = rollbackTarget(s.rollout_history, current, ra.to_sha);
      let fail: string | null = null;
      if (!target) fail = why;
      else if (target.revision >= current.revision || target.sha === current.sha) {
        fail = `${why}, which is not earlier than the current revision ${current.revision}`;
      } else if (target.health !== "healthy")
        fail = `${why}, whose health is ${target.health} (must be healthy)`;
      if (target && action) {
        if (target.sha !== null) action.to_sha = target.sha;
        else if (ra.to_sha !== undefined) action.to_sha = ra.to_sha;
        action.to_revision = target.revision;
      } else if (action && ra.to_sha !== undefined) {
        action.to_sha = ra.to_sha;
      }
      rules.push(
        rule(
          "rollback_target",
          fail === null,
          fail ??
            `${why}: ${target?.sha} deployed ${target?.deployed_at}, healthy, earlier than ${current.revision}`,
        ),
      );
    }
  }

  // rollback_newest_healthy + deploy_within_window
  if (ra.type !== "rollback") {
    rules.push(rule("rollback_newest_healthy", true, `n/a for ${ra.type}`));
    rules.push(rule("deploy_within_window", true, `n/a for ${ra.type}`));
  } else {
    const current = onWorkload ? currentRevision(s.rollout_history) : null;
    if (!current) {
      const why = onWorkload
        ? "no current revision in the rollout history"
        : "the rollback targets another workload than the signals' history";
      rules.push(rule("rollback_newest_healthy", false, why));
      rules.push(rule("deploy_within_window", false, why));
    } else {
      const newest = newestHealthyBefore(s.rollout_history, current);
      const chosen = action?.to_revision;
      const isNewest = newest !== null && chosen === newest.revision;
      rules.push(
        rule(
          "rollback_newest_healthy",
          isNewest,
          newest === null
            ? `no healthy revision before the current revision ${current.revision}`
            : isNewest
              ? `revision ${newest.revision} (${newest.sha}) is the newest healthy revision before ${current.revision}`
              : `the newest healthy revision before ${current.revision} is ${newest.revision} (${newest.sha}), not ${chosen ?? "an unresolved target"}${ra.to_sha !== undefined ? ` (to_sha ${ra.to_sha})` : ""}: an older target needs a human's approval`,
        ),
      );
      rules.push(deployWindowRule(current, ctx.onset, policy));
    }
  }

  // restart_needs_unhealthy
  if (ra.type !== "restart") {
    rules.push(rule("restart_needs_unhealthy", true, `n/a for ${ra.type}`));
  } else {
    const st = workloadState(s);
    const short = w.replicas.ready < w.replicas.desired;
    const ok = onWorkload && (st.unhealthyPods.length > 0 || short);
    rules.push(
      rule(
        "restart_needs_unhealthy",
        ok,
        !onWorkload
          ? "the restart targets another workload than the signals'"
          : ok
            ? `${st.unhealthyPods.length} unhealthy pod(s), ${w.replicas.ready}/${w.replicas.desired} ready`
            : `every pod is ready (${w.replicas.ready}/${w.replicas.desired}); a restart would only disturb`,
      ),
    );
  }

  // action_matches_evidence
  const ref = parseResourceRef(d.suspected_resource);
  const target = `${ra.namespace}/${canonicalKind(ra.kind)}/${ra.name}`;
  const sameAsSuspected =
    ref !== null &&
    ref.namespace === ra.namespace &&
    ref.name === ra.name &&
    ref.kind.toLowerCase() === ra.kind.toLowerCase();
  const sameAsSignals = onWorkload && w.kind.toLowerCase() === ra.kind.toLowerCase();
  rules.push(
    rule(
      "action_matches_evidence",
      sameAsSuspected && sameAsSignals,
      sameAsSuspected && sameAsSignals
        ? `${target} is the suspected resource and the signals' workload`
        : `${target} ≠ ${sameAsSuspected ? `signals' workload ${w.namespace}/${w.kind}/${w.name}` : `suspected ${d.suspected_resource}`}`,
    ),
  );
  return { rules, action };
}

/** `deploy_within_window` for the revision a rollback undoes (see {@link checkActionRules}). */
function deployWindowRule(current: RolloutRevision, onset: Date | undefined, policy: Policy): RuleResult {
  const limit = policy.rollback.max_deploy_age_before_onset;
  const windowMs = durationMs(limit);
  const onsetMs = onset?.getTime() ?? Number.NaN;
  const deployedMs = Date.parse(current.deployed_at);
  if (Number.isNaN(onsetMs)) return rule("deploy_within_window", false, "the incident's onset is unknown");
  if (Number.isNaN(deployedMs)) {
    return rule("deploy_within_window", false, `revision ${current.revision} has no deploy time`);
  }
  const before = onsetMs - deployedMs;
  const ref = `revision ${current.revision} (${current.sha}) went live ${current.deployed_at}`;
  if (before < -ONSET_GRACE_MS) {
    return rule(
      "deploy_within_window",
      false,
      `${ref}, ${Math.round(-before / 60_000)} min after the onset ${new Date(onsetMs).toISOString()}: it did not start this incident`,
    );
  }
  if (before > windowMs) {
    return rule(
      "deploy_within_window",
      false,
      `${ref}, ${formatAge(before)} before the onset ${new Date(onsetMs).toISOString()} (limit ${limit}): a deploy that old is not what broke now, so a rollback is not the fix`,
    );
  }
  return rule(
    "deploy_within_window",
    true,
    `${ref}, ${formatAge(Math.max(0, before))} before the onset (limit ${limit})`,
  );
}

function formatAge(ms: number): string {
  const min = Math.round(ms / 60_000);
  if (min < 120) return `${min} min`;
  const h = ms / 3_600_000;
  return h < 48 ? `${h.toFixed(1)} h` : `${(h / 24).toFixed(1)} days`;
}

/**
 * The whole action gate: {@link checkActionRules}, then — only when every rule passed and there is an
 * action — the injected server-side dry-run as rule `server_dry_run` (a throw or `ok: false` fails it).
 * When a rule already failed the dry-run is skipped and not listed. Never throws.
 */
export async function runActionGate(
  d: Diagnosis,
  s: Signals,
  policy: Policy,
  ctx: ActionGateContext & { dryRun: DryRunFn },
): Promise<ActionVerdict> {
  const { rules, action } = checkActionRules(d, s, policy, ctx);
  if (!action || !rules.every((r) => r.passed)) return { passed: false, action, rules };
  let dry: { ok: boolean; error: string | null };
  try {
    dry = await ctx.dryRun(action);
  } catch (err) {
    dry = { ok: false, error: errorMessage(err) };
  }
  const ok = dry.ok === true;
  rules.push(
    rule(
      "server_dry_run",
      ok,
      ok
        ? "the API server accepted the change (dryRun=All)"
        : `dry-run refused: ${dry.error ?? "no reason given"}`,
    ),
  );
  return { passed: ok, action, rules };
}
