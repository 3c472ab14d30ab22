import type { HealthProfile, Scenario, WorkloadSpec } from "../../../scenarios/schema.js";
import { imageRef } from "../../../scenarios/schema.js";
import { notFound } from "../status.js";
import { nameSuffix, uidFor } from "../util.js";
import { OwnedMap } from "./owned.js";
import { containersOf, crashRestarts, hex8, key, profileAt, READY_STATES } from "./template.js";
import type {
  DeployState,
  EventRecord,
  InvolvedRef,
  Mutation,
  NsState,
  PodState,
  PodView,
  RsState,
  Stored,
  StsState,
  TimelineEntry,
} from "./types.js";

/**
 * The sandbox world's state: every stored object by `namespace/name`, the event and mutation logs, and the
 * small primitives the controllers, renderers and writes share (resourceVersions, pod IPs, ownership
 * lookups, events, pod views). It holds no controller logic; `controllers.ts` advances it.
 */
export class WorldState {
  readonly scenario: Scenario;
  /** When the world was built (epoch ms); scenario `minutes_ago` count back from here. */
  readonly start: number;
  readonly now: () => number;
  rvCounter = 1;
  private podIpSeq = 1;
  readonly namespaces = new Map<string, NsState>();
  readonly deployments = new Map<string, DeployState>();
  /** ReplicaSets by `ns/name`, indexed by their Deployment's uid. */
  readonly replicaSets = new OwnedMap<RsState>();
  readonly statefulSets = new Map<string, StsState>();
  /** Pods by `ns/name`, indexed by their controller's uid. */
  readonly pods = new OwnedMap<PodState>();
  readonly events: EventRecord[] = [];
  /** The stored events by their involved object's name, each list in {@link events} order. */
  readonly eventsByInvolvedName = new Map<string, EventRecord[]>();
  /**
   * The resourceVersion at which a reconcile without rollouts changed nothing: until the next change (every
   * change takes a resourceVersion) the world is a fixed point of its controllers. -1 when not settled.
   */
  settledRv = -1;
  readonly mutationLog: Mutation[] = [];
  /** Deployments by `ns/name`, StatefulSets by `sts:ns/name`. */
  readonly timelines = new Map<string, TimelineEntry[]>();
  /** Every image of any workload's history → its health profile (first one wins). */
  readonly profiles = new Map<string, HealthProfile>();

  constructor(scenario: Scenario, now: () => number) {
    this.scenario = scenario;
    this.now = now;
    this.start = now();
  }

  /** The next resourceVersion (a global counter, as etcd's revision). */
  nextRv(): number {
    return ++this.rvCounter;
  }

  /** The next pod IP in 10.244.0.0/16. */
  nextIp(): string {
    const n = this.podIpSeq++;
    return `10.244.${Math.floor(n / 250) % 250}.${(n % 250) + 2}`;
  }

  /**
   * One stored object by namespace and name (the generic accessor behind every `get`).
   * @throws StatusError 404 naming `resource` in API `group` ("" for core).
   */
  find<T>(map: Map<string, T>, ns: string, name: string, resource: string, group: string): T {
    const found = map.get(key(ns, name));
    if (!found) throw notFound(resource, group, name);
    return found;
  }

  /** The objects of `map` in `ns` (all namespaces when undefined), in insertion order. */
  inNamespace<T extends Stored>(map: Map<string, T>, ns: string | undefined): T[] {
    return [...map.values()].filter((o) => ns === undefined || o.ns === ns);
  }

  /** @throws StatusError 404 when namespace `ns` does not exist. */
  requireNs(ns: string): void {
    if (!this.namespaces.has(ns)) throw notFound("namespaces", "", ns);
  }

  /** The ReplicaSets a Deployment owns. */
  rsOf(d: DeployState): RsState[] {
    return this.replicaSets.owned(d.uid).filter((r) => r.ns === d.ns && r.owner === d.name);
  }

  /** A Deployment's ReplicaSet with the highest revision. */
  currentRs(d: DeployState): RsState | undefined {
    return this.rsOf(d).sort((a, b) => b.revision - a.revision)[0];
  }

