import type { RecommendedAction } from "../../contracts/diagnosis.js";
import type { ActionRecord } from "../../contracts/events.js";
import type { RolloutRevision } from "../../contracts/signals.js";
import { durationMs, type Policy } from "../policy.js";
import { findRevisionBySha } from "../quality/state.js";
import { outcome, type RuleOutcome } from "../rule-table.js";

/** Grace after the onset within which a deploy still counts as live at the onset (clock skew), ms. */
const ONSET_GRACE_MS = 120_000;

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

/**
 * Resolves a rollback's target in the history: `to_sha` if given (full or unambiguous prefix), else the
 * newest earlier healthy revision. `target` is null when nothing resolves; `why` says how it resolved.
 */
export function rollbackTarget(
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
 * The concrete typed action of a recommendation: null for `none`; the kind canonicalised by `kind`;
 * `replicas` for a scale; for a rollback whose target was looked up (`resolved` non-null), `to_sha` (the
 * history's full SHA, else the claimed one) and `to_revision`, or the claimed `to_sha` when nothing resolved.
 */
export function concreteAction(
  ra: RecommendedAction,
  kind: string,
  resolved: { target: RolloutRevision | null } | null,
): ActionRecord | null {
  if (ra.type === "none") return null;
  const action: ActionRecord = { type: ra.type, namespace: ra.namespace, kind, name: ra.name };
  if (ra.type === "scale" && ra.replicas !== undefined) action.replicas = ra.replicas;
  if (resolved === null) return action;
  const { target } = resolved;
  if (target) {
    if (target.sha !== null) action.to_sha = target.sha;
    else if (ra.to_sha !== undefined) action.to_sha = ra.to_sha;
    action.to_revision = target.revision;
  } else if (ra.to_sha !== undefined) {
    action.to_sha = ra.to_sha;
  }
  return action;
}

/**
 * `deploy_within_window` for the revision a rollback undoes: it went live no more than
 * `policy.rollback.max_deploy_age_before_onset` before `onset` and no later than 2 min after it.
 * Fails closed on an unknown onset or deploy time.
 */
export function deployWindow(current: RolloutRevision, onset: Date | undefined, policy: Policy): RuleOutcome {
  const limit = policy.rollback.max_deploy_age_before_onset;
  const windowMs = durationMs(limit);
  const onsetMs = onset?.getTime() ?? Number.NaN;
  const deployedMs = Date.parse(current.deployed_at);
  if (Number.isNaN(onsetMs)) return outcome(false, "the incident's onset is unknown");
  if (Number.isNaN(deployedMs)) return outcome(false, `revision ${current.revision} has no deploy time`);
  const before = onsetMs - deployedMs;
  const ref = `revision ${current.revision} (${current.sha}) went live ${current.deployed_at}`;
  if (before < -ONSET_GRACE_MS) {
    return outcome(
      false,
      `${ref}, ${Math.round(-before / 60_000)} min after the onset ${new Date(onsetMs).toISOString()}: it did not start this incident`,
    );
  }
  if (before > windowMs) {
    return outcome(
      false,
      `${ref}, ${formatAge(before)} before the onset ${new Date(onsetMs).toISOString()} (limit ${limit}): a deploy that old is not what broke now, so a rollback is not the fix`,
    );
  }
  return outcome(true, `${ref}, ${formatAge(Math.max(0, before))} before the onset (limit ${limit})`);
}

/** An age in ms as `N min` (under 2 h), `N.N h` (under 48 h) or `N.N days`. */
function formatAge(ms: number): string {
  const min = Math.round(ms / 60_000);
  if (min < 120) return `${min} min`;
  const h = ms / 3_600_000;
  return h < 48 ? `${h.toFixed(1)} h` : `${(h / 24).toFixed(1)} days`;
}
