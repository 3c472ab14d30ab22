import { k8sTime, uidFor } from "../util.js";
import type { WorldState } from "./state.js";
import { hex8, NODE, pullError } from "./template.js";
import type { EventRecord, InvolvedRef, Obj } from "./types.js";

/**
 * core/v1 Events: the stored ones (controllers' and the scenario's) plus the ones the kubelet would have
 * written for each pod's current state (Scheduled, Pulling/Pulled, Created, Started, BackOff, Failed),
 * derived at read time. Events older than the API server's default `--event-ttl` (1h) are dropped.
 */

/** Persisted events plus the ones derived from pods' current state, as core/v1 Event objects, oldest first. */
export function listEvents(st: WorldState, ns: string | undefined): Obj[] {
  const at = st.now();
  const cutoff = at - 3_600_000; // the API server's default --event-ttl is 1h
  const records = [...st.events, ...derivedEvents(st, at)].filter((e) => e.last >= cutoff);
  return records
    .filter((e) => ns === undefined || e.ns === ns)
    .sort((a, b) => a.last - b.last)
    .map((e) => ({
      apiVersion: "v1",
      kind: "Event",
      metadata: {
        name: e.name,
        namespace: e.ns,
        uid: e.uid,
        resourceVersion: String(e.rv),
        creationTimestamp: k8sTime(e.first),
      },
      involvedObject: { ...e.involved },
      reason: e.reason,
      message: e.message,
      source: { component: e.component, ...(e.component === "kubelet" ? { host: NODE } : {}) },
      firstTimestamp: k8sTime(e.first),
      lastTimestamp: k8sTime(e.last),
      count: e.count,
      type: e.type,
      eventTime: null,
      reportingComponent: e.component,
      reportingInstance: e.component === "kubelet" ? NODE : "",
    }));
}

/** The kubelet's and scheduler's events for every pod as it is at `at` (not stored; recomputed per read). */
function derivedEvents(st: WorldState, at: number): EventRecord[] {
  const out: EventRecord[] = [];
  for (const pod of st.pods.values()) {
    const view = st.podView(pod, at);
    const c = view.container;
    const involved: InvolvedRef = {
      kind: "Pod",
      name: pod.name,
      namespace: pod.ns,
      uid: pod.uid,
      apiVersion: "v1",
      fieldPath: `spec.containers{${c}}`,
    };
    const ev = (
      reason: string,
      message: string,
      type: "Normal" | "Warning",
      first: number,
      last: number,
      count: number,
      component = "kubelet",
    ) => {
      const name = `${pod.name}.${hex8(`${pod.uid}/${reason}/${message}`)}`;
      out.push({
        ns: pod.ns,
        name,
        uid: uidFor(`event/${name}`),
        rv: pod.rv,
        involved: reason === "Scheduled" ? { ...involved, fieldPath: undefined } : involved,
        reason,
        message,
        type,
        component,
        first,
        last,
        count,
      });
    };
    ev(
      "Scheduled",
      `Successfully assigned ${pod.ns}/${pod.name} to ${NODE}`,
      "Normal",
      pod.created,
      pod.created,
      1,
      "default-scheduler",
    );
    if (!view.profile) {
      const n = Math.max(1, Math.floor((at - pod.created) / 60_000) + 1);
      ev("Pulling", `Pulling image "${view.image}"`, "Normal", pod.created + 1000, at, n);
      const failed = `Failed to pull image "${view.image}": ${pullError(view.image)}`;
      ev("Failed", failed, "Warning", pod.created + 2000, at, n);
      ev("Failed", "Error: ErrImagePull", "Warning", pod.created + 2000, at, n);
      if (at - pod.created > 15_000) {
        ev("BackOff", `Back-off pulling image "${view.image}"`, "Normal", pod.created + 15_000, at, n);
        ev("Failed", "Error: ImagePullBackOff", "Warning", pod.created + 15_000, at, n);
      }
      continue;
    }
    const starts = view.restarts + 1;
    const lastStart = (offset: number) => (view.ready ? pod.created + offset : at);
    const pulled = `Container image "${view.image}" already present on machine`;
    ev("Pulled", pulled, "Normal", pod.created + 1000, lastStart(1000), starts);
    ev("Created", `Created container ${c}`, "Normal", pod.created + 1500, lastStart(1500), starts);
    ev("Started", `Started container ${c}`, "Normal", pod.created + 2000, lastStart(2000), starts);
    if (!view.ready && view.restarts > 0) {
      ev(
        "BackOff",
        `Back-off restarting failed container ${c} in pod ${pod.name}_${pod.ns}(${pod.uid})`,
        "Warning",
        pod.created + 10_000,
        at,
        Math.max(1, view.restarts * 2),
      );
    }
  }
  return out;
}
