import type { CoreV1Event, V1Deployment, V1Pod, V1ReplicaSet, V1StatefulSet } from "@kubernetes/client-node";
import {
  errorRatioQuery,
  maxUnavailableQuery,
  p99LatencyQuery,
  restartsQuery,
} from "../src/contracts/promql.js";
import {
  type EventSignal,
  type LogTail,
  type MetricsSignal,
  type PodSignal,
  type RolloutRevision,
  type Signals,
  UNTRUSTED_SIGNAL_FIELDS,
  type WorkloadSignal,
} from "../src/contracts/signals.js";
import { BackstopError, errorMessage } from "../src/errors.js";
import { redactDeep, redactText } from "../src/guardrails/redact.js";
import { stripInvisible, stripInvisibleDeep } from "../src/guardrails/untrusted.js";
import { childLogger } from "../src/log.js";
import { apiStatus, iso, type K8sApis, k8sCall, k8sError, selectorString } from "./k8s.js";
import type { PrometheusClient } from "./prometheus.js";

const log = childLogger("mcp-infra");

/**
 * Bounds of `get_signals` output. Stated in the tool description; every cut is named in `truncated`.
 * Counts are items, `*_CHARS` are UTF-16 characters, `MAX_LOG_BYTES` is UTF-8 bytes over all log lines.
 */
export const LIMITS = {
  pods: 20,
  revisions: 10,
  events: 30,
  eventMessageChars: 500,
  conditionMessageChars: 300,
  logPods: 3,
  logLines: 50,
  /**
   * Lines read before the tail and redacted with it, then dropped: a secret that spans lines (a PEM
   * block) and starts before the tail is still recognised as a whole.
   */
  logContextLines: 100,
  logLineChars: 300,
  logBytes: 16 * 1024,
  /** Workload annotations shown (untrusted text), the chars of each key and value. */
  annotations: 20,
  annotationKeyChars: 253,
  annotationValueChars: 300,
  /** Chars of a container's termination message (untrusted text; the kubelet caps it at 4096 bytes). */
  terminationMessageChars: 300,
  /** 5xx ratio (0..1) from which the current revision counts as failing although its pods are Ready. */
  failingErrorRatio: 0.05,
} as const;

/** The Deployment revision annotation set by the deployment controller on Deployments and their ReplicaSets. */
export const REVISION_ANNOTATION = "deployment.kubernetes.io/revision";
/** Backstop's own deploy-SHA annotation (wins over the label and the image tag). */
export const DEPLOY_SHA_ANNOTATION = "backstop.dev/deploy-sha";
/** The recommended label for an application's version (https://kubernetes.io/docs/concepts/overview/working-with-objects/common-labels/). */
export const VERSION_LABEL = "app.kubernetes.io/version";

/** What the tools need: the Kubernetes clients (read-only credential) and, optionally, Prometheus. */
export interface InfraContext {
  apis: K8sApis;
  prometheus: PrometheusClient | null;
}

/** A workload as read from the API: exactly one of the two is set. */
export type LiveWorkload =
  | { kind: "Deployment"; obj: V1Deployment }
  | { kind: "StatefulSet"; obj: V1StatefulSet };

/** Prometheus duration syntax accepted for `window` (`30s`, `15m`, `2h`, `1d`). */
export const WINDOW_RE = /^[1-9][0-9]{0,5}(s|m|h|d)$/;