  /** Pods in `ns` whose controller has uid `ownerUid`. */
  podsOwnedBy(ns: string, ownerUid: string): PodState[] {
    return this.pods.owned(ownerUid).filter((p) => p.ns === ns);
  }

  /** A Deployment as an event's involved object. */
  deployRef(d: DeployState): InvolvedRef {
    return { kind: "Deployment", name: d.name, namespace: d.ns, uid: d.uid, apiVersion: "apps/v1" };
  }

  /** Stores one event record with a fresh uid and resourceVersion. */
  pushEvent(e: Omit<EventRecord, "uid" | "rv">): void {
    const record = { ...e, uid: uidFor(`event/${e.name}`), rv: this.nextRv() };
    this.events.push(record);
    const named = this.eventsByInvolvedName.get(record.involved.name);
    if (named) named.push(record);
    else this.eventsByInvolvedName.set(record.involved.name, [record]);
  }

  /** Records an event; one with the same object, reason and message is counted instead (as the event recorder does). */
  recordEvent(
    at: number,
    involved: InvolvedRef,
    reason: string,
    message: string,
    type: "Normal" | "Warning",
    component: string,
  ): void {
    // Only events of an object with this name can match (the index holds them all).
    const same = this.eventsByInvolvedName
      .get(involved.name)
      ?.find((e) => e.involved.uid === involved.uid && e.reason === reason && e.message === message);
    if (same) {
      same.count++;
      same.last = Math.max(same.last, at);
      same.rv = this.nextRv();
      return;
    }
    const name = `${involved.name}.${hex8(`${involved.uid}/${reason}/${message}/${at}`)}${nameSuffix(message).slice(0, 4)}`;
    this.pushEvent({
      ns: involved.namespace,
      name,
      involved,
      reason,
      message,
      type,
      component,
      first: at,
      last: at,
      count: 1,
    });
  }

  /** Removes a pod, recording the kubelet's `Killing` event. */
  killPod(pod: PodState, at: number): void {
    this.pods.delete(key(pod.ns, pod.name));
    const c = containersOf(pod.template)[0];
    this.recordEvent(
      at,
      {
        kind: "Pod",
        name: pod.name,
        namespace: pod.ns,
        uid: pod.uid,
        apiVersion: "v1",
        fieldPath: `spec.containers{${c?.name ?? ""}}`,
      },
      "Killing",
      `Stopping container ${c?.name ?? ""}`,
      "Normal",
      "kubelet",
    );
  }

  /** The health profile of `image` for workload `w`: its own history first, then any workload's. */
  profileFor(w: WorkloadSpec, image: string): HealthProfile | undefined {
    const own = w.history.find((e) => imageRef(w, e) === image);
    return own?.health ?? this.profiles.get(image);
  }

  /** What a pod's (first) container is doing at `at` (ms). */
  podView(pod: PodState, at: number): PodView {
    const c = containersOf(pod.template)[0] ?? { name: "", image: "" };
    const { profile, sinceMs } = profileAt(this.profileFor(pod.workload, c.image), at - pod.created);
    const base = { profile, image: c.image, container: c.name };
    if (!profile) return { ready: false, restarts: 0, ...base };
    if (READY_STATES.has(profile.state)) return { ready: true, restarts: 0, ...base };
    return { ready: false, restarts: crashRestarts(profile, sinceMs), ...base };
  }

  /** Appends to the mutation log, stamped with `now()`. */
  logMutation(m: Omit<Mutation, "seq" | "at">): void {
    this.mutationLog.push({ seq: this.mutationLog.length + 1, at: new Date(this.now()).toISOString(), ...m });
  }

  /** How far a rollout started at `startedAt` is at `at`: 0..1 over `cluster.rollout_seconds` (1 when that is 0). */
  progress(startedAt: number, at: number): number {
    const ms = this.scenario.cluster.rollout_seconds * 1000;
    if (ms <= 0) return 1;
    return Math.min(1, Math.max(0, (at - startedAt) / ms));
  }
}
