import type { V1Pod, V1ReplicaSet } from "@kubernetes/client-node";
import {
  CONTROLLER_REVISION_HASH_LABEL,
  DEPLOY_SHA_ANNOTATION,
  POD_TEMPLATE_HASH_LABEL,
  REVISION_ANNOTATION,
  VERSION_LABEL,
} from "../../src/contracts/k8s.js";
import { maxUnavailableQuery } from "../../src/contracts/promql.js";
import type { PodSignal, RolloutRevision, WorkloadSignal } from "../../src/contracts/signals.js";
import { childLogger } from "../../src/log.js";
import { iso, k8sCall } from "../k8s.js";
import { type InfraContext, imageTag, type LiveWorkload, templateImage } from "./context.js";
import { LIMITS } from "./limits.js";
import { podFailing } from "./pods.js";

const log = childLogger("mcp-infra");

/**
 * One Deployment revision as its ReplicaSet tells it: the revision number (annotation
 * `deployment.kubernetes.io/revision`), the ReplicaSet's name and `pod-template-hash`, the deploy SHA
 * (see {@link rsRevision}), the main image and the creation time (1 s resolution).
 */
export interface ReplicaSetRevision {
  revision: number;
  name: string;
  hash: string | null;
  sha: string | null;
  image: string;
  deployedAt: Date | null;
}

/**
 * The revision a ReplicaSet holds, or null without a revision annotation. The SHA is, in order: the
 * `backstop.dev/deploy-sha` annotation (ReplicaSet, then template), the `app.kubernetes.io/version` label
 * (ReplicaSet, then template), the image tag.
 */
function rsRevision(rs: V1ReplicaSet, workload: string): ReplicaSetRevision | null {
  const meta = rs.metadata ?? {};
  const rev = Number.parseInt(meta.annotations?.[REVISION_ANNOTATION] ?? "", 10);
  if (!Number.isFinite(rev)) return null;
  const image = templateImage(rs.spec?.template?.spec?.containers, workload);
  const sha =
    meta.annotations?.[DEPLOY_SHA_ANNOTATION] ??
    rs.spec?.template?.metadata?.annotations?.[DEPLOY_SHA_ANNOTATION] ??
    meta.labels?.[VERSION_LABEL] ??
    rs.spec?.template?.metadata?.labels?.[VERSION_LABEL] ??
    imageTag(image);
  return {
    revision: rev,
    name: meta.name ?? "",
    hash: meta.labels?.[POD_TEMPLATE_HASH_LABEL] ?? null,
    sha,
    image,
    deployedAt: meta.creationTimestamp ? new Date(meta.creationTimestamp) : null,
  };
}

/** True when `meta` is owned by `kind/name` (without owner references: when its name starts with `name-`). */
function ownedBy(
  meta: { ownerReferences?: { kind: string; name: string }[]; name?: string },
  kind: string,
  name: string,
): boolean {
  const refs = meta.ownerReferences ?? [];
  if (refs.length === 0) return (meta.name ?? "").startsWith(`${name}-`);
  return refs.some((r) => r.kind === kind && r.name === name);
}

/**
 * Where and over what to evaluate `maxUnavailableQuery` for a revision live from `from` to `to` (the next
 * revision's deploy): at `to - 1s`, over a window in whole seconds that ends there and starts 1 s after `from`,
 * so neither rollout (this one's start, the next one's start) nor the previous revision is inside it.
 * creationTimestamp has 1 s resolution, hence the margins. Null when the revision was live under 3 s.
 */
export function liveRange(from: Date, to: Date): { at: Date; window: string } | null {
  const at = new Date(to.getTime() - 1000);
  const seconds = Math.floor((at.getTime() - from.getTime()) / 1000) - 1;
  return seconds >= 1 ? { at, window: `${seconds}s` } : null;
}

/**
 * The Deployment `name`'s revisions, oldest first: its ReplicaSets (listed with the workload's selector)
 * that carry a revision. A StatefulSet has none here (see {@link rolloutHistory}).
 * @throws BackstopError `k8s.*` when listing ReplicaSets fails.
 */
export async function listRevisions(
  ctx: InfraContext,
  live: LiveWorkload,
  namespace: string,
  name: string,
  selector: string,
): Promise<ReplicaSetRevision[]> {
  if (live.kind !== "Deployment") return [];
  const { apis } = ctx;
  const rsList = await k8sCall(apis, `list replicasets in ${namespace}`, () =>
    apis.apps.listNamespacedReplicaSet({ namespace, labelSelector: selector }, apis.opts),
  );
  return rsList.items
    .filter((rs) => ownedBy(rs.metadata ?? {}, "Deployment", name))
    .map((rs) => rsRevision(rs, name))
    .filter((r): r is ReplicaSetRevision => r !== null)
    .sort((a, b) => a.revision - b.revision);
}

