import type { ScenarioEvent, WorkloadSpec } from "../../../scenarios/schema.js";
import { imageRef } from "../../../scenarios/schema.js";
import { uidFor } from "../util.js";
import { findOrCreateRs, syncRsPods, syncStsPods } from "./controllers.js";
import type { WorldState } from "./state.js";
import { hex8, key, templateHash } from "./template.js";
import type { DeployState, InvolvedRef, Obj, RsState, StsState, TimelineEntry } from "./types.js";

/**
 * Builds the initial world from its scenario: the namespaces (declared ones, then any a workload names),
 * one ReplicaSet per Deployment history entry (revision = index+1, only the last scaled up), one controller
 * revision per StatefulSet, their pods, and the scenario's custom events.
 */
export function buildWorld(st: WorldState): void {
  const { scenario } = st;
  const addNs = (name: string, labels: Record<string, string> = {}) =>
    st.namespaces.set(name, {
      name,
      labels: { "kubernetes.io/metadata.name": name, ...labels },
      uid: uidFor(`ns/${name}`),
      rv: st.nextRv(),
      created: st.start - 30 * 86_400_000,
    });
  for (const ns of scenario.cluster.namespaces) addNs(ns.name, ns.labels);
  for (const w of scenario.cluster.workloads) {
    for (const e of w.history)
      if (!st.profiles.has(imageRef(w, e))) st.profiles.set(imageRef(w, e), e.health);
  }
  for (const w of scenario.cluster.workloads) {
    if (!st.namespaces.has(w.namespace)) addNs(w.namespace);
    if (w.kind === "Deployment") initDeployment(st, w);
    else initStatefulSet(st, w);
  }
  for (const e of scenario.cluster.events) addScenarioEvent(st, e);
}

/** The pod template the sandbox gives a workload's image (one container, port 8080, kubectl's defaults). */
function baseTemplate(w: WorkloadSpec, image: string): Obj {
  const labels = w.labels ?? { app: w.name };
  return {
    metadata: { labels: { ...labels } },
    spec: {
      containers: [
        {
          name: w.container ?? w.name,
          image,
          imagePullPolicy: "IfNotPresent",
          ports: [{ containerPort: 8080, name: "http", protocol: "TCP" }],
          resources: { limits: { memory: "512Mi" }, requests: { cpu: "100m", memory: "256Mi" } },
          terminationMessagePath: "/dev/termination-log",
          terminationMessagePolicy: "File",
        },
      ],
      restartPolicy: "Always",
      terminationGracePeriodSeconds: 30,
      dnsPolicy: "ClusterFirst",
      schedulerName: "default-scheduler",
    },
  };
}

/** The fields a Deployment and a StatefulSet built from `w` share (`uid` seeded by `kind`). */
function workloadBase(st: WorldState, w: WorkloadSpec, kind: "deploy" | "sts") {
  return {
    ns: w.namespace,
    name: w.name,
    uid: uidFor(`${kind}/${key(w.namespace, w.name)}`),
    rv: 0,
    generation: w.history.length,
    created: st.start - w.history[0]!.minutes_ago * 60_000,
    labels: { ...(w.labels ?? { app: w.name }) },
    annotations: { ...(w.annotations ?? {}) },
    rollout: undefined,
    workload: w,
  };
}

