/**
 * The one PATCH of each action, built against the Deployment as read: restart (strategic merge patch),
 * scale (merge patch, RFC 7386) and rollback (JSON patch, RFC 6902, as `kubectl rollout undo`).
 */
import { PatchStrategy, type V1Deployment, type V1ReplicaSet } from "@kubernetes/client-node";
import {
  DESIRED_REPLICAS_ANNOTATION,
  LAST_ACTION_ANNOTATION,
  LAST_APPLIED_ANNOTATION,
  MAX_REPLICAS_ANNOTATION,
  POD_TEMPLATE_HASH_LABEL,
  RESTARTED_AT_ANNOTATION,
  REVISION_ANNOTATION,
  REVISION_HISTORY_ANNOTATION,
} from "../../contracts/k8s.js";
import { BackstopError } from "../../errors.js";
import { imageMatchesSha, plainTemplate, revisionOf, templatesEqualIgnoringHash } from "../k8s.js";
import type { ValidAction } from "./validate.js";

/**
 * Annotations kubectl keeps from the Deployment and never copies from the ReplicaSet when rolling back
 * (`annotationsToSkip` in kubectl `pkg/polymorphichelpers/rollback.go`).
 */
const ROLLBACK_ANNOTATIONS_TO_SKIP = new Set([
  LAST_APPLIED_ANNOTATION,
  REVISION_ANNOTATION,
  REVISION_HISTORY_ANNOTATION,
  DESIRED_REPLICAS_ANNOTATION,
  MAX_REPLICAS_ANNOTATION,
  "deprecated.deployment.rollback.to",
]);

/** One PATCH, ready to send. `noop` when the Deployment already is in the wanted state (kubectl's "skipped rollback"). */
export interface Plan {
  strategy: PatchStrategy;
  body: unknown;
  revision: number | null;
  noop: boolean;
}

/** RFC 3339 without fractional seconds, as kubectl writes `restartedAt` (Go `time.RFC3339`). */
function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** The highest-revision ReplicaSet whose containers run an image built from `sha`, or null. */
export function findShaRevision(
  owned: V1ReplicaSet[],
  sha: string,
): { revision: number; image: string } | null {
  let best: { revision: number; image: string } | null = null;
  for (const rs of owned) {
    const revision = revisionOf(rs);
    if (revision === null) continue;
    const image = (rs.spec?.template?.spec?.containers ?? [])
      .map((c) => c.image ?? "")
      .find((img) => imageMatchesSha(img, sha));
    if (image !== undefined && (best === null || revision > best.revision)) best = { revision, image };
  }
  return best;
}

/**
 * The ReplicaSet to roll back to: `to_revision`; else the revision running `to_sha`; else the previous
 * revision (second highest), as `kubectl rollout undo` without `--to-revision`.
 * @throws BackstopError `action.revision_not_found`.
 */
function pickRollbackTarget(owned: V1ReplicaSet[], a: ValidAction): V1ReplicaSet {
  const byRevision = (rev: number): V1ReplicaSet | undefined => owned.find((rs) => revisionOf(rs) === rev);
  const where = `${a.namespace}/${a.name}`;
  if (a.to_revision !== undefined) {
    const rs = byRevision(a.to_revision);
    if (!rs)
      throw new BackstopError("action.revision_not_found", `revision ${a.to_revision} not found in ${where}`);
    return rs;
  }
  if (a.to_sha !== undefined) {
    const found = findShaRevision(owned, a.to_sha);
    const rs = found ? byRevision(found.revision) : undefined;
    if (!rs) {
      throw new BackstopError(
        "action.revision_not_found",
        `no revision of ${where} runs deploy SHA ${a.to_sha}`,
      );
    }
    return rs;
  }
  const sorted = owned
    .filter((rs) => revisionOf(rs) !== null)
    .sort((x, y) => (revisionOf(y) ?? 0) - (revisionOf(x) ?? 0));
  const previous = sorted[1];
  if (!previous)
    throw new BackstopError("action.revision_not_found", `no rollout history to roll back to in ${where}`);
  return previous;
}

