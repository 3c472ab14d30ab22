import { matchesValue, type Requirement } from "../selectors.js";
import { k8sTime, uidFor } from "../util.js";
import type { WorldState } from "./state.js";
import { hex8, key, NODE, pullError } from "./template.js";
import type { EventRecord, InvolvedRef, Obj, PodState } from "./types.js";

/**
 * core/v1 Events: the stored ones (controllers' and the scenario's) plus the ones the kubelet would have
 * written for each pod's current state (Scheduled, Pulling/Pulled, Created, Started, BackOff, Failed),
 * derived at read time. Events older than the API server's default `--event-ttl` (1h) are dropped.
 */

/** Event fields (field-selector keys) a record's involved object and namespace fix, as the rendered Event has them. */
const INVOLVED_FIELDS = [
  "involvedObject.kind",
  "involvedObject.name",
  "involvedObject.namespace",
  "involvedObject.uid",
  "involvedObject.apiVersion",
  "involvedObject.fieldPath",
  "metadata.namespace",
];
/** Of those, the ones every event the kubelet derives for one pod shares (`fieldPath` differs by reason). */
const POD_FIELDS = INVOLVED_FIELDS.filter((f) => f !== "involvedObject.fieldPath");
const INVOLVED_PREFIX = "involvedObject.";

/**
 * Whether an event about `involved` in namespace `ns` can satisfy `reqs` (whose keys are all
 * {@link INVOLVED_FIELDS}): each key is read as field selectors read the rendered Event.
 */
function mayMatch(reqs: Requirement[], involved: Partial<InvolvedRef>, ns: string): boolean {
  for (const r of reqs) {
    const v =
      r.key === "metadata.namespace"
        ? ns
        : (involved as Record<string, unknown>)[r.key.slice(INVOLVED_PREFIX.length)];
    const scalar = typeof v === "string" || typeof v === "number" || typeof v === "boolean";
    if (!matchesValue(r, scalar ? String(v) : undefined)) return false;
  }
  return true;
}

/**
 * Persisted events plus the ones derived from pods' current state, as core/v1 Event objects, oldest first.
 * Events whose involved object or namespace fails a requirement of `fieldReqs` (a parsed field selector)
 * are left out before they are built; the caller still applies the whole selector to what is returned.
 */
export function listEvents(st: WorldState, ns: string | undefined, fieldReqs: Requirement[] = []): Obj[] {
  const at = st.now();
  const cutoff = at - 3_600_000; // the API server's default --event-ttl is 1h
  const recordReqs = fieldReqs.filter((r) => INVOLVED_FIELDS.includes(r.key));
  const podReqs = fieldReqs.filter((r) => POD_FIELDS.includes(r.key));
  // `involvedObject.name=X` (how clients ask for one object's events) needs only X's events and pod.
  const name = fieldReqs.find((r) => r.key === "involvedObject.name" && r.op === "=")?.values[0];
  const candidates = name === undefined ? st.events : (st.eventsByInvolvedName.get(name) ?? []);
  const stored = candidates.filter(
    (e) => e.last >= cutoff && (ns === undefined || e.ns === ns) && mayMatch(recordReqs, e.involved, e.ns),
  );
  const named = name !== undefined && ns !== undefined ? st.pods.get(key(ns, name)) : undefined;
  const derived = derivedEvents(
    st,
    at,
    name !== undefined && ns !== undefined ? (named ? [named] : []) : st.pods.values(),
    (pod) =>
      (ns === undefined || pod.ns === ns) &&
      mayMatch(
        podReqs,
        { kind: "Pod", name: pod.name, namespace: pod.ns, uid: pod.uid, apiVersion: "v1" },
        pod.ns,
      ),
  ).filter((e) => e.last >= cutoff);
  return [...stored, ...derived]
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

/**
 * The kubelet's and scheduler's events for each of `pods` that `keep` accepts, as it is at `at` (not
 * stored; recomputed per read).
 */
function derivedEvents(
  st: WorldState,
  at: number,
  pods: Iterable<PodState>,
  keep: (pod: PodState) => boolean,
): EventRecord[] {
  const out: EventRecord[] = [];
  for (const pod of pods) {
    if (!keep(pod)) continue;
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
