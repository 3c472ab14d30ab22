import type { HealthProfile, Scenario, WorkloadSpec } from "../../../scenarios/schema.js";
import type { SandboxUser } from "../rbac.js";
import { matchesLabels, type Requirement } from "../selectors.js";
import { notFound, StatusError } from "../status.js";
import { buildWorld } from "./build.js";
import * as controllers from "./controllers.js";
import { deletePod, deleteWorkload } from "./deletes.js";
import { listEvents } from "./events.js";
import { deploymentObject, nsObject, rsObject, scaleObject, stsObject } from "./render.js";
import { podObject } from "./render-pod.js";
import { snapshot } from "./snapshot.js";
import { WorldState } from "./state.js";
import { containersOf, key, profileAt, READY_STATES, templateLabels } from "./template.js";
import type { ClusterSnapshot, Mutation, Obj, PodSummary, Stored, TimelineEntry } from "./types.js";
import * as writes from "./writes.js";

export { profileAt } from "./template.js";
export type {
  ClusterSnapshot,
  Mutation,
  Obj,
  PodSummary,
  PodView,
  TimelineEntry,
  WorkloadSnapshot,
} from "./types.js";

/** A world function's parameters after its `WorldState`. */
type AfterState<F> = F extends (st: WorldState, ...rest: infer R) => unknown ? R : never;

/**
 * The sandbox cluster's state and controllers: namespaces, Deployments with their ReplicaSets, StatefulSets,
 * Pods and Events, built from a {@link Scenario} and advanced lazily against the wall clock. Object shapes
 * follow the Kubernetes API reference (apps/v1 Deployment, ReplicaSet, StatefulSet; core/v1 Pod, Event,
 * Namespace); controller behaviour is in `controllers.ts`. Modules, by seam: `state.ts` (stored objects and
 * shared primitives), `build.ts` (the initial world), `controllers.ts`, `render.ts`/`render-pod.ts` (API
 * objects), `events.ts`, `validate.ts`/`writes.ts`/`deletes.ts`, `snapshot.ts` (the console's view).
 *
 * Not an HTTP server: `../server.ts` maps REST requests onto these methods.
 */
export class World {
  readonly scenario: Scenario;
  /** When the world was built (epoch ms). */
  readonly start: number;
  private readonly st: WorldState;

  /** Builds the initial world: one ReplicaSet per history entry (revision = index+1), only the last scaled up. */
  constructor(scenario: Scenario, now: () => number = Date.now) {
    this.st = new WorldState(scenario, now);
    this.scenario = scenario;
    this.start = this.st.start;
    buildWorld(this.st);
  }

  /** The current global resourceVersion (for list metadata). */
  resourceVersion(): string {
    return String(this.st.rvCounter);
  }

  /** Advances every controller to `now()`. */
  reconcile(): void {
    controllers.reconcile(this.st);
  }

  /** ms until the last running rollout ends (0 when none runs). */
  rolloutRemainingMs(): number {
    return controllers.rolloutRemainingMs(this.st);
  }

  /** True while a Deployment or StatefulSet rollout is in progress. */
  rolling(): boolean {
    return controllers.rolling(this.st);
  }

  /** The health profile of `image` for workload `w`: its own history first, then any workload's. */
  profileFor(w: WorkloadSpec, image: string): HealthProfile | undefined {
    return this.st.profileFor(w, image);
  }

  // ---------------------------------------------------------------- reads (one generic list/get)

  /**
   * Renders the objects of `map` in `ns` (all when undefined) whose labels (`labelsOf`, the labels the
   * rendered object carries) match `labelReqs`, optionally sorted first. Only what is returned is rendered.
   */
  private list<T extends Stored>(
    map: Map<string, T>,
    ns: string | undefined,
    render: (o: T, at: number) => Obj,
    labelsOf: (o: T) => Record<string, string>,
    labelReqs: Requirement[],
    order?: (a: T, b: T) => number,
  ): Obj[] {
    const at = this.st.now();
    let found = this.st.inNamespace(map, ns);
    if (labelReqs.length > 0) found = found.filter((o) => matchesLabels(labelReqs, labelsOf(o)));
    return (order ? found.sort(order) : found).map((o) => render(o, at));
  }

  /** Renders one object of `map`. @throws StatusError 404 naming `resource` in `group`. */
  private get<T>(
    map: Map<string, T>,
    ns: string,
    name: string,
    [resource, group]: [string, string],
    render: (o: T, at: number) => Obj,
  ): Obj {
    return render(this.st.find(map, ns, name, resource, group), this.st.now());
  }

  private readonly renderDeploy = (d: Parameters<typeof deploymentObject>[1], at: number) =>
    deploymentObject(this.st, d, at);
  private readonly renderRs = (r: Parameters<typeof rsObject>[1], at: number) => rsObject(this.st, r, at);
  private readonly renderSts = (s: Parameters<typeof stsObject>[1], at: number) => stsObject(this.st, s, at);
  private readonly renderPod = (p: Parameters<typeof podObject>[1], at: number) => podObject(this.st, p, at);

