import { sameJson } from "../../../src/contracts/canonical.js";
import { REVISION_ANNOTATION } from "../../../src/contracts/k8s.js";
import type { SandboxUser } from "../rbac.js";
import { StatusError } from "../status.js";
import { findOrCreateRs, reconcileDeployment, syncStsPods } from "./controllers.js";
import { deploymentObject, scaleObject, stsObject } from "./render.js";
import type { WorldState } from "./state.js";
import { firstImage, isObj, key, templateHash, templatesEqual } from "./template.js";
import type { DeployState, Obj } from "./types.js";
import {
  checkResourceVersion,
  describeChange,
  metaChange,
  validateDeploymentSpec,
  validateStatefulSetSpec,
} from "./validate.js";

/**
 * Workload writes (PATCH/PUT, after the server has applied the patch through `mutate`): validation,
 * optimistic concurrency, dry-run, then the state change, the rollout it starts and the mutation log.
 */

/**
 * A write to one workload: `mutate` gets a copy of the current object (or Scale) and returns the desired
 * one; `dryRun` validates without persisting. Returns the object as written (or as it would be).
 */
export type WorkloadWrite = (
  st: WorldState,
  ns: string,
  name: string,
  user: SandboxUser,
  verb: "patch" | "update",
  dryRun: boolean,
  mutate: (current: Obj) => Obj,
) => Obj;

/** `next` as a dry-run answer: `current` with the written spec, and the next generation when the spec changed. */
function dryRunResult(current: Obj, spec: Obj, generation: number, specChanged: boolean): Obj {
  const out = structuredClone(current);
  out.spec = structuredClone(spec);
  if (specChanged) (out.metadata as Obj).generation = generation + 1;
  return out;
}

/**
 * The common start of a workload write: the namespace must exist (404 before the object's own 404), then
 * `mutate` gets a copy of the object as rendered now and returns the desired one.
 */
function begin<T>(
  st: WorldState,
  [ns, name]: [string, string],
  [map, resource]: [Map<string, T>, string],
  render: (st: WorldState, stored: T, at: number) => Obj,
  mutate: (current: Obj) => Obj,
): { stored: T; at: number; current: Obj; meta: Obj; spec: Obj } {
  st.requireNs(ns);
  const stored = st.find(map, ns, name, resource, "apps");
  const at = st.now();
  const current = render(st, stored, at);
  const next = mutate(structuredClone(current));
  const meta = isObj(next.metadata) ? next.metadata : {};
  const spec = isObj(next.spec) ? next.spec : {};
  return { stored, at, current, meta, spec };
}

/** Persists a written spec and metadata: a new resourceVersion, the generation bumped when the spec changed. */
function persist(
  st: WorldState,
  w: {
    spec: Obj;
    labels: Record<string, string>;
    annotations: Record<string, string>;
    rv: number;
    generation: number;
  },
  spec: Obj,
  meta: { labels: Record<string, string>; annotations: Record<string, string> },
  specChanged: boolean,
): void {
  w.spec = structuredClone(spec);
  w.labels = meta.labels;
  w.annotations = meta.annotations;
  w.rv = st.nextRv();
  if (specChanged) w.generation++;
}

/**
 * Writes a Deployment: `mutate` gets the current object and returns the desired one (a patch applied or a PUT
 * body). Validates, checks `metadata.resourceVersion` (optimistic concurrency), then persists unless `dryRun`,
 * starting a rollout when the pod template changed.
 * @throws StatusError 404, 409 Conflict (stale resourceVersion), 422 Invalid (bad spec), 400 (name mismatch).
 */
