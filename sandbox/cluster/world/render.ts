import {
  DESIRED_REPLICAS_ANNOTATION,
  MAX_REPLICAS_ANNOTATION,
  POD_TEMPLATE_HASH_LABEL,
  REVISION_ANNOTATION,
  REVISION_HISTORY_ANNOTATION,
} from "../../../src/contracts/k8s.js";
import { k8sTime } from "../util.js";
import type { WorldState } from "./state.js";
import { isObj, key, strMap, templateLabels } from "./template.js";
import type { DeployState, NsState, Obj, RsState, StsState } from "./types.js";

/**
 * Renders stored workloads as their API objects at an instant `at` (epoch ms), shapes per the Kubernetes API
 * reference: apps/v1 Deployment (with `status.conditions` Available/Progressing as the Deployment controller
 * sets them), ReplicaSet, StatefulSet, autoscaling/v1 Scale and core/v1 Namespace.
 */

/** Counts of a set of pods: all, ready at `at`. */
function readyCount(
  st: WorldState,
  ns: string,
  ownerUid: string,
  at: number,
): { total: number; ready: number } {
  const pods = st.podsOwnedBy(ns, ownerUid);
  return { total: pods.length, ready: pods.filter((p) => st.podView(p, at).ready).length };
}

/** The `status` of a Deployment at `at`. */
export function deployStatus(st: WorldState, d: DeployState, at: number): Obj {
  const desired = Number(d.spec.replicas ?? 1);
  const current = st.currentRs(d);
  let total = 0;
  let ready = 0;
  let updated = 0;
  for (const rs of st.rsOf(d)) {
    const counts = readyCount(st, d.ns, rs.uid, at);
    total += counts.total;
    ready += counts.ready;
    if (rs === current) updated += counts.total;
  }
  const maxUnavailable = Math.floor(desired * 0.25);
  const availableOk = ready >= desired - maxUnavailable;
  const changed = k8sTime(d.rolloutChangedAt);
  const progressingDone = !d.rollout && current !== undefined && updated === desired && ready >= desired;
  return {
    observedGeneration: d.generation,
    replicas: total,
    updatedReplicas: updated,
    readyReplicas: ready,
    availableReplicas: ready,
    ...(desired - ready > 0 ? { unavailableReplicas: desired - ready } : {}),
    conditions: [
      {
        type: "Available",
        status: availableOk ? "True" : "False",
        lastUpdateTime: changed,
        lastTransitionTime: changed,
        reason: availableOk ? "MinimumReplicasAvailable" : "MinimumReplicasUnavailable",
        message: availableOk
          ? "Deployment has minimum availability."
          : "Deployment does not have minimum availability.",
      },
      {
        type: "Progressing",
        status: "True",
        lastUpdateTime: changed,
        lastTransitionTime: changed,
        reason: progressingDone ? "NewReplicaSetAvailable" : "ReplicaSetUpdated",
        message: progressingDone
          ? `ReplicaSet "${current?.name ?? ""}" has successfully progressed.`
          : `ReplicaSet "${current?.name ?? ""}" is progressing.`,
      },
    ],
  };
}

/** A Deployment object; its revision annotation is the current ReplicaSet's. */
export function deploymentObject(st: WorldState, d: DeployState, at: number): Obj {
  const current = st.currentRs(d);
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: {
      name: d.name,
      namespace: d.ns,
      uid: d.uid,
      resourceVersion: String(d.rv),
      generation: d.generation,
      creationTimestamp: k8sTime(d.created),
      labels: { ...d.labels },
      annotations: { ...d.annotations, [REVISION_ANNOTATION]: String(current?.revision ?? 1) },
    },
    spec: structuredClone(d.spec),
    status: deployStatus(st, d, at),
  };
}

