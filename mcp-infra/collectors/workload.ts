import { LAST_APPLIED_ANNOTATION, REVISION_ANNOTATION } from "../../src/contracts/k8s.js";
import type { WorkloadSignal } from "../../src/contracts/signals.js";
import { BackstopError } from "../../src/errors.js";
import { apiStatus, k8sError } from "../k8s.js";
import { type InfraContext, type LiveWorkload, templateImage } from "./context.js";
import { cut, LIMITS } from "./limits.js";
import { newTally, sanitizeDeep } from "./sanitize.js";

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
const SKIPPED_ANNOTATIONS = new Set([LAST_APPLIED_ANNOTATION, REVISION_ANNOTATION]);

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
 * `annotationValueChars` — and without {@link SKIPPED_ANNOTATIONS} (the keys {@link selectAnnotations} picks).
 */
export function boundedAnnotations(annotations: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(selectAnnotations(annotations))) {
    out[cut(k, LIMITS.annotationKeyChars)] = cut(v, LIMITS.annotationValueChars);
  }
  return out;
}
