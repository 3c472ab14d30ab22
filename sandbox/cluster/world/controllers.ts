import { CONTROLLER_REVISION_HASH_LABEL, POD_TEMPLATE_HASH_LABEL } from "../../../src/contracts/k8s.js";
import { nameSuffix, uidFor } from "../util.js";
import type { WorldState } from "./state.js";
import { isObj, key, strMap, templateHash, templatesEqual, withoutHash } from "./template.js";
import type { DeployState, InvolvedRef, Obj, PodState, RsState, StsState } from "./types.js";

/**
 * The world's controllers, advanced lazily to an instant `at` (epoch ms). Behaviour follows the Deployment
 * controller (https://kubernetes.io/docs/concepts/workloads/controllers/deployment/): a changed pod template
 * makes a new ReplicaSet `<deploy>-<pod-template-hash>` with the next revision, or reuses the ReplicaSet whose
 * template is equal (ignoring `pod-template-hash`) and moves it to the next revision (how `kubectl rollout
 * undo` works). Pods roll from the old ReplicaSets to the new one over `cluster.rollout_seconds`; StatefulSet
 * pods roll from the highest ordinal down.
 */

/** The ReplicaSet of `d` whose template equals `template`, moved to the next revision; else a new one at 0 replicas. */
export function findOrCreateRs(st: WorldState, d: DeployState, template: Obj, at: number): RsState {
  const owned = st.rsOf(d);
  const maxRev = owned.reduce((m, r) => Math.max(m, r.revision), 0);
  const existing = owned.find((r) => templatesEqual(r.template, template));
  if (existing) {
    if (existing.revision !== maxRev) {
      existing.revisionHistory.push(existing.revision);
      existing.revision = maxRev + 1;
      existing.rv = st.nextRv();
    }
    return existing;
  }
  const revision = maxRev + 1;
  let collision = 0;
  let hash = templateHash(template);
  while (st.replicaSets.has(key(d.ns, `${d.name}-${hash}`))) hash = templateHash(template, ++collision);
  const t = structuredClone(withoutHash(template));
  const meta = isObj(t.metadata) ? t.metadata : {};
  meta.labels = { ...strMap(meta.labels), [POD_TEMPLATE_HASH_LABEL]: hash };
  t.metadata = meta;
  const rs: RsState = {
    ns: d.ns,
    name: `${d.name}-${hash}`,
    uid: uidFor(`rs/${d.ns}/${d.name}-${hash}/${at}`),
    rv: st.nextRv(),
    created: at,
    owner: d.name,
    ownerUid: d.uid,
    revision,
    revisionHistory: [],
    hash,
    template: t,
    replicas: 0,
    podSeq: 0,
  };
  st.replicaSets.set(key(rs.ns, rs.name), rs);
  return rs;
}

/** Sets a ReplicaSet's desired replicas and creates/deletes its pods to match. */
function scaleRs(st: WorldState, d: DeployState, rs: RsState, replicas: number, at: number): void {
  if (rs.replicas !== replicas) {
    const verb = replicas > rs.replicas ? "up" : "down";
    const from = rs.replicas > 0 ? ` from ${rs.replicas}` : "";
    st.recordEvent(
      at,
      st.deployRef(d),
      "ScalingReplicaSet",
      `Scaled ${verb} replica set ${rs.name} to ${replicas}${from}`,
      "Normal",
      "deployment-controller",
    );
    rs.replicas = replicas;
    rs.rv = st.nextRv();
  }
  syncRsPods(st, rs, at, false);
}

/** Creates or deletes a ReplicaSet's pods to match `rs.replicas`; `quiet` records no events (the initial world). */
export function syncRsPods(st: WorldState, rs: RsState, at: number, quiet: boolean): void {
  const pods = st.podsOwnedBy(rs.ns, rs.uid);
  if (pods.length === rs.replicas) return; // nothing to create or delete (every request reconciles)
  pods.sort((a, b) => a.created - b.created);
  const w = st.deployments.get(key(rs.ns, rs.owner))?.workload;
  if (!w) return;
  const ref: InvolvedRef = {
    kind: "ReplicaSet",
    name: rs.name,
    namespace: rs.ns,
    uid: rs.uid,
    apiVersion: "apps/v1",
  };
  while (pods.length < rs.replicas) {
    const name = `${rs.name}-${nameSuffix(`${rs.uid}/${rs.podSeq++}`)}`;
    const pod: PodState = {
      ns: rs.ns,
      name,
      uid: uidFor(`pod/${rs.ns}/${name}/${at}`),
      rv: st.nextRv(),
      created: at,
      ownerKind: "ReplicaSet",
      owner: rs.name,
      ownerUid: rs.uid,
      revision: rs.hash,
      template: structuredClone(rs.template),
      ip: st.nextIp(),
      workload: w,
    };
    st.pods.set(key(pod.ns, pod.name), pod);
    pods.push(pod);
    if (!quiet)
      st.recordEvent(at, ref, "SuccessfulCreate", `Created pod: ${name}`, "Normal", "replicaset-controller");
  }
  while (pods.length > rs.replicas) {
    // The ReplicaSet controller deletes not-ready pods first, then the newest.
    pods.sort(
      (a, b) => Number(st.podView(a, at).ready) - Number(st.podView(b, at).ready) || b.created - a.created,
    );
    const victim = pods.shift()!;
    st.killPod(victim, at);
    st.recordEvent(
      at,
      ref,
      "SuccessfulDelete",
      `Deleted pod: ${victim.name}`,
      "Normal",
      "replicaset-controller",
    );
  }
}