/** A ReplicaSet object with the Deployment controller's annotations and owner reference. */
export function rsObject(st: WorldState, rs: RsState, at: number): Obj {
  const d = st.deployments.get(key(rs.ns, rs.owner));
  const { total, ready } = readyCount(st, rs.ns, rs.uid, at);
  const selector = isObj(d?.spec.selector) ? strMap(d.spec.selector.matchLabels) : {};
  const desired = Number(d?.spec.replicas ?? rs.replicas);
  return {
    apiVersion: "apps/v1",
    kind: "ReplicaSet",
    metadata: {
      name: rs.name,
      namespace: rs.ns,
      uid: rs.uid,
      resourceVersion: String(rs.rv),
      generation: 1,
      creationTimestamp: k8sTime(rs.created),
      labels: templateLabels(rs.template),
      annotations: {
        [DESIRED_REPLICAS_ANNOTATION]: String(desired),
        [MAX_REPLICAS_ANNOTATION]: String(desired + Math.ceil(desired * 0.25)),
        [REVISION_ANNOTATION]: String(rs.revision),
        ...(rs.revisionHistory.length ? { [REVISION_HISTORY_ANNOTATION]: rs.revisionHistory.join(",") } : {}),
      },
      ownerReferences: [
        {
          apiVersion: "apps/v1",
          kind: "Deployment",
          name: rs.owner,
          uid: rs.ownerUid,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: {
      replicas: rs.replicas,
      selector: { matchLabels: { ...selector, [POD_TEMPLATE_HASH_LABEL]: rs.hash } },
      template: structuredClone(rs.template),
    },
    status: {
      replicas: total,
      fullyLabeledReplicas: total,
      readyReplicas: ready,
      availableReplicas: ready,
      observedGeneration: 1,
    },
  };
}

/** A StatefulSet object with current/updated replica counts per controller revision. */
export function stsObject(st: WorldState, s: StsState, at: number): Obj {
  const pods = st.podsOwnedBy(s.ns, s.uid);
  const { ready } = readyCount(st, s.ns, s.uid, at);
  return {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: {
      name: s.name,
      namespace: s.ns,
      uid: s.uid,
      resourceVersion: String(s.rv),
      generation: s.generation,
      creationTimestamp: k8sTime(s.created),
      labels: { ...s.labels },
      annotations: { ...s.annotations },
    },
    spec: structuredClone(s.spec),
    status: {
      observedGeneration: s.generation,
      replicas: pods.length,
      readyReplicas: ready,
      availableReplicas: ready,
      currentReplicas: pods.filter((p) => p.revision === s.currentRevision).length,
      updatedReplicas: pods.filter((p) => p.revision === s.updateRevision).length,
      currentRevision: s.currentRevision,
      updateRevision: s.updateRevision,
      collisionCount: 0,
    },
  };
}

/** A Namespace object (always `Active`). */
export function nsObject(ns: NsState): Obj {
  return {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: {
      name: ns.name,
      uid: ns.uid,
      resourceVersion: String(ns.rv),
      creationTimestamp: k8sTime(ns.created),
      labels: { ...ns.labels },
    },
    spec: { finalizers: ["kubernetes"] },
    status: { phase: "Active" },
  };
}

/** The `autoscaling/v1` Scale of a Deployment (`status.selector` in label-selector string form). */
export function scaleObject(st: WorldState, d: DeployState, at: number): Obj {
  const status = deployStatus(st, d, at);
  return {
    kind: "Scale",
    apiVersion: "autoscaling/v1",
    metadata: {
      name: d.name,
      namespace: d.ns,
      uid: d.uid,
      resourceVersion: String(d.rv),
      creationTimestamp: k8sTime(d.created),
    },
    spec: { replicas: Number(d.spec.replicas ?? 1) },
    status: {
      replicas: Number(status.replicas ?? 0),
      selector: Object.entries(isObj(d.spec.selector) ? strMap(d.spec.selector.matchLabels) : {})
        .map(([k, v]) => `${k}=${v}`)
        .join(","),
    },
  };
}