function cut(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/**
 * What the server masked and stripped while gathering one result: redaction counts per type
 * (`[REDACTED:<Type>]`, see `src/guardrails/redact.ts`) and invisible (Unicode Cf) characters per kind
 * (`src/guardrails/untrusted.ts`). Counts only, never values. Mutated as texts are sanitized.
 */
export interface SanitizeTally {
  redactions: Record<string, number>;
  invisible: Record<string, number>;
}

/** An empty {@link SanitizeTally}. */
export function newTally(): SanitizeTally {
  return { redactions: {}, invisible: {} };
}

function add(into: Record<string, number>, from: Record<string, number | undefined>): void {
  for (const [k, n] of Object.entries(from)) if (n) into[k] = (into[k] ?? 0) + n;
}

/**
 * Sanitizes one whole text BEFORE any bound cuts it: strips Unicode Cf characters, then redacts secrets
 * and PII with the pipeline's redactor; counts go into `tally`.
 * @throws BackstopError `redact.secretlint` if the secret scanner fails.
 */
export async function sanitizeText(text: string, tally: SanitizeTally): Promise<string> {
  const visible = stripInvisible(text);
  add(tally.invisible, visible.counts);
  const r = await redactText(visible.value);
  add(tally.redactions, r.counts);
  return r.value;
}

/**
 * {@link sanitizeText} over every string value of a JSON-like value (one secretlint pass); object keys
 * are kept as they are (they are field names of our own shapes here).
 * @throws BackstopError `redact.invalid` on a cyclic value, `redact.secretlint` if the scanner fails.
 */
export async function sanitizeDeep<T>(value: T, tally: SanitizeTally): Promise<T> {
  const visible = stripInvisibleDeep(value);
  add(tally.invisible, visible.counts);
  const r = await redactDeep(visible.value);
  add(tally.redactions, r.counts);
  return r.value;
}

/**
 * Cuts each condition message to `LIMITS.conditionMessageChars` and the annotations to their bounds
 * ({@link boundedAnnotations}), after sanitizing, never before.
 */
export function boundWorkload(w: WorkloadSignal): WorkloadSignal {
  return {
    ...w,
    ...(w.annotations === undefined ? {} : { annotations: boundedAnnotations(w.annotations) }),
    conditions: w.conditions.map((c) => ({
      ...c,
      message: c.message === null ? null : cut(c.message, LIMITS.conditionMessageChars),
    })),
  };
}

/**
 * The `deployment_status` result: {@link workloadSignal}, sanitized in full ({@link sanitizeDeep}),
 * then bounded ({@link boundWorkload}).
 */
export async function sanitizedWorkloadSignal(w: LiveWorkload): Promise<WorkloadSignal> {
  return boundWorkload(await sanitizeDeep(workloadSignal(w), newTally()));
}

/**
 * Reads the Deployment `name` in `namespace`, or the StatefulSet of that name when no Deployment exists.
 * @throws BackstopError `infra.namespace_not_found`, `infra.workload_not_found`
 *   (`no Deployment or StatefulSet "x" in namespace "y"`), or `k8s.*` (forbidden, unavailable, timeout).
 */
export async function readWorkload(
  ctx: InfraContext,
  namespace: string,
  name: string,
): Promise<LiveWorkload> {
  const { apis } = ctx;
  try {
    const obj = await apis.apps.readNamespacedDeployment({ name, namespace }, apis.opts);
    return { kind: "Deployment", obj };
  } catch (err) {
    if (apiStatus(err) !== 404) throw k8sError(err, `get deployments ${namespace}/${name}`, apis.timeoutMs);
  }
  try {
    const obj = await apis.apps.readNamespacedStatefulSet({ name, namespace }, apis.opts);
    return { kind: "StatefulSet", obj };
  } catch (err) {
    if (apiStatus(err) !== 404) throw k8sError(err, `get statefulsets ${namespace}/${name}`, apis.timeoutMs);
  }
  try {
    await apis.core.readNamespace({ name: namespace }, apis.opts);
  } catch (err) {
    if (apiStatus(err) === 404) {
      throw new BackstopError("infra.namespace_not_found", `namespace "${namespace}" not found`);
    }
    // Cannot tell (e.g. no right to get namespaces): the workload is still not there.
    if (apiStatus(err) !== 403) throw k8sError(err, `get namespaces ${namespace}`, apis.timeoutMs);
  }
  throw new BackstopError(
    "infra.workload_not_found",
    `no Deployment or StatefulSet "${name}" in namespace "${namespace}"`,
  );
}

/** The main container's image of a pod template: the container named like the workload, else the first. */
function templateImage(containers: { name: string; image?: string }[] | undefined, name: string): string {
  const c = containers?.find((x) => x.name === name) ?? containers?.[0];
  return c?.image ?? "";
}

/**
 * The status summary of a live workload (`WorkloadSignal`): replicas desired/ready/available/updated, the
 * main image, the Deployment revision (annotation `deployment.kubernetes.io/revision`; null for a StatefulSet)
 * and its status conditions with their FULL messages: callers sanitize, then bound with {@link boundWorkload}.
 */
export function workloadSignal(w: LiveWorkload): WorkloadSignal {
  const meta = w.obj.metadata ?? {};
  const spec = w.obj.spec;
  const status = w.obj.status;
  const revRaw = w.kind === "Deployment" ? meta.annotations?.[REVISION_ANNOTATION] : undefined;
  const rev = revRaw === undefined ? Number.NaN : Number.parseInt(revRaw, 10);
  const conditions = (status?.conditions ?? []).map((c) => ({
    type: c.type,
    status: c.status,
    reason: c.reason ?? null,
    message: c.message ?? null,
  }));
  return {
    kind: w.kind,
    namespace: meta.namespace ?? "",
    name: meta.name ?? "",
    replicas: {
      desired: spec?.replicas ?? 1,
      ready: status?.readyReplicas ?? 0,
      available: status?.availableReplicas ?? 0,
      updated: status?.updatedReplicas ?? 0,
    },
    image: templateImage(spec?.template.spec?.containers, meta.name ?? ""),
    revision: Number.isFinite(rev) ? rev : null,
    // Full values here: they are sanitized first, then cut by boundWorkload.
    annotations: selectAnnotations(meta.annotations),
    conditions,
  };
}

/** Annotations that are not free text worth showing: the applied manifest (huge) and the revision (shown). */
const SKIPPED_ANNOTATIONS = new Set([
  "kubectl.kubernetes.io/last-applied-configuration",
  REVISION_ANNOTATION,
]);

/**
 * The annotations signals show, with their FULL values (callers sanitize, then bound with
 * {@link boundedAnnotations}): at most `LIMITS.annotations` keys in name order, without
 * {@link SKIPPED_ANNOTATIONS}.
 */
export function selectAnnotations(annotations: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  const keys = Object.keys(annotations ?? {})
    .filter((k) => !SKIPPED_ANNOTATIONS.has(k))
    .sort()
    .slice(0, LIMITS.annotations);
  for (const k of keys) out[k] = annotations?.[k] ?? "";
  return out;
}

/**
 * A workload's annotations as signals show them: untrusted free text, so bounded — at most
 * `LIMITS.annotations` keys in name order, keys cut to `annotationKeyChars`, values to
 * `annotationValueChars` — and without {@link SKIPPED_ANNOTATIONS}.
 */
export function boundedAnnotations(annotations: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  const keys = Object.keys(annotations ?? {})
    .filter((k) => !SKIPPED_ANNOTATIONS.has(k))
    .sort()
    .slice(0, LIMITS.annotations);
  for (const k of keys) {
    out[cut(k, LIMITS.annotationKeyChars)] = cut(annotations?.[k] ?? "", LIMITS.annotationValueChars);
  }
  return out;
}

/**
 * The tag of an image reference (`ghcr.io/acme/checkout:4f2a9c1` → `4f2a9c1`), ignoring a digest; null when
 * untagged. A `:` before the last `/` is a registry port, not a tag.
 */
export function imageTag(image: string): string | null {
  const noDigest = image.split("@")[0] ?? image;
  const colon = noDigest.lastIndexOf(":");
  if (colon < 0 || colon < noDigest.lastIndexOf("/")) return null;
  return noDigest.slice(colon + 1) || null;
}

interface Revision {
  revision: number;
  name: string;
  hash: string | null;
  sha: string | null;
  image: string;
  deployedAt: Date | null;
}

function rsRevision(rs: V1ReplicaSet, workload: string): Revision | null {
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
    hash: meta.labels?.["pod-template-hash"] ?? null,
    sha,
    image,
    deployedAt: meta.creationTimestamp ? new Date(meta.creationTimestamp) : null,
  };
}