  /** Labels of a namespace (for RBAC), or undefined when it does not exist. */
  namespaceLabels(ns: string): Record<string, string> | undefined {
    return this.st.namespaces.get(ns)?.labels;
  }

  /** All Namespace objects. */
  listNamespaces(): Obj[] {
    return [...this.st.namespaces.values()].map((n) => nsObject(n));
  }

  /** One Namespace. @throws StatusError 404. */
  getNamespace(name: string): Obj {
    const ns = this.st.namespaces.get(name);
    if (!ns) throw notFound("namespaces", "", name);
    return nsObject(ns);
  }

  /** Deployments in `ns` (all namespaces when undefined) matching `labelReqs` (default: all). */
  listDeployments(ns: string | undefined, labelReqs: Requirement[] = []): Obj[] {
    return this.list(this.st.deployments, ns, this.renderDeploy, (d) => d.labels, labelReqs);
  }

  /** One Deployment. @throws StatusError 404. */
  getDeployment(ns: string, name: string): Obj {
    return this.get(this.st.deployments, ns, name, ["deployments", "apps"], this.renderDeploy);
  }

  /** The `autoscaling/v1` Scale of a Deployment. @throws StatusError 404. */
  getDeploymentScale(ns: string, name: string): Obj {
    return this.get(this.st.deployments, ns, name, ["deployments", "apps"], (d, at) =>
      scaleObject(this.st, d, at),
    );
  }

  /** ReplicaSets in `ns` (all when undefined) matching `labelReqs` (default: all), oldest first. */
  listReplicaSets(ns: string | undefined, labelReqs: Requirement[] = []): Obj[] {
    return this.list(
      this.st.replicaSets,
      ns,
      this.renderRs,
      (r) => templateLabels(r.template),
      labelReqs,
      (a, b) => a.created - b.created,
    );
  }

  /** One ReplicaSet. @throws StatusError 404. */
  getReplicaSet(ns: string, name: string): Obj {
    return this.get(this.st.replicaSets, ns, name, ["replicasets", "apps"], this.renderRs);
  }

  /** StatefulSets in `ns` (all when undefined) matching `labelReqs` (default: all). */
  listStatefulSets(ns: string | undefined, labelReqs: Requirement[] = []): Obj[] {
    return this.list(this.st.statefulSets, ns, this.renderSts, (s) => s.labels, labelReqs);
  }

  /** One StatefulSet. @throws StatusError 404. */
  getStatefulSet(ns: string, name: string): Obj {
    return this.get(this.st.statefulSets, ns, name, ["statefulsets", "apps"], this.renderSts);
  }

  /** Pods in `ns` (all when undefined) matching `labelReqs` (default: all), oldest first. */
  listPods(ns: string | undefined, labelReqs: Requirement[] = []): Obj[] {
    return this.list(
      this.st.pods,
      ns,
      this.renderPod,
      (p) => templateLabels(p.template),
      labelReqs,
      (a, b) => a.created - b.created || (a.name < b.name ? -1 : 1),
    );
  }

  /** One Pod. @throws StatusError 404. */
  getPod(ns: string, name: string): Obj {
    return this.get(this.st.pods, ns, name, ["pods", ""], this.renderPod);
  }

  /**
   * Persisted events plus the ones derived from pods' current state, as core/v1 Event objects. With
   * `fieldReqs` (a parsed field selector) it may leave out events that cannot match them (callers still
   * filter); without, all of them.
   */
  listEvents(ns: string | undefined, fieldReqs: Requirement[] = []): Obj[] {
    return listEvents(this.st, ns, fieldReqs);
  }

  // ---------------------------------------------------------------- pod queries (for Prometheus and the console)

  /** The pods of a workload (Deployment via its ReplicaSets, or StatefulSet) with their views; empty when it does not exist. */
  workloadPods(ns: string, name: string): PodSummary[] {
    const d = this.st.deployments.get(key(ns, name));
    const s = this.st.statefulSets.get(key(ns, name));
    const owners = new Set<string>();
    if (d) for (const rs of this.st.rsOf(d)) owners.add(rs.uid);
    if (s) owners.add(s.uid);
    return this.podSummaries((p) => p.ns === ns && owners.has(p.ownerUid));
  }

  /** Pods of `ns` whose name matches `re`, with their views (for the restarts query). */
  podsMatching(ns: string, re: RegExp): PodSummary[] {
    return this.podSummaries((p) => p.ns === ns && re.test(p.name));
  }

  private podSummaries(keep: (p: { ns: string; name: string; ownerUid: string }) => boolean): PodSummary[] {
    const at = this.st.now();
    return [...this.st.pods.values()]
      .filter(keep)
      .map((p) => ({ name: p.name, created: p.created, view: this.st.podView(p, at) }));
  }

  /** A pod's restart count at `at` (ms), for `increase()` over a window. */
  restartsAt(ns: string, podName: string, at: number): number {
    const p = this.st.pods.get(key(ns, podName));
    return p ? this.st.podView(p, at).restarts : 0;
  }