/** Moves a StatefulSet's rollout on and replaces each ordinal's pod whose revision is not the wanted one. */
export function syncStsPods(st: WorldState, s: StsState, at: number): void {
  const replicas = Number(s.spec.replicas ?? 0);
  let updated = replicas;
  if (s.rollout) {
    const p = st.progress(s.rollout.startedAt, at);
    updated = p >= 1 ? replicas : Math.floor(p * replicas);
    if (p >= 1) {
      s.rollout = undefined;
      s.currentRevision = s.updateRevision;
      s.rv = st.nextRv();
    }
  }
  for (const pod of st.podsOwnedBy(s.ns, s.uid)) {
    const ordinal = Number(pod.name.slice(s.name.length + 1));
    if (ordinal >= replicas) st.killPod(pod, at);
  }
  for (let i = 0; i < replicas; i++) {
    const wantRevision = i >= replicas - updated ? s.updateRevision : s.currentRevision;
    const name = `${s.name}-${i}`;
    const existing = st.pods.get(key(s.ns, name));
    if (existing && existing.revision === wantRevision) continue;
    if (existing) st.killPod(existing, at);
    const template = structuredClone(s.revisions.get(wantRevision) ?? (s.spec.template as Obj));
    const meta = isObj(template.metadata) ? template.metadata : {};
    meta.labels = {
      ...strMap(meta.labels),
      [CONTROLLER_REVISION_HASH_LABEL]: wantRevision,
      "statefulset.kubernetes.io/pod-name": name,
      "apps.kubernetes.io/pod-index": String(i),
    };
    template.metadata = meta;
    st.pods.set(key(s.ns, name), {
      ns: s.ns,
      name,
      uid: uidFor(`pod/${s.ns}/${name}/${at}/${wantRevision}`),
      rv: st.nextRv(),
      created: at,
      ownerKind: "StatefulSet",
      owner: s.name,
      ownerUid: s.uid,
      revision: wantRevision,
      template,
      ip: st.nextIp(),
      workload: s.workload,
    });
  }
}

/** Scales a Deployment's ReplicaSets for its rollout's progress at `at` (or to the current one when none runs). */
export function reconcileDeployment(st: WorldState, d: DeployState, at: number): void {
  const desired = Number(d.spec.replicas ?? 1);
  const current = st.currentRs(d);
  if (!current) return;
  if (d.rollout) {
    const p = st.progress(d.rollout.startedAt, at);
    const target = st.replicaSets.get(key(d.ns, d.rollout.target)) ?? current;
    const newCount = p >= 1 ? desired : Math.min(desired, Math.ceil(p * desired));
    let remaining = desired - newCount;
    const byName = new Map(st.rsOf(d).map((r) => [r.name, r]));
    for (const old of [...d.rollout.from].sort(
      (a, b) => (byName.get(b.name)?.revision ?? 0) - (byName.get(a.name)?.revision ?? 0),
    )) {
      const rs = byName.get(old.name);
      if (!rs || rs === target) continue;
      const n = Math.min(old.replicas, remaining);
      remaining -= n;
      scaleRs(st, d, rs, n, at);
    }
    scaleRs(st, d, target, newCount, at);
    if (p >= 1) {
      d.rollout = undefined;
      d.rolloutChangedAt = at;
      for (const rs of st.rsOf(d)) if (rs !== target) scaleRs(st, d, rs, 0, at);
    }
    return;
  }
  for (const rs of st.rsOf(d)) if (rs !== current) scaleRs(st, d, rs, 0, at);
  scaleRs(st, d, current, desired, at);
}

/**
 * Advances every controller to `now()`. Without a rollout the controllers depend on the stored state only,
 * not on the time: once a run without rollouts changed nothing (no new resourceVersion), every later run
 * changes nothing until something does (a write, a delete, a reset), so it is skipped (every request
 * reconciles first, and a large world has many workloads).
 */
export function reconcile(st: WorldState): void {
  if (st.settledRv === st.rvCounter) return;
  const before = st.rvCounter;
  const wasRolling = rolling(st);
  const at = st.now();
  for (const d of st.deployments.values()) reconcileDeployment(st, d, at);
  for (const s of st.statefulSets.values()) syncStsPods(st, s, at);
  if (!wasRolling && st.rvCounter === before) st.settledRv = before;
}

/** ms until the last running rollout ends (0 when none runs). */
export function rolloutRemainingMs(st: WorldState): number {
  const at = st.now();
  const ms = st.scenario.cluster.rollout_seconds * 1000;
  let max = 0;
  for (const w of [...st.deployments.values(), ...st.statefulSets.values()])
    if (w.rollout) max = Math.max(max, w.rollout.startedAt + ms - at);
  return Math.max(0, max);
}

/** True while a Deployment or StatefulSet rollout is in progress. */
export function rolling(st: WorldState): boolean {
  return [...st.deployments.values(), ...st.statefulSets.values()].some((w) => w.rollout);
}