function ownedBy(
  meta: { ownerReferences?: { kind: string; name: string }[]; name?: string },
  kind: string,
  name: string,
): boolean {
  const refs = meta.ownerReferences ?? [];
  if (refs.length === 0) return (meta.name ?? "").startsWith(`${name}-`);
  return refs.some((r) => r.kind === kind && r.name === name);
}

/** True when a pod is not fine: not Ready, a container waiting (CrashLoopBackOff, ImagePullBackOff), or Failed. */
function podFailing(p: PodSignal): boolean {
  return !p.ready || p.waiting_reason !== null || p.phase === "Failed";
}

function podSignal(pod: V1Pod, revisionOf: (pod: V1Pod) => string | null, workload: string): PodSignal {
  const statuses = pod.status?.containerStatuses ?? [];
  const main = statuses.find((s) => s.name === workload) ?? statuses[0];
  const waiting = statuses.find((s) => s.state?.waiting?.reason)?.state?.waiting?.reason ?? null;
  const terminated =
    statuses.find((s) => s.lastState?.terminated)?.lastState?.terminated ??
    statuses.find((s) => s.state?.terminated)?.state?.terminated;
  const readyCond = pod.status?.conditions?.find((c) => c.type === "Ready");
  const ready = readyCond
    ? readyCond.status === "True"
    : statuses.length > 0 && statuses.every((s) => s.ready);
  return {
    name: pod.metadata?.name ?? "",
    phase: pod.status?.phase ?? "Unknown",
    ready,
    restarts: statuses.reduce((n, s) => n + (s.restartCount ?? 0), 0),
    waiting_reason: waiting,
    last_termination_reason: terminated?.reason ?? null,
    last_exit_code: terminated?.exitCode ?? null,
    // Full text: collectSignals sanitizes it, then cuts it to LIMITS.terminationMessageChars.
    termination_message: terminated?.message ?? null,
    image: main?.image ?? templateImage(pod.spec?.containers, workload),
    revision: revisionOf(pod),
  };
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
 * Gathers the evidence for one workload (see `get_signals`): status, pods, rollout history with health,
 * events, log tails of failing pods (of running pods when none fails) and Prometheus metrics, all bounded by {@link LIMITS}.
 * Workload, ReplicaSets and pods are required (their failure fails the call); events, logs and metrics are
 * best effort: a failure there is named in `truncated` and the rest is returned.
 *
 * Order: every text is sanitized in FULL (Unicode Cf stripped, then secrets and PII redacted: each
 * container's log as one text, so a PEM block over many lines is one finding), and only then bounded.
 * Nothing is cut before it is redacted. `sanitized` carries the counts for the receipt.
 * @throws BackstopError from {@link readWorkload}, or `k8s.*` when listing ReplicaSets or pods fails.
 */
export async function collectSignals(
  ctx: InfraContext,
  namespace: string,
  name: string,
  window: string,
  now: Date = new Date(),
): Promise<Signals> {
  const { apis } = ctx;
  const truncated: string[] = [];
  const live = await readWorkload(ctx, namespace, name);
  const tally = newTally();
  const workload = workloadSignal(live);
  const selector = selectorString(live.obj.spec?.selector ?? {});

  const [rsList, podList] = await Promise.all([
    live.kind === "Deployment"
      ? k8sCall(apis, `list replicasets in ${namespace}`, () =>
          apis.apps.listNamespacedReplicaSet({ namespace, labelSelector: selector }, apis.opts),
        )
      : Promise.resolve(null),
    k8sCall(apis, `list pods in ${namespace}`, () =>
      apis.core.listNamespacedPod({ namespace, labelSelector: selector }, apis.opts),
    ),
  ]);

  // Rollout history (Deployment: one ReplicaSet per revision, oldest first).
  const allRevisions: Revision[] = (rsList?.items ?? [])
    .filter((rs) => ownedBy(rs.metadata ?? {}, "Deployment", name))
    .map((rs) => rsRevision(rs, name))
    .filter((r): r is Revision => r !== null)
    .sort((a, b) => a.revision - b.revision);
  const currentRev =
    workload.revision !== null && allRevisions.some((r) => r.revision === workload.revision)
      ? workload.revision
      : (allRevisions.at(-1)?.revision ?? null);
  const byHash = new Map(allRevisions.filter((r) => r.hash).map((r) => [r.hash as string, r]));
  const byRsName = new Map(allRevisions.map((r) => [r.name, r]));
  const revisionOf = (pod: V1Pod): string | null => {
    if (live.kind === "StatefulSet") return pod.metadata?.labels?.["controller-revision-hash"] ?? null;
    const hash = pod.metadata?.labels?.["pod-template-hash"];
    const owner = pod.metadata?.ownerReferences?.find((o) => o.kind === "ReplicaSet")?.name;
    const rev = (hash ? byHash.get(hash) : undefined) ?? (owner ? byRsName.get(owner) : undefined);
    return rev ? String(rev.revision) : null;
  };

  // Pods: failing first, then by name.
  const allPods = podList.items
    .map((p) => podSignal(p, revisionOf, name))
    .sort((a, b) => Number(podFailing(b)) - Number(podFailing(a)) || a.name.localeCompare(b.name));
  const pods = allPods.slice(0, LIMITS.pods);
  if (allPods.length > pods.length) truncated.push(`pods: showing ${pods.length} of ${allPods.length}`);

  // Health of each revision.
  const shown = allRevisions.slice(-LIMITS.revisions);
  if (allRevisions.length > shown.length) {
    truncated.push(`rollout_history: showing the last ${shown.length} of ${allRevisions.length} revisions`);
  }
  const rollout_history: RolloutRevision[] = await Promise.all(
    shown.map(async (r): Promise<RolloutRevision> => {
      const current = r.revision === currentRev;
      let health: RolloutRevision["health"] = "unknown";
      if (current) {
        const mine = allPods.filter((p) => p.revision === String(r.revision));
        if (mine.length > 0) health = mine.some(podFailing) ? "failing" : "healthy";
      } else if (ctx.prometheus && r.deployedAt) {
        const next = allRevisions.find((x) => x.revision > r.revision && x.deployedAt);
        const range = liveRange(r.deployedAt, next?.deployedAt ?? now);
        if (range) {
          try {
            const v = await ctx.prometheus.instant(
              maxUnavailableQuery(namespace, name, range.window),
              range.at,
            );
            if (v !== null) health = v > 0 ? "failing" : "healthy";
          } catch (err) {
            log.warn({ err: errorMessage(err), revision: r.revision }, "revision health query failed");
          }
        }
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
    rollout_history.push({
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

  const [events, logs, metrics] = await Promise.all([
    collectEvents(ctx, namespace, [name, ...shown.map((r) => r.name), ...pods.map((p) => p.name)], truncated),
    collectLogs(ctx, namespace, podList.items, allPods, truncated, tally),
    collectMetrics(ctx, namespace, name, window),
  ]);

  // Pods can be Ready while the service fails its requests: then the current revision is failing by
  // its metrics (error ratio at or above LIMITS.failingErrorRatio), not by its pods.
  if (metrics.error_ratio !== null && metrics.error_ratio >= LIMITS.failingErrorRatio) {
    for (const r of rollout_history) if (r.current) r.health = "failing";
  }

  // Everything but the logs (sanitized per container above) in one pass, then the bounds.
  const clean = await sanitizeDeep({ workload, pods, rollout_history, events, truncated }, tally);
  return {
    namespace,
    window,
    collected_at: now.toISOString(),
    workload: boundWorkload(clean.workload),
    pods: clean.pods.map((p) => ({
      ...p,
      termination_message:
        p.termination_message == null
          ? p.termination_message
          : cut(p.termination_message, LIMITS.terminationMessageChars),
    })),
    rollout_history: clean.rollout_history,
    events: clean.events.map((e) => ({ ...e, message: cut(e.message, LIMITS.eventMessageChars) })),
    logs,
    metrics,
    truncated: clean.truncated,
    sanitized: { redactions: tally.redactions, invisible: tally.invisible },
    untrusted_fields: [...UNTRUSTED_SIGNAL_FIELDS],
  };
}

async function collectEvents(
  ctx: InfraContext,
  namespace: string,
  objectNames: string[],
  truncated: string[],
): Promise<EventSignal[]> {
  const { apis } = ctx;
  const names = [...new Set(objectNames.filter(Boolean))];
  const results = await Promise.allSettled(
    names.map((n) =>
      apis.core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${n}` }, apis.opts),
    ),
  );
  const all: CoreV1Event[] = [];
  let failed = 0;
  let firstError = "";
  for (const r of results) {
    if (r.status === "fulfilled") all.push(...r.value.items);
    else {
      failed++;
      firstError ||= errorMessage(r.reason).split("\n")[0] ?? "";
    }
  }
  if (failed > 0)
    truncated.push(`events: ${failed} of ${names.length} event lists unavailable (${cut(firstError, 200)})`);
  const seen = new Set<string>();
  const mapped = all
    .filter((e) => {
      const uid = e.metadata?.uid ?? `${e.metadata?.name}`;
      if (seen.has(uid)) return false;
      seen.add(uid);
      return true;
    })
    .map(
      (e): EventSignal => ({
        type: e.type ?? "Normal",
        reason: e.reason ?? "",
        // Full text: collectSignals sanitizes it, then cuts it to LIMITS.eventMessageChars.
        message: e.message ?? "",
        object: `${e.involvedObject.kind ?? ""}/${e.involvedObject.name ?? ""}`,
        count: e.count ?? e.series?.count ?? 1,
        last_seen: iso(
          e.lastTimestamp ?? e.series?.lastObservedTime ?? e.eventTime ?? e.metadata?.creationTimestamp,
        ),
      }),
    )
    // Warnings (BackOff, FailedScheduling, Unhealthy) first, then newest first: the cap keeps the evidence.
    .sort(
      (a, b) =>
        Number(b.type === "Warning") - Number(a.type === "Warning") ||
        (b.last_seen ?? "").localeCompare(a.last_seen ?? ""),
    );
  const events = mapped.slice(0, LIMITS.events);
  if (mapped.length > events.length) {
    truncated.push(`events: showing ${events.length} of ${mapped.length} (warnings first, then newest)`);
  }
  return events;
}

async function collectLogs(
  ctx: InfraContext,
  namespace: string,
  rawPods: V1Pod[],
  pods: PodSignal[],
  truncated: string[],
  tally: SanitizeTally,
): Promise<LogTail[]> {
  const { apis } = ctx;
  // Failing pods' logs; when no pod is failing (Ready pods serving errors), the running pods' logs.
  const failingPods = pods.filter(podFailing);
  const failing = failingPods.length > 0 ? failingPods : pods;
  const chosen = failing.slice(0, LIMITS.logPods);
  if (failing.length > chosen.length)
    truncated.push(
      `logs: showing ${chosen.length} of ${failing.length} ${failingPods.length > 0 ? "failing" : "running"} pods`,
    );
  const fetched = await Promise.all(
    chosen.map(async (p) => {
      const raw = rawPods.find((x) => x.metadata?.name === p.name);
      const statuses = raw?.status?.containerStatuses ?? [];
      const bad =
        statuses.find((s) => s.state?.waiting || s.lastState?.terminated || !s.ready) ??
        statuses[0] ??
        undefined;
      const container = bad?.name ?? raw?.spec?.containers[0]?.name ?? "";
      const previous = Boolean(bad?.lastState?.terminated);
      const read = (prev: boolean) =>
        apis.core.readNamespacedPodLog(
          {
            name: p.name,
            namespace,
            container,
            previous: prev,
            tailLines: LIMITS.logContextLines + LIMITS.logLines + 1,
          },
          apis.opts,
        );
      try {
        let text: string;
        let prev = previous;
        try {
          text = await read(previous);
        } catch (err) {
          // No previous instance (400 from the API): fall back to the running container's log.
          if (!previous || apiStatus(err) !== 400) throw err;
          prev = false;
          text = await read(false);
        }
        return { pod: p.name, container, previous: prev, text };
      } catch (err) {
        truncated.push(
          `logs: ${p.name}/${container} unavailable (${cut(errorMessage(err).split("\n")[0] ?? "", 200)})`,
        );
        return null;
      }
    }),
  );
  let budget: number = LIMITS.logBytes;
  const tails: LogTail[] = [];
  // Redact each container's log as ONE text (multi-line secrets), then split, then bound.
  const texts = await Promise.all(fetched.map((f) => (f ? sanitizeText(f.text, tally) : null)));
  for (const [i, f] of fetched.entries()) {
    const text = texts[i];
    if (!f || text === null || text === undefined) continue;
    let lines = text.split("\n");
    if (lines.at(-1) === "") lines.pop();
    let cutSomething = false;
    if (lines.length > LIMITS.logLines) {
      lines = lines.slice(-LIMITS.logLines);
      cutSomething = true;
    }
    const kept: string[] = [];
    for (const line of lines) {
      const l = cut(line, LIMITS.logLineChars);
      if (l !== line) cutSomething = true;
      const bytes = Buffer.byteLength(l, "utf8") + 1;
      if (bytes > budget) {
        cutSomething = true;
        truncated.push(`logs: ${LIMITS.logBytes} bytes total reached at ${f.pod}`);
        budget = 0;
        break;
      }
      budget -= bytes;
      kept.push(l);
    }
    tails.push({
      pod: f.pod,
      container: f.container,
      previous: f.previous,
      lines: kept,
      truncated: cutSomething,
    });
    if (cutSomething && !truncated.some((t) => t.includes(f.pod))) {
      truncated.push(
        `logs: ${f.pod}/${f.container} cut to the last ${LIMITS.logLines} lines of ${LIMITS.logLineChars} chars`,
      );
    }
    if (budget === 0) break;
  }
  return tails;
}

async function collectMetrics(
  ctx: InfraContext,
  namespace: string,
  name: string,
  window: string,
): Promise<MetricsSignal> {
  const prom = ctx.prometheus;
  if (!prom) return { source: "none", error_ratio: null, p99_latency_ms: null, restarts: null };
  const [errorRatio, p99, restarts] = await Promise.allSettled([
    prom.instant(errorRatioQuery(namespace, name, window)),
    prom.instant(p99LatencyQuery(namespace, name, window)),
    prom.instant(restartsQuery(namespace, name, window)),
  ]);
  const val = (r: PromiseSettledResult<number | null>) => (r.status === "fulfilled" ? r.value : null);
  const anyOk = [errorRatio, p99, restarts].some((r) => r.status === "fulfilled");
  if (!anyOk) {
    log.warn({ err: errorMessage((errorRatio as PromiseRejectedResult).reason) }, "prometheus unavailable");
    return { source: "none", error_ratio: null, p99_latency_ms: null, restarts: null };
  }
  const p99s = val(p99);
  return {
    source: "prometheus",
    error_ratio: val(errorRatio),
    p99_latency_ms: p99s === null ? null : Math.round(p99s * 1000 * 10) / 10,
    restarts: val(restarts),
  };
}