  /** The workload a Prometheus `service` label names: by name, else by its `app` label. */
  workloadForService(ns: string, service: string): WorkloadSpec | undefined {
    const ws = this.scenario.cluster.workloads.filter((w) => w.namespace === ns);
    return (
      ws.find((w) => w.name === service) ?? ws.find((w) => (w.labels ?? { app: w.name }).app === service)
    );
  }

  /** Which image ran with how many replicas, from when, for a Deployment or StatefulSet (oldest first). */
  timeline(ns: string, name: string): TimelineEntry[] {
    return this.st.timelines.get(key(ns, name)) ?? this.st.timelines.get(`sts:${key(ns, name)}`) ?? [];
  }

  /**
   * The `previous`/current log lines of a pod's container: the image's profile lines (a default line for a
   * healthy image without lines). `end` is when the last line was written (epoch ms).
   * @throws StatusError 404 for an unknown pod, 400 for an unknown container, a container still waiting for its
   *   image, or `previous` on a container that never terminated.
   */
  podLog(
    ns: string,
    name: string,
    opts: { container?: string; previous: boolean },
  ): { lines: string[]; end: number } {
    const at = this.st.now();
    const pod = this.st.find(this.st.pods, ns, name, "pods", "");
    const containers = containersOf(pod.template);
    const c =
      opts.container === undefined ? containers[0] : containers.find((x) => x.name === opts.container);
    if (!c) {
      if (opts.container === undefined)
        throw new StatusError(400, `a container name must be specified for pod ${name}`);
      throw new StatusError(400, `container ${opts.container} is not valid for pod ${name}`);
    }
    const { profile } = profileAt(this.st.profileFor(pod.workload, c.image), at - pod.created);
    if (!profile) {
      throw new StatusError(
        400,
        `container "${c.name}" in pod "${name}" is waiting to start: trying and failing to pull image`,
      );
    }
    const crashing = !READY_STATES.has(profile.state);
    if (opts.previous && !crashing) {
      throw new StatusError(400, `previous terminated container "${c.name}" in pod "${name}" not found`);
    }
    const lines =
      profile.logs.length > 0
        ? [...profile.logs]
        : [`level=info msg="listening" addr=:8080 container=${c.name}`];
    return { lines, end: crashing ? Math.max(pod.created + 2000, at - 5000) : at };
  }

  // ---------------------------------------------------------------- writes

  /** Every logged mutation, oldest first (a copy). */
  mutations(): Mutation[] {
    return this.st.mutationLog.map((m) => ({ ...m }));
  }

  /**
   * Writes a Deployment: `mutate` gets the current object and returns the desired one (a patch applied or a
   * PUT body); persisted unless `dryRun`, starting a rollout when the pod template changed. Arguments:
   * `(ns, name, user, verb, resource, dryRun, mutate)`, see {@link writes.writeDeployment}.
   * @throws StatusError 404, 409 Conflict (stale resourceVersion), 422 Invalid (bad spec), 400 (name mismatch).
   */
  writeDeployment(...args: AfterState<typeof writes.writeDeployment>): Obj {
    return writes.writeDeployment(this.st, ...args);
  }

  /**
   * Patches the Scale subresource of a Deployment (`spec.replicas` only). Arguments: `(ns, name, user, verb,
   * dryRun, mutate)`. @throws StatusError 404, 409, 422 as {@link writeDeployment}.
   */
  writeDeploymentScale(...args: AfterState<typeof writes.writeDeploymentScale>): Obj {
    return writes.writeDeploymentScale(this.st, ...args);
  }

  /**
   * Patches a StatefulSet: a template change makes a new controller revision and rolls the pods from the
   * highest ordinal down. Arguments: `(ns, name, user, verb, dryRun, mutate)`. @throws StatusError 404, 409, 422.
   */
  writeStatefulSet(...args: AfterState<typeof writes.writeStatefulSet>): Obj {
    return writes.writeStatefulSet(this.st, ...args);
  }

  /** Deletes a Deployment with its ReplicaSets and pods (background propagation). @throws StatusError 404. */
  deleteDeployment(ns: string, name: string, user: SandboxUser, dryRun: boolean): Obj {
    return deleteWorkload(this.st, "Deployment", ns, name, user, dryRun);
  }

  /** Deletes a StatefulSet and its pods. @throws StatusError 404. */
  deleteStatefulSet(ns: string, name: string, user: SandboxUser, dryRun: boolean): Obj {
    return deleteWorkload(this.st, "StatefulSet", ns, name, user, dryRun);
  }

  /** Deletes a pod (its controller replaces it at once). Returns the deleted Pod. @throws StatusError 404. */
  deletePod(ns: string, name: string, user: SandboxUser, dryRun: boolean): Obj {
    return deletePod(this.st, ns, name, user, dryRun);
  }

  /** The world for a UI: namespaces and workloads with replica counts, revision, image, SHA and health. */
  snapshot(): ClusterSnapshot {
    return snapshot(this.st, (ns, name) => this.workloadPods(ns, name));
  }
}