function initDeployment(st: WorldState, w: WorkloadSpec): void {
  const k = key(w.namespace, w.name);
  const last = w.history[w.history.length - 1]!;
  const base = workloadBase(st, w, "deploy");
  const d: DeployState = {
    ...base,
    spec: {
      replicas: w.replicas,
      selector: { matchLabels: { ...base.labels } },
      template: baseTemplate(w, imageRef(w, last)),
      strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: "25%", maxUnavailable: "25%" } },
      revisionHistoryLimit: 10,
      progressDeadlineSeconds: 600,
    },
    rolloutChangedAt: st.start - last.minutes_ago * 60_000,
  };
  st.deployments.set(k, d);
  const timeline: TimelineEntry[] = [];
  let prev: RsState | undefined;
  const scaled = (at: number, message: string) =>
    st.recordEvent(at, st.deployRef(d), "ScalingReplicaSet", message, "Normal", "deployment-controller");
  w.history.forEach((e, i) => {
    const at = st.start - e.minutes_ago * 60_000;
    const rs = findOrCreateRs(st, d, baseTemplate(w, imageRef(w, e)), at);
    if (prev && prev !== rs) scaled(at, `Scaled down replica set ${prev.name} to 0 from ${w.replicas}`);
    scaled(at, `Scaled up replica set ${rs.name} to ${w.replicas}`);
    for (const other of st.rsOf(d)) other.replicas = 0;
    if (i === w.history.length - 1) rs.replicas = w.replicas;
    timeline.push({ at, image: imageRef(w, e), replicas: w.replicas });
    prev = rs;
  });
  st.timelines.set(k, timeline);
  d.rv = st.nextRv();
  const current = st.currentRs(d);
  if (current) syncRsPods(st, current, st.start - last.minutes_ago * 60_000, true);
}

function initStatefulSet(st: WorldState, w: WorkloadSpec): void {
  const k = key(w.namespace, w.name);
  const last = w.history[w.history.length - 1]!;
  const template = baseTemplate(w, imageRef(w, last));
  const rev = `${w.name}-${templateHash(template)}`;
  const base = workloadBase(st, w, "sts");
  const s: StsState = {
    ...base,
    spec: {
      replicas: w.replicas,
      serviceName: w.name,
      selector: { matchLabels: { ...base.labels } },
      template,
      podManagementPolicy: "OrderedReady",
      updateStrategy: { type: "RollingUpdate", rollingUpdate: { partition: 0 } },
      revisionHistoryLimit: 10,
    },
    currentRevision: rev,
    updateRevision: rev,
    revisions: new Map([[rev, template]]),
  };
  st.statefulSets.set(k, s);
  st.timelines.set(
    `sts:${k}`,
    w.history.map((e) => ({
      at: st.start - e.minutes_ago * 60_000,
      image: imageRef(w, e),
      replicas: w.replicas,
    })),
  );
  s.rv = st.nextRv();
  syncStsPods(st, s, st.start - last.minutes_ago * 60_000);
}

/**
 * Adds one of the scenario's custom events (`cluster.events`) about its object: the workload, a
 * ReplicaSet, or a pod (`name: first` = the oldest pod of `workload`). An object that does not exist
 * still gets the event, with a made-up uid, as the API server allows.
 */
function addScenarioEvent(st: WorldState, e: ScenarioEvent): void {
  let name = e.name;
  let uid: string | undefined;
  if (e.kind === "Pod") {
    if (name === "first") {
      const owner = e.workload ?? "";
      const first = [...st.pods.values()]
        .filter((p) => p.ns === e.namespace && p.workload.name === owner)
        .sort((a, b) => a.created - b.created || a.name.localeCompare(b.name))[0];
      name = first?.name ?? `${owner}-0`;
      uid = first?.uid;
    } else uid = st.pods.get(key(e.namespace, name))?.uid;
  } else if (e.kind === "Deployment") uid = st.deployments.get(key(e.namespace, name))?.uid;
  else if (e.kind === "StatefulSet") uid = st.statefulSets.get(key(e.namespace, name))?.uid;
  else uid = [...st.replicaSets.values()].find((r) => r.ns === e.namespace && r.name === name)?.uid;
  const at = st.start - e.minutes_ago * 60_000;
  const involved: InvolvedRef = {
    kind: e.kind,
    name,
    namespace: e.namespace,
    uid: uid ?? uidFor(`${e.kind}/${e.namespace}/${name}`),
    apiVersion: e.kind === "Pod" ? "v1" : "apps/v1",
  };
  st.pushEvent({
    ns: e.namespace,
    name: `${name}.${hex8(`scenario/${e.reason}/${e.message}/${at}`)}`,
    involved,
    reason: e.reason,
    message: e.message,
    type: e.type,
    component: e.component,
    first: at - (e.count - 1) * 60_000,
    last: at,
    count: e.count,
  });
}