/** What {@link planAction} needs besides the action: the wall clock (for `restartedAt`) and the Deployment's ReplicaSets (for rollback). */
export interface PlanContext {
  clock: () => Date;
  listOwned: () => Promise<V1ReplicaSet[]>;
}

/**
 * Builds the action's PATCH against the Deployment as read, carrying its `metadata.resourceVersion`
 * (a concurrent change → 409) and `backstop.dev/last-action: <key>`.
 * @throws BackstopError `action.failed` (no resourceVersion), `action.out_of_bounds` (scale outside
 *   1..2×current `spec.replicas`), `action.paused`, `action.revision_not_found`.
 */
export async function planAction(
  a: ValidAction,
  key: string,
  dep: V1Deployment,
  ctx: PlanContext,
): Promise<Plan> {
  const resourceVersion = dep.metadata?.resourceVersion;
  if (!resourceVersion) {
    throw new BackstopError("action.failed", `Deployment ${a.namespace}/${a.name} has no resourceVersion`, {
      details: { status: null, changed: false },
    });
  }
  const metadata = { resourceVersion, annotations: { [LAST_ACTION_ANNOTATION]: key } };
  switch (a.type) {
    case "restart":
      return {
        strategy: PatchStrategy.StrategicMergePatch,
        body: {
          metadata,
          spec: {
            template: { metadata: { annotations: { [RESTARTED_AT_ANNOTATION]: rfc3339(ctx.clock()) } } },
          },
        },
        revision: null,
        noop: false,
      };
    case "scale": {
      const current = dep.spec?.replicas ?? 1;
      const n = a.replicas;
      if (n === undefined || n < 1 || n > 2 * current) {
        throw new BackstopError(
          "action.out_of_bounds",
          `scale of ${a.namespace}/${a.name} to ${n ?? "(missing)"} refused: allowed 1..${2 * current} (current ${current})`,
          { details: { replicas: n ?? null, current, min: 1, max: 2 * current } },
        );
      }
      return {
        strategy: PatchStrategy.MergePatch,
        body: { metadata, spec: { replicas: n } },
        revision: null,
        noop: false,
      };
    }
    case "rollback":
      return planRollback(a, key, dep, resourceVersion, ctx);
  }
}

async function planRollback(
  a: ValidAction,
  key: string,
  dep: V1Deployment,
  resourceVersion: string,
  ctx: PlanContext,
): Promise<Plan> {
  if (dep.spec?.paused) {
    throw new BackstopError(
      "action.paused",
      `cannot roll back paused Deployment ${a.namespace}/${a.name}; it must be resumed first`,
    );
  }
  const owned = await ctx.listOwned();
  const target = pickRollbackTarget(owned, a);
  const revision = revisionOf(target) ?? null;
  if (templatesEqualIgnoringHash(target.spec?.template, dep.spec?.template)) {
    return { strategy: PatchStrategy.JsonPatch, body: [], revision, noop: true };
  }
  const template = plainTemplate(target.spec?.template ?? {});
  const meta = (template.metadata ?? {}) as {
    labels?: Record<string, string>;
    creationTimestamp?: unknown;
  };
  if (meta.labels) delete meta.labels[POD_TEMPLATE_HASH_LABEL];
  delete meta.creationTimestamp;
  template.metadata = meta;
  const annotations: Record<string, string> = { ...(dep.metadata?.annotations ?? {}) };
  for (const [k, v] of Object.entries(target.metadata?.annotations ?? {})) {
    if (!ROLLBACK_ANNOTATIONS_TO_SKIP.has(k)) annotations[k] = v;
  }
  annotations[LAST_ACTION_ANNOTATION] = key;
  return {
    strategy: PatchStrategy.JsonPatch,
    body: [
      { op: "replace", path: "/metadata/resourceVersion", value: resourceVersion },
      { op: "replace", path: "/spec/template", value: template },
      { op: "add", path: "/metadata/annotations", value: annotations },
    ],
    revision,
    noop: false,
  };
}