export function writeDeployment(
  st: WorldState,
  ns: string,
  name: string,
  user: SandboxUser,
  verb: "patch" | "update",
  resource: "deployments" | "deployments/scale",
  dryRun: boolean,
  mutate: (current: Obj) => Obj,
): Obj {
  const target = [st.deployments, "deployments"] as [Map<string, DeployState>, string];
  const { stored: d, at, current, meta, spec } = begin(st, [ns, name], target, deploymentObject, mutate);
  if (meta.name !== undefined && meta.name !== name) {
    throw new StatusError(
      400,
      `the name of the object (${String(meta.name)}) does not match the name on the URL (${name})`,
    );
  }
  checkResourceVersion(meta, d.rv, "deployments", name);
  validateDeploymentSpec(
    d.name,
    d.spec.selector,
    spec,
    resource === "deployments/scale" ? "Scale" : "Deployment",
  );
  const templateChanged = !templatesEqual(spec.template as Obj, d.spec.template as Obj);
  const oldReplicas = Number(d.spec.replicas ?? 1);
  const newReplicas = Number(spec.replicas ?? 1);
  const specChanged = !sameJson(spec, d.spec);
  const written = metaChange(meta, d, REVISION_ANNOTATION);
  const { labels, annotations } = written;
  if (dryRun) {
    const out = dryRunResult(current, spec, d.generation, specChanged);
    const om = out.metadata as Obj & { annotations: Obj };
    om.labels = labels;
    om.annotations = { ...annotations, [REVISION_ANNOTATION]: om.annotations[REVISION_ANNOTATION] };
    return out;
  }
  if (!specChanged && !written.changed) return current;
  const summary = describeChange(d.spec, spec, d.annotations, annotations);
  persist(st, d, spec, written, specChanged);
  const tl = st.timelines.get(key(ns, name));
  if (templateChanged) {
    const from = st
      .rsOf(d)
      .filter((r) => r.replicas > 0)
      .map((r) => ({ name: r.name, replicas: r.replicas }));
    const target = findOrCreateRs(st, d, spec.template as Obj, at);
    d.rollout = { startedAt: at, target: target.name, from: from.filter((f) => f.name !== target.name) };
    d.rolloutChangedAt = at;
    tl?.push({ at, image: firstImage(spec.template), replicas: newReplicas });
  } else if (oldReplicas !== newReplicas) {
    const image = tl?.[tl.length - 1]?.image ?? firstImage(spec.template);
    tl?.push({ at, image, replicas: newReplicas });
  }
  reconcileDeployment(st, d, at);
  st.logMutation({ user, verb, resource, namespace: ns, name, kind: "Deployment", summary });
  return deploymentObject(st, d, at);
}

/**
 * Patches the Scale subresource of a Deployment (`spec.replicas` only).
 * @throws StatusError 404, 409, 422 as {@link writeDeployment}.
 */
export const writeDeploymentScale: WorkloadWrite = (st, ns, name, user, verb, dryRun, mutate) => {
  const getScale = () => scaleObject(st, st.find(st.deployments, ns, name, "deployments", "apps"), st.now());
  const scale = getScale();
  const next = mutate(structuredClone(scale));
  const nextSpec = isObj(next.spec) ? next.spec : {};
  const meta = isObj(next.metadata) ? next.metadata : {};
  const result = writeDeployment(st, ns, name, user, verb, "deployments/scale", dryRun, (d) => {
    const dm = d.metadata as Obj;
    if (meta.resourceVersion !== undefined) dm.resourceVersion = meta.resourceVersion;
    (d.spec as Obj).replicas = nextSpec.replicas;
    return d;
  });
  const out = dryRun ? { ...scale } : getScale();
  if (dryRun) out.spec = { replicas: (result.spec as Obj).replicas };
  return out;
};

/**
 * Patches a StatefulSet (e.g. the `kubectl.kubernetes.io/restartedAt` template annotation): a template change
 * makes a new controller revision and rolls the pods from the highest ordinal down.
 * @throws StatusError 404, 409, 422.
 */
export const writeStatefulSet: WorkloadWrite = (st, ns, name, user, verb, dryRun, mutate) => {
  const {
    stored: s,
    at,
    current,
    meta,
    spec,
  } = begin(st, [ns, name], [st.statefulSets, "statefulsets"], stsObject, mutate);
  checkResourceVersion(meta, s.rv, "statefulsets", name);
  validateStatefulSetSpec(name, spec);
  const specChanged = !sameJson(spec, s.spec);
  const written = metaChange(meta, s);
  if (dryRun) return dryRunResult(current, spec, s.generation, specChanged);
  if (!specChanged && !written.changed) return current;
  const summary = describeChange(s.spec, spec, s.annotations, written.annotations);
  const templateChanged = !templatesEqual(spec.template as Obj, s.spec.template as Obj);
  persist(st, s, spec, written, specChanged);
  if (templateChanged) {
    const rev = `${s.name}-${templateHash(spec.template as Obj)}`;
    s.revisions.set(rev, structuredClone(spec.template as Obj));
    s.updateRevision = rev;
    s.rollout = rev === s.currentRevision ? undefined : { startedAt: at };
    st.timelines.get(`sts:${key(ns, name)}`)?.push({
      at,
      image: firstImage(spec.template),
      replicas: Number(spec.replicas ?? 1),
    });
  }
  syncStsPods(st, s, at);
  st.logMutation({ user, verb, resource: "statefulsets", namespace: ns, name, kind: "StatefulSet", summary });
  return stsObject(st, s, at);
};