/**
 * Which revision a pod belongs to: a StatefulSet pod's `controller-revision-hash`; a Deployment pod's
 * revision number, found by its `pod-template-hash` or its owning ReplicaSet; null when unknown.
 */
export function revisionResolver(
  live: LiveWorkload,
  revisions: ReplicaSetRevision[],
): (pod: V1Pod) => string | null {
  const byHash = new Map(revisions.filter((r) => r.hash).map((r) => [r.hash as string, r]));
  const byRsName = new Map(revisions.map((r) => [r.name, r]));
  return (pod: V1Pod): string | null => {
    if (live.kind === "StatefulSet") return pod.metadata?.labels?.[CONTROLLER_REVISION_HASH_LABEL] ?? null;
    const hash = pod.metadata?.labels?.[POD_TEMPLATE_HASH_LABEL];
    const owner = pod.metadata?.ownerReferences?.find((o) => o.kind === "ReplicaSet")?.name;
    const rev = (hash ? byHash.get(hash) : undefined) ?? (owner ? byRsName.get(owner) : undefined);
    return rev ? String(rev.revision) : null;
  };
}

/**
 * The health of a past revision from Prometheus: `failing` when `maxUnavailableQuery` over the time it was
 * live (until the next revision's deploy, or `now`) is above 0, `healthy` at 0, `unknown` without
 * Prometheus, a deploy time or an answer (a failed query is logged, not thrown).
 */
async function pastRevisionHealth(
  ctx: InfraContext,
  namespace: string,
  name: string,
  r: ReplicaSetRevision,
  all: ReplicaSetRevision[],
  now: Date,
): Promise<RolloutRevision["health"]> {
  if (!ctx.prometheus || !r.deployedAt) return "unknown";
  const next = all.find((x) => x.revision > r.revision && x.deployedAt);
  const range = liveRange(r.deployedAt, next?.deployedAt ?? now);
  if (!range) return "unknown";
  try {
    const v = await ctx.prometheus.instant(maxUnavailableQuery(namespace, name, range.window), range.at);
    if (v !== null) return v > 0 ? "failing" : "healthy";
  } catch (err) {
    log.warn({ err, revision: r.revision }, "revision health query failed");
  }
  return "unknown";
}

/** The revisions the rollout history shows (their events are collected too): the last `LIMITS.revisions`. */
export function shownRevisions(allRevisions: ReplicaSetRevision[]): ReplicaSetRevision[] {
  return allRevisions.slice(-LIMITS.revisions);
}

/**
 * The rollout history signals show: `shown`, the caller's {@link shownRevisions} of `all` (a cut is
 * named in `truncated`), each with its health — the current one (the workload's revision, else the
 * newest) by its pods (any failing: `failing`), the others by {@link pastRevisionHealth} — or, for a StatefulSet, one
 * current entry (generation, SHA from annotation, version label or image tag; health by its pods).
 * Never throws.
 */
export async function rolloutHistory(
  ctx: InfraContext,
  target: { live: LiveWorkload; workload: WorkloadSignal; namespace: string; name: string },
  revisions: { all: ReplicaSetRevision[]; shown: ReplicaSetRevision[] },
  allPods: PodSignal[],
  now: Date,
  truncated: string[],
): Promise<RolloutRevision[]> {
  const { all: allRevisions, shown } = revisions;
  const { live, workload, namespace, name } = target;
  const currentRev =
    workload.revision !== null && allRevisions.some((r) => r.revision === workload.revision)
      ? workload.revision
      : (allRevisions.at(-1)?.revision ?? null);
  if (allRevisions.length > shown.length) {
    truncated.push(`rollout_history: showing the last ${shown.length} of ${allRevisions.length} revisions`);
  }
  const history: RolloutRevision[] = await Promise.all(
    shown.map(async (r): Promise<RolloutRevision> => {
      const current = r.revision === currentRev;
      let health: RolloutRevision["health"] = "unknown";
      if (current) {
        const mine = allPods.filter((p) => p.revision === String(r.revision));
        if (mine.length > 0) health = mine.some(podFailing) ? "failing" : "healthy";
      } else {
        health = await pastRevisionHealth(ctx, namespace, name, r, allRevisions, now);
      }
      return {
        revision: r.revision,
        sha: r.sha,
        image: r.image,
        deployed_at: iso(r.deployedAt) ?? "",
        current,
        health,
      };
    }),
  );
  if (live.kind === "StatefulSet") {
    const sts = live.obj;
    history.push({
      revision: sts.status?.observedGeneration ?? sts.metadata?.generation ?? 1,
      sha:
        sts.metadata?.annotations?.[DEPLOY_SHA_ANNOTATION] ??
        sts.spec?.template.metadata?.labels?.[VERSION_LABEL] ??
        imageTag(workload.image),
      image: workload.image,
      deployed_at: iso(sts.metadata?.creationTimestamp) ?? "",
      current: true,
      health: allPods.length === 0 ? "unknown" : allPods.some(podFailing) ? "failing" : "healthy",
    });
  }
  return history;
}
