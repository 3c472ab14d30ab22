import type { RecommendedAction } from "../../contracts/diagnosis.js";
import type { ActionRecord, RuleResult } from "../../contracts/events.js";
import { canonicalKind, isProtected, type Policy } from "../policy.js";
import { type NamedRule, namedRule, outcome, runRules } from "../rule-table.js";
import type { HardRuleContext } from "./types.js";

/** Kinds the write path knows (src/actions/): apps/v1 Deployment and StatefulSet. */
const WORKLOAD_KINDS = new Set(["Deployment", "StatefulSet"]);

/**
 * One Kubernetes object name: a DNS-1123 subdomain for the workload, a DNS-1123 label for the namespace
 * (https://kubernetes.io/docs/concepts/overview/working-with-objects/names/). No wildcards, lists or
 * selectors can pass these.
 */
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** What every hard rule reads: the action (a recommendation or a record awaiting approval), the policy, the facts. */
export interface HardRuleInput {
  action: ActionRecord | RecommendedAction;
  policy: Policy;
  ctx: HardRuleContext;
}

type HardRule = NamedRule<HardRuleInput>;

/** `type_allowed`: the action type is in `policy.allowed_actions`. */
const typeAllowed: HardRule = namedRule("type_allowed", ({ action: a, policy }) => {
  const allowed = (policy.allowed_actions as readonly string[]).includes(a.type);
  return outcome(
    allowed,
    allowed
      ? `${a.type} is allowed`
      : `${a.type} is not an allowed action (${policy.allowed_actions.join(", ")})`,
  );
});

/** `not_protected`: neither the claimed nor the actual kind is protected, and the namespace's labels are known. */
const notProtected: HardRule = namedRule("not_protected", ({ action: a, policy, ctx }) => {
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
  return outcome(
    !prot.protected,
    prot.protected ? `protected: ${prot.why}` : `${a.namespace}/${a.kind}/${a.name} is not protected`,
  );
});

/** `single_workload`: one namespace name, one object name, kind Deployment or StatefulSet. */
const singleWorkload: HardRule = namedRule("single_workload", ({ action: a }) => {
  const kind = canonicalKind(a.kind);
  const single: string[] = [];
  if (!DNS1123_LABEL.test(a.namespace)) single.push(`namespace "${a.namespace}" is not one namespace name`);
  if (!DNS1123_SUBDOMAIN.test(a.name)) single.push(`name "${a.name}" is not one object name`);
  if (!WORKLOAD_KINDS.has(kind)) single.push(`kind "${a.kind}" is not Deployment or StatefulSet`);
  return outcome(
    single.length === 0,
    single.length === 0 ? `one workload: ${a.namespace}/${kind}/${a.name}` : single.join("; "),
  );
});

/** `no_wide_scope`: `scope` absent or the workload's own name. */
const noWideScope: HardRule = namedRule("no_wide_scope", ({ action: a }) => {
  const scope = "scope" in a ? a.scope : undefined;
  const scopeOk = scope === undefined || scope === a.name;
  return outcome(
    scopeOk,
    scope === undefined
      ? "no scope"
      : scopeOk
        ? `scope is the workload itself (${scope})`
        : `scope "${scope}" is wider than the workload ${a.name}${/[=,!*]|^all$/i.test(scope) ? " (selector, list or wildcard)" : ""}`,
  );
});

/** `replicas_bounds`: a scale's replicas are an integer within the policy's bounds around the current count. */
const replicasBounds: HardRule = namedRule("replicas_bounds", ({ action: a, policy, ctx }) => {
  if (a.type !== "scale") return outcome(true, `n/a for ${a.type}`);
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
  return outcome(
    why === null,
    why ?? `replicas ${r} within [${min}, ×${policy.replicas.max_factor} of ${cur}]`,
  );
});

/** The HARD rules in order; their ids are exactly `HARD_RULES` (a test holds the two together). */
export const HARD_RULE_TABLE: readonly HardRule[] = [
  typeAllowed,
  notProtected,
  singleWorkload,
  noWideScope,
  replicasBounds,
];

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
  return runRules(HARD_RULE_TABLE, { action: a, policy, ctx });
}
