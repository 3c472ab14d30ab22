import type { HealthProfile, Scenario, ScenarioEvent, WorkloadSpec } from "../../scenarios/schema.js";
import { imageRef } from "../../scenarios/schema.js";
import { PROTECTED_LABEL, type SandboxUser } from "./rbac.js";
import { conflict, invalid, notFound, type StatusCause, StatusError } from "./status.js";
import { fnv32a, k8sTime, nameSuffix, safeEncode, stableStringify, uidFor } from "./util.js";

/**
 * The sandbox cluster's state and controllers: namespaces, Deployments with their ReplicaSets, StatefulSets,
 * Pods and Events, built from a {@link Scenario} and advanced lazily against the wall clock (every read
 * reconciles first). Object shapes follow the Kubernetes API reference (apps/v1 Deployment, ReplicaSet,
 * StatefulSet; core/v1 Pod, Event, Namespace); controller behaviour follows the Deployment controller
 * (https://kubernetes.io/docs/concepts/workloads/controllers/deployment/): a changed pod template makes a
 * new ReplicaSet `<deploy>-<pod-template-hash>` with the next revision, or reuses the ReplicaSet whose
 * template is equal (ignoring `pod-template-hash`) and moves it to the next revision (how `kubectl rollout
 * undo` works). Pods roll from the old ReplicaSets to the new one over `cluster.rollout_seconds`.
 */

/** A JSON object as it travels on the wire. */
export type Obj = Record<string, unknown>;

/** One write that changed state (dry-runs and no-op writes are not logged). `at` is ISO-8601. */
export interface Mutation {
  seq: number;
  at: string;
  user: SandboxUser;
  verb: "create" | "update" | "patch" | "delete";
  resource: string;
  namespace: string;
  name: string;
  kind: "Deployment" | "StatefulSet" | "Pod" | "ReplicaSet";
  summary: string;
}

/** One workload as the console shows it. `health`: `progressing` while a rollout runs. */
export interface WorkloadSnapshot {
  kind: "Deployment" | "StatefulSet";
  namespace: string;
  name: string;
  replicas: { desired: number; ready: number; updated: number; available: number };
  /** Deployment revision (the current ReplicaSet's), null for StatefulSets. */
  revision: number | null;
  image: string;
  /** The deploy SHA of the running image (from the scenario history, else the image tag), or null. */
  sha: string | null;
  health: "healthy" | "degraded" | "failing" | "progressing";
  protected: boolean;
}

/** The whole sandbox world at an instant, for a UI. */
export interface ClusterSnapshot {
  at: string;
  namespaces: Array<{ name: string; labels: Record<string, string>; protected: boolean }>;
  workloads: WorkloadSnapshot[];
  mutations: number;
}

interface NsState {
  name: string;
  labels: Record<string, string>;
  uid: string;
  rv: number;
  created: number;
}

interface Rollout {
  startedAt: number;
  target: string;
  from: Array<{ name: string; replicas: number }>;
}

interface DeployState {
  ns: string;
  name: string;
  uid: string;
  rv: number;
  generation: number;
  created: number;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  spec: Obj;
  rollout: Rollout | undefined;
  rolloutChangedAt: number;
  workload: WorkloadSpec;
}

interface RsState {
  ns: string;
  name: string;
  uid: string;
  rv: number;
  created: number;
  owner: string;
  ownerUid: string;
  revision: number;
  revisionHistory: number[];
  hash: string;
  template: Obj;
  replicas: number;
  podSeq: number;
}

interface StsState {
  ns: string;
  name: string;
  uid: string;
  rv: number;
  generation: number;
  created: number;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  spec: Obj;
  currentRevision: string;
  updateRevision: string;
  revisions: Map<string, Obj>;
  rollout: { startedAt: number } | undefined;
  workload: WorkloadSpec;
}

interface PodState {
  ns: string;
  name: string;
  uid: string;
  rv: number;
  created: number;
  ownerKind: "ReplicaSet" | "StatefulSet";
  owner: string;
  ownerUid: string;
  /** pod-template-hash (ReplicaSet pods) or controller-revision-hash (StatefulSet pods). */
  revision: string;
  template: Obj;
  ip: string;
  workload: WorkloadSpec;
}

interface EventRecord {
  ns: string;
  name: string;
  uid: string;
  rv: number;
  involved: {
    kind: string;
    name: string;
    namespace: string;
    uid: string;
    apiVersion: string;
    fieldPath?: string;
  };
  reason: string;
  message: string;
  type: "Normal" | "Warning";
  component: string;
  first: number;
  last: number;
  count: number;
}

interface TimelineEntry {
  at: number;
  image: string;
  replicas: number;
}

/** The container view of a pod at an instant. */
export interface PodView {
  ready: boolean;
  restarts: number;
  /** The image's health profile, undefined when the image is in no scenario history (it cannot be pulled). */
  profile: HealthProfile | undefined;
  image: string;
  container: string;
}

const READY_STATES = new Set(["healthy", "error", "slow"]);
const NODE = "sandbox-node-1";
const TEMPLATE_HASH = "pod-template-hash";
const REVISION_ANNOTATION = "deployment.kubernetes.io/revision";

const key = (ns: string, name: string) => `${ns}/${name}`;

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function strMap(v: unknown): Record<string, string> {
  if (!isObj(v)) return {};
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) if (typeof val === "string") out[k] = val;
  return out;
}

function containersOf(template: Obj): Array<{ name: string; image: string }> {
  const spec = isObj(template.spec) ? template.spec : {};
  const list = Array.isArray(spec.containers) ? spec.containers : [];
  return list.filter(isObj).map((c) => ({ name: String(c.name ?? ""), image: String(c.image ?? "") }));
}

function templateLabels(template: Obj): Record<string, string> {
  return strMap(isObj(template.metadata) ? template.metadata.labels : undefined);
}

/** A pod template with the `pod-template-hash` label removed (Kubernetes' `EqualIgnoreHash`). */
function withoutHash(template: Obj): Obj {
  const t = structuredClone(template);
  if (isObj(t.metadata) && isObj(t.metadata.labels)) {
    delete t.metadata.labels[TEMPLATE_HASH];
    if (Object.keys(t.metadata.labels).length === 0) delete t.metadata.labels;
  }
  if (
    isObj(t.metadata) &&
    isObj(t.metadata.annotations) &&
    Object.keys(t.metadata.annotations).length === 0
  ) {
    delete t.metadata.annotations;
  }
  if (isObj(t.metadata) && Object.keys(t.metadata).length === 0) delete t.metadata;
  return t;
}

function templatesEqual(a: Obj, b: Obj): boolean {
  return stableStringify(withoutHash(a)) === stableStringify(withoutHash(b));
}

function templateHash(template: Obj, collision = 0): string {
  return safeEncode(fnv32a(stableStringify(withoutHash(template)) + (collision ? String(collision) : "")));
}

/**
 * The profile an image shows `ageMs` after its pod started: with `healthy_for_minutes`, a plain healthy
 * profile until then (health that changes over time), afterwards the profile itself. The second value
 * is how long the profile has been in its own state (ms; the crash clock starts there).
 */
export function profileAt(
  profile: HealthProfile | undefined,
  ageMs: number,
): { profile: HealthProfile | undefined; sinceMs: number } {
  const healthyMs = (profile?.healthy_for_minutes ?? 0) * 60_000;
  if (!profile || healthyMs === 0) return { profile, sinceMs: ageMs };
  if (ageMs < healthyMs) return { profile: { state: "healthy", logs: [] }, sinceMs: ageMs };
  return { profile, sinceMs: ageMs - healthyMs };
}

/** The restart count of a crashing container `ageMs` after its pod started: it crashed once at start, then `restarts_per_10m`. */
function crashRestarts(profile: HealthProfile, ageMs: number): number {
  if (ageMs < 0) return 0;
  const rate = profile.restarts_per_10m ?? 4;
  return 1 + Math.floor((ageMs / 600_000) * rate);
}

/**
 * The sandbox world. Not an HTTP server: `server.ts` maps REST requests onto these methods.
 * Every public method reconciles the world to `now()` first.
 */
export class World {
  readonly scenario: Scenario;
  readonly start: number;
  private readonly now: () => number;
  private rvCounter = 1;
  private podIpSeq = 1;
  private readonly namespaces = new Map<string, NsState>();
  private readonly deployments = new Map<string, DeployState>();
  private readonly replicaSets = new Map<string, RsState>();
  private readonly statefulSets = new Map<string, StsState>();
  private readonly pods = new Map<string, PodState>();
  private events: EventRecord[] = [];
  private readonly mutationLog: Mutation[] = [];
  private readonly timelines = new Map<string, TimelineEntry[]>();
  private readonly profiles = new Map<string, HealthProfile>();

  /** Builds the initial world: one ReplicaSet per history entry (revision = index+1), only the last scaled up. */
  constructor(scenario: Scenario, now: () => number = Date.now) {
    this.scenario = scenario;
    this.now = now;
    this.start = now();
    for (const ns of scenario.cluster.namespaces) {
      this.namespaces.set(ns.name, {
        name: ns.name,
        labels: { "kubernetes.io/metadata.name": ns.name, ...ns.labels },
        uid: uidFor(`ns/${ns.name}`),
        rv: this.nextRv(),
        created: this.start - 30 * 86_400_000,
      });
    }
    for (const w of scenario.cluster.workloads) {
      for (const e of w.history)
        if (!this.profiles.has(imageRef(w, e))) this.profiles.set(imageRef(w, e), e.health);
    }
    for (const w of scenario.cluster.workloads) {
      if (!this.namespaces.has(w.namespace)) {
        this.namespaces.set(w.namespace, {
          name: w.namespace,
          labels: { "kubernetes.io/metadata.name": w.namespace },
          uid: uidFor(`ns/${w.namespace}`),
          rv: this.nextRv(),
          created: this.start - 30 * 86_400_000,
        });
      }
      if (w.kind === "Deployment") this.initDeployment(w);
      else this.initStatefulSet(w);
    }
    for (const e of scenario.cluster.events) this.addScenarioEvent(e);
  }

  /**
   * Adds one of the scenario's custom events (`cluster.events`) about its object: the workload, a
   * ReplicaSet, or a pod (`name: first` = the oldest pod of `workload`). An object that does not exist
   * still gets the event, with a made-up uid, as the API server allows.
   */
  private addScenarioEvent(e: ScenarioEvent): void {
    let name = e.name;
    let uid: string | undefined;
    if (e.kind === "Pod") {
      if (name === "first") {
        const owner = e.workload ?? "";
        const first = [...this.pods.values()]
          .filter((p) => p.ns === e.namespace && p.workload.name === owner)
          .sort((a, b) => a.created - b.created || a.name.localeCompare(b.name))[0];
        name = first?.name ?? `${owner}-0`;
        uid = first?.uid;
      } else uid = this.pods.get(key(e.namespace, name))?.uid;
    } else if (e.kind === "Deployment") uid = this.deployments.get(key(e.namespace, name))?.uid;
    else if (e.kind === "StatefulSet") uid = this.statefulSets.get(key(e.namespace, name))?.uid;
    else uid = [...this.replicaSets.values()].find((r) => r.ns === e.namespace && r.name === name)?.uid;
    const at = this.start - e.minutes_ago * 60_000;
    const involved: EventRecord["involved"] = {
      kind: e.kind,
      name,
      namespace: e.namespace,
      uid: uid ?? uidFor(`${e.kind}/${e.namespace}/${name}`),
      apiVersion: e.kind === "Pod" ? "v1" : "apps/v1",
    };
    const evName = `${name}.${fnv32a(`scenario/${e.reason}/${e.message}/${at}`).toString(16).padStart(8, "0")}`;
    this.events.push({
      ns: e.namespace,
      name: evName,
      uid: uidFor(`event/${evName}`),
      rv: this.nextRv(),
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

  private nextRv(): number {
    return ++this.rvCounter;
  }

  /** The current global resourceVersion (for list metadata). */
  resourceVersion(): string {
    return String(this.rvCounter);
  }

  private baseTemplate(w: WorkloadSpec, image: string): Obj {
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

  private initDeployment(w: WorkloadSpec): void {
    const labels = w.labels ?? { app: w.name };
    const k = key(w.namespace, w.name);
    const first = w.history[0]!;
    const last = w.history[w.history.length - 1]!;
    const d: DeployState = {
      ns: w.namespace,
      name: w.name,
      uid: uidFor(`deploy/${k}`),
      rv: 0,
      generation: w.history.length,
      created: this.start - first.minutes_ago * 60_000,
      labels: { ...labels },
      annotations: { ...(w.annotations ?? {}) },
      spec: {
        replicas: w.replicas,
        selector: { matchLabels: { ...labels } },
        template: this.baseTemplate(w, imageRef(w, last)),
        strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: "25%", maxUnavailable: "25%" } },
        revisionHistoryLimit: 10,
        progressDeadlineSeconds: 600,
      },
      rollout: undefined,
      rolloutChangedAt: this.start - last.minutes_ago * 60_000,
      workload: w,
    };
    this.deployments.set(k, d);
    const timeline: TimelineEntry[] = [];
    let prev: RsState | undefined;
    w.history.forEach((e, i) => {
      const at = this.start - e.minutes_ago * 60_000;
      const rs = this.findOrCreateRs(d, this.baseTemplate(w, imageRef(w, e)), at);
      const isLast = i === w.history.length - 1;
      if (prev && prev !== rs) {
        this.recordEvent(
          at,
          this.deployRef(d),
          "ScalingReplicaSet",
          `Scaled down replica set ${prev.name} to 0 from ${w.replicas}`,
          "Normal",
          "deployment-controller",
        );
      }
      this.recordEvent(
        at,
        this.deployRef(d),
        "ScalingReplicaSet",
        `Scaled up replica set ${rs.name} to ${w.replicas}`,
        "Normal",
        "deployment-controller",
      );
      for (const other of this.rsOf(d)) other.replicas = 0;
      if (isLast) rs.replicas = w.replicas;
      timeline.push({ at, image: imageRef(w, e), replicas: w.replicas });
      prev = rs;
    });
    this.timelines.set(k, timeline);
    d.rv = this.nextRv();
    const current = this.currentRs(d);
    if (current) this.syncRsPods(current, this.start - last.minutes_ago * 60_000, true);
  }

  private initStatefulSet(w: WorkloadSpec): void {
    const labels = w.labels ?? { app: w.name };
    const k = key(w.namespace, w.name);
    const last = w.history[w.history.length - 1]!;
    const template = this.baseTemplate(w, imageRef(w, last));
    const rev = `${w.name}-${templateHash(template)}`;
    const s: StsState = {
      ns: w.namespace,
      name: w.name,
      uid: uidFor(`sts/${k}`),
      rv: 0,
      generation: w.history.length,
      created: this.start - w.history[0]!.minutes_ago * 60_000,
      labels: { ...labels },
      annotations: { ...(w.annotations ?? {}) },
      spec: {
        replicas: w.replicas,
        serviceName: w.name,
        selector: { matchLabels: { ...labels } },
        template,
        podManagementPolicy: "OrderedReady",
        updateStrategy: { type: "RollingUpdate", rollingUpdate: { partition: 0 } },
        revisionHistoryLimit: 10,
      },
      currentRevision: rev,
      updateRevision: rev,
      revisions: new Map([[rev, template]]),
      rollout: undefined,
      workload: w,
    };
    this.statefulSets.set(k, s);
    this.timelines.set(
      `sts:${k}`,
      w.history.map((e) => ({
        at: this.start - e.minutes_ago * 60_000,
        image: imageRef(w, e),
        replicas: w.replicas,
      })),
    );
    s.rv = this.nextRv();
    this.syncStsPods(s, this.start - last.minutes_ago * 60_000);
  }

  // ---------------------------------------------------------------- controllers

  private rsOf(d: DeployState): RsState[] {
    return [...this.replicaSets.values()].filter(
      (r) => r.ns === d.ns && r.owner === d.name && r.ownerUid === d.uid,
    );
  }

  private currentRs(d: DeployState): RsState | undefined {
    return this.rsOf(d).sort((a, b) => b.revision - a.revision)[0];
  }

  private findOrCreateRs(d: DeployState, template: Obj, at: number): RsState {
    const owned = this.rsOf(d);
    const maxRev = owned.reduce((m, r) => Math.max(m, r.revision), 0);
    const existing = owned.find((r) => templatesEqual(r.template, template));
    if (existing) {
      if (existing.revision !== maxRev) {
        existing.revisionHistory.push(existing.revision);
        existing.revision = maxRev + 1;
        existing.rv = this.nextRv();
      }
      return existing;
    }
    const revision = maxRev + 1;
    let collision = 0;
    let hash = templateHash(template);
    while (this.replicaSets.has(key(d.ns, `${d.name}-${hash}`))) hash = templateHash(template, ++collision);
    const t = structuredClone(withoutHash(template));
    const meta = isObj(t.metadata) ? t.metadata : {};
    meta.labels = { ...strMap(meta.labels), [TEMPLATE_HASH]: hash };
    t.metadata = meta;
    const rs: RsState = {
      ns: d.ns,
      name: `${d.name}-${hash}`,
      uid: uidFor(`rs/${d.ns}/${d.name}-${hash}/${at}`),
      rv: this.nextRv(),
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
    this.replicaSets.set(key(rs.ns, rs.name), rs);
    return rs;
  }

  private deployRef(d: DeployState): EventRecord["involved"] {
    return { kind: "Deployment", name: d.name, namespace: d.ns, uid: d.uid, apiVersion: "apps/v1" };
  }

  private recordEvent(
    at: number,
    involved: EventRecord["involved"],
    reason: string,
    message: string,
    type: "Normal" | "Warning",
    component: string,
  ): void {
    const same = this.events.find(
      (e) => e.involved.uid === involved.uid && e.reason === reason && e.message === message,
    );
    if (same) {
      same.count++;
      same.last = Math.max(same.last, at);
      same.rv = this.nextRv();
      return;
    }
    const name = `${involved.name}.${fnv32a(`${involved.uid}/${reason}/${message}/${at}`).toString(16).padStart(8, "0")}${nameSuffix(message).slice(0, 4)}`;
    this.events.push({
      ns: involved.namespace,
      name,
      uid: uidFor(`event/${name}`),
      rv: this.nextRv(),
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

  /** Sets a ReplicaSet's desired replicas and creates/deletes its pods to match. */
  private scaleRs(d: DeployState, rs: RsState, replicas: number, at: number): void {
    if (rs.replicas !== replicas) {
      const verb = replicas > rs.replicas ? "up" : "down";
      const from = rs.replicas > 0 ? ` from ${rs.replicas}` : "";
      this.recordEvent(
        at,
        this.deployRef(d),
        "ScalingReplicaSet",
        `Scaled ${verb} replica set ${rs.name} to ${replicas}${from}`,
        "Normal",
        "deployment-controller",
      );
      rs.replicas = replicas;
      rs.rv = this.nextRv();
    }
    this.syncRsPods(rs, at, false);
  }

  private podsOwnedBy(ns: string, ownerUid: string): PodState[] {
    return [...this.pods.values()].filter((p) => p.ns === ns && p.ownerUid === ownerUid);
  }

  private syncRsPods(rs: RsState, at: number, quiet: boolean): void {
    const pods = this.podsOwnedBy(rs.ns, rs.uid).sort((a, b) => a.created - b.created);
    const d = this.deployments.get(key(rs.ns, rs.owner));
    const w = d?.workload;
    if (!w) return;
    while (pods.length < rs.replicas) {
      const name = `${rs.name}-${nameSuffix(`${rs.uid}/${rs.podSeq++}`)}`;
      const pod: PodState = {
        ns: rs.ns,
        name,
        uid: uidFor(`pod/${rs.ns}/${name}/${at}`),
        rv: this.nextRv(),
        created: at,
        ownerKind: "ReplicaSet",
        owner: rs.name,
        ownerUid: rs.uid,
        revision: rs.hash,
        template: structuredClone(rs.template),
        ip: this.nextIp(),
        workload: w,
      };
      this.pods.set(key(pod.ns, pod.name), pod);
      pods.push(pod);
      if (!quiet) {
        const ref = {
          kind: "ReplicaSet",
          name: rs.name,
          namespace: rs.ns,
          uid: rs.uid,
          apiVersion: "apps/v1",
        };
        this.recordEvent(
          at,
          ref,
          "SuccessfulCreate",
          `Created pod: ${name}`,
          "Normal",
          "replicaset-controller",
        );
      }
    }
    while (pods.length > rs.replicas) {
      // The ReplicaSet controller deletes not-ready pods first, then the newest.
      pods.sort(
        (a, b) =>
          Number(this.podView(a, at).ready) - Number(this.podView(b, at).ready) || b.created - a.created,
      );
      const victim = pods.shift()!;
      this.killPod(victim, at);
      const ref = { kind: "ReplicaSet", name: rs.name, namespace: rs.ns, uid: rs.uid, apiVersion: "apps/v1" };
      this.recordEvent(
        at,
        ref,
        "SuccessfulDelete",
        `Deleted pod: ${victim.name}`,
        "Normal",
        "replicaset-controller",
      );
    }
  }

  private nextIp(): string {
    const n = this.podIpSeq++;
    return `10.244.${Math.floor(n / 250) % 250}.${(n % 250) + 2}`;
  }

  private killPod(pod: PodState, at: number): void {
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

  private stsPodTemplate(s: StsState, revision: string): Obj {
    return structuredClone(s.revisions.get(revision) ?? (s.spec.template as Obj));
  }

  private syncStsPods(s: StsState, at: number): void {
    const replicas = Number(s.spec.replicas ?? 0);
    let updated = replicas;
    if (s.rollout) {
      const p = this.progress(s.rollout.startedAt, at);
      updated = p >= 1 ? replicas : Math.floor(p * replicas);
      if (p >= 1) {
        s.rollout = undefined;
        s.currentRevision = s.updateRevision;
        s.rv = this.nextRv();
      }
    }
    for (const pod of this.podsOwnedBy(s.ns, s.uid)) {
      const ordinal = Number(pod.name.slice(s.name.length + 1));
      if (ordinal >= replicas) this.killPod(pod, at);
    }
    for (let i = 0; i < replicas; i++) {
      const wantRevision = i >= replicas - updated ? s.updateRevision : s.currentRevision;
      const name = `${s.name}-${i}`;
      const existing = this.pods.get(key(s.ns, name));
      if (existing && existing.revision === wantRevision) continue;
      if (existing) this.killPod(existing, at);
      const template = this.stsPodTemplate(s, wantRevision);
      const meta = isObj(template.metadata) ? template.metadata : {};
      meta.labels = {
        ...strMap(meta.labels),
        "controller-revision-hash": wantRevision,
        "statefulset.kubernetes.io/pod-name": name,
        "apps.kubernetes.io/pod-index": String(i),
      };
      template.metadata = meta;
      this.pods.set(key(s.ns, name), {
        ns: s.ns,
        name,
        uid: uidFor(`pod/${s.ns}/${name}/${at}/${wantRevision}`),
        rv: this.nextRv(),
        created: at,
        ownerKind: "StatefulSet",
        owner: s.name,
        ownerUid: s.uid,
        revision: wantRevision,
        template,
        ip: this.nextIp(),
        workload: s.workload,
      });
    }
  }

  private progress(startedAt: number, at: number): number {
    const ms = this.scenario.cluster.rollout_seconds * 1000;
    if (ms <= 0) return 1;
    return Math.min(1, Math.max(0, (at - startedAt) / ms));
  }

  private reconcileDeployment(d: DeployState, at: number): void {
    const desired = Number(d.spec.replicas ?? 1);
    const current = this.currentRs(d);
    if (!current) return;
    if (d.rollout) {
      const p = this.progress(d.rollout.startedAt, at);
      const target = this.replicaSets.get(key(d.ns, d.rollout.target)) ?? current;
      const newCount = p >= 1 ? desired : Math.min(desired, Math.ceil(p * desired));
      let remaining = desired - newCount;
      const byName = new Map(this.rsOf(d).map((r) => [r.name, r]));
      for (const old of [...d.rollout.from].sort(
        (a, b) => (byName.get(b.name)?.revision ?? 0) - (byName.get(a.name)?.revision ?? 0),
      )) {
        const rs = byName.get(old.name);
        if (!rs || rs === target) continue;
        const n = Math.min(old.replicas, remaining);
        remaining -= n;
        this.scaleRs(d, rs, n, at);
      }
      this.scaleRs(d, target, newCount, at);
      if (p >= 1) {
        d.rollout = undefined;
        d.rolloutChangedAt = at;
        for (const rs of this.rsOf(d)) if (rs !== target) this.scaleRs(d, rs, 0, at);
      }
      return;
    }
    for (const rs of this.rsOf(d)) if (rs !== current) this.scaleRs(d, rs, 0, at);
    this.scaleRs(d, current, desired, at);
  }

  /** Advances every controller to `now()`. */
  reconcile(): void {
    const at = this.now();
    for (const d of this.deployments.values()) this.reconcileDeployment(d, at);
    for (const s of this.statefulSets.values()) this.syncStsPods(s, at);
  }

  /** ms until the last running rollout ends (0 when none runs). */
  rolloutRemainingMs(): number {
    const at = this.now();
    const ms = this.scenario.cluster.rollout_seconds * 1000;
    let max = 0;
    for (const d of this.deployments.values())
      if (d.rollout) max = Math.max(max, d.rollout.startedAt + ms - at);
    for (const s of this.statefulSets.values())
      if (s.rollout) max = Math.max(max, s.rollout.startedAt + ms - at);
    return Math.max(0, max);
  }

  /** True while a Deployment or StatefulSet rollout is in progress. */
  rolling(): boolean {
    return (
      [...this.deployments.values()].some((d) => d.rollout) ||
      [...this.statefulSets.values()].some((s) => s.rollout)
    );
  }

  // ---------------------------------------------------------------- pod views

  /** The health profile of `image` for workload `w`: its own history first, then any workload's. */
  profileFor(w: WorkloadSpec, image: string): HealthProfile | undefined {
    const own = w.history.find((e) => imageRef(w, e) === image);
    return own?.health ?? this.profiles.get(image);
  }

  /** What a pod's (first) container is doing at `at` (ms). */
  podView(pod: PodState, at: number): PodView {
    const c = containersOf(pod.template)[0] ?? { name: "", image: "" };
    const { profile, sinceMs } = profileAt(this.profileFor(pod.workload, c.image), at - pod.created);
    if (!profile) return { ready: false, restarts: 0, profile, image: c.image, container: c.name };
    if (READY_STATES.has(profile.state))
      return { ready: true, restarts: 0, profile, image: c.image, container: c.name };
    return {
      ready: false,
      restarts: crashRestarts(profile, sinceMs),
      profile,
      image: c.image,
      container: c.name,
    };
  }

  // ---------------------------------------------------------------- object rendering

  private podObject(pod: PodState, at: number): Obj {
    const meta = isObj(pod.template.metadata) ? pod.template.metadata : {};
    const spec = isObj(pod.template.spec) ? pod.template.spec : {};
    const containers = containersOf(pod.template);
    const ownerApi = "apps/v1";
    const statuses = containers.map((c) => this.containerStatus(pod, c, at));
    const allReady = statuses.every((s) => s.ready === true);
    const pulling = statuses.some((s) => {
      const w = isObj(s.state) && isObj(s.state.waiting) ? s.state.waiting : undefined;
      return w !== undefined && (w.reason === "ErrImagePull" || w.reason === "ImagePullBackOff");
    });
    const created = k8sTime(pod.created);
    const cond = (type: string, ok: boolean, reason?: string, message?: string) => ({
      type,
      status: ok ? "True" : "False",
      lastProbeTime: null,
      lastTransitionTime: created,
      ...(ok ? {} : { reason, message }),
    });
    const notReady = statuses.filter((s) => !s.ready).map((s) => s.name);
    const nrMessage = `containers with unready status: [${notReady.join(" ")}]`;
    return {
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        name: pod.name,
        ...(pod.ownerKind === "ReplicaSet" ? { generateName: `${pod.owner}-` } : {}),
        namespace: pod.ns,
        uid: pod.uid,
        resourceVersion: String(pod.rv),
        creationTimestamp: created,
        labels: strMap(meta.labels),
        ...(isObj(meta.annotations) ? { annotations: strMap(meta.annotations) } : {}),
        ownerReferences: [
          {
            apiVersion: ownerApi,
            kind: pod.ownerKind,
            name: pod.owner,
            uid: pod.ownerUid,
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
      spec: {
        ...structuredClone(spec),
        nodeName: NODE,
        serviceAccountName: "default",
        ...(pod.ownerKind === "StatefulSet" ? { hostname: pod.name, subdomain: pod.owner } : {}),
      },
      status: {
        phase: pulling ? "Pending" : "Running",
        conditions: [
          cond("PodReadyToStartContainers", true),
          cond("Initialized", true),
          cond("Ready", allReady, "ContainersNotReady", nrMessage),
          cond("ContainersReady", allReady, "ContainersNotReady", nrMessage),
          cond("PodScheduled", true),
        ],
        hostIP: "172.18.0.2",
        podIP: pod.ip,
        podIPs: [{ ip: pod.ip }],
        startTime: created,
        containerStatuses: statuses,
        qosClass: "Burstable",
      },
    };
  }

  private containerStatus(pod: PodState, c: { name: string; image: string }, at: number): Obj {
    const { profile, sinceMs } = profileAt(this.profileFor(pod.workload, c.image), at - pod.created);
    const containerID = `containerd://${fnv32a(`${pod.uid}/${c.name}`).toString(16).padStart(8, "0").repeat(8)}`;
    const imageID = `${c.image.split(":")[0]}@sha256:${fnv32a(c.image).toString(16).padStart(8, "0").repeat(8)}`;
    const started = pod.created + 2000;
    if (!profile) {
      const pullBackOff = at - pod.created > 15_000;
      return {
        name: c.name,
        image: c.image,
        imageID: "",
        ready: false,
        started: false,
        restartCount: 0,
        state: {
          waiting: pullBackOff
            ? { reason: "ImagePullBackOff", message: `Back-off pulling image "${c.image}"` }
            : { reason: "ErrImagePull", message: this.pullError(c.image) },
        },
        lastState: {},
      };
    }
    if (READY_STATES.has(profile.state)) {
      return {
        name: c.name,
        image: c.image,
        imageID,
        containerID,
        ready: true,
        started: true,
        restartCount: 0,
        state: { running: { startedAt: k8sTime(started) } },
        lastState: {},
      };
    }
    const restarts = crashRestarts(profile, sinceMs);
    const oom = profile.state === "oom";
    const finished = Math.max(started, at - 5000);
    return {
      name: c.name,
      image: c.image,
      imageID,
      containerID,
      ready: false,
      started: false,
      restartCount: restarts,
      state: {
        waiting: {
          reason: "CrashLoopBackOff",
          message: `back-off 5m0s restarting failed container=${c.name} pod=${pod.name}_${pod.ns}(${pod.uid})`,
        },
      },
      lastState: {
        terminated: {
          exitCode: oom ? 137 : (profile.exit_code ?? 1),
          reason: oom ? "OOMKilled" : "Error",
          ...(profile.termination_message !== undefined ? { message: profile.termination_message } : {}),
          startedAt: k8sTime(Math.max(started, finished - 3000)),
          finishedAt: k8sTime(finished),
          containerID,
        },
      },
    };
  }

  private pullError(image: string): string {
    return `rpc error: code = NotFound desc = failed to pull and unpack image "${image}": failed to resolve reference "${image}": ${image}: not found`;
  }

  private deployStatus(d: DeployState, at: number): Obj {
    const desired = Number(d.spec.replicas ?? 1);
    const current = this.currentRs(d);
    let total = 0;
    let ready = 0;
    let updated = 0;
    for (const rs of this.rsOf(d)) {
      for (const p of this.podsOwnedBy(d.ns, rs.uid)) {
        total++;
        if (this.podView(p, at).ready) ready++;
        if (rs === current) updated++;
      }
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

  private deploymentObject(d: DeployState, at: number): Obj {
    const current = this.currentRs(d);
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
      status: this.deployStatus(d, at),
    };
  }

  private rsObject(rs: RsState, at: number): Obj {
    const d = this.deployments.get(key(rs.ns, rs.owner));
    const pods = this.podsOwnedBy(rs.ns, rs.uid);
    const ready = pods.filter((p) => this.podView(p, at).ready).length;
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
          "deployment.kubernetes.io/desired-replicas": String(desired),
          "deployment.kubernetes.io/max-replicas": String(desired + Math.ceil(desired * 0.25)),
          [REVISION_ANNOTATION]: String(rs.revision),
          ...(rs.revisionHistory.length
            ? { "deployment.kubernetes.io/revision-history": rs.revisionHistory.join(",") }
            : {}),
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
        selector: { matchLabels: { ...selector, [TEMPLATE_HASH]: rs.hash } },
        template: structuredClone(rs.template),
      },
      status: {
        replicas: pods.length,
        fullyLabeledReplicas: pods.length,
        readyReplicas: ready,
        availableReplicas: ready,
        observedGeneration: 1,
      },
    };
  }

  private stsObject(s: StsState, at: number): Obj {
    const pods = this.podsOwnedBy(s.ns, s.uid);
    const ready = pods.filter((p) => this.podView(p, at).ready).length;
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

  private nsObject(ns: NsState): Obj {
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

  // ---------------------------------------------------------------- reads

  /** Labels of a namespace (for RBAC), or undefined when it does not exist. */
  namespaceLabels(ns: string): Record<string, string> | undefined {
    return this.namespaces.get(ns)?.labels;
  }

  /** All Namespace objects. */
  listNamespaces(): Obj[] {
    return [...this.namespaces.values()].map((n) => this.nsObject(n));
  }

  /** One Namespace. @throws StatusError 404. */
  getNamespace(name: string): Obj {
    const ns = this.namespaces.get(name);
    if (!ns) throw notFound("namespaces", "", name);
    return this.nsObject(ns);
  }

  private requireNs(ns: string): void {
    if (!this.namespaces.has(ns)) throw notFound("namespaces", "", ns);
  }

  /** Deployments in `ns` (all namespaces when undefined). */
  listDeployments(ns: string | undefined): Obj[] {
    const at = this.now();
    return [...this.deployments.values()]
      .filter((d) => ns === undefined || d.ns === ns)
      .map((d) => this.deploymentObject(d, at));
  }

  private deployment(ns: string, name: string): DeployState {
    const d = this.deployments.get(key(ns, name));
    if (!d) throw notFound("deployments", "apps", name);
    return d;
  }

  /** One Deployment. @throws StatusError 404. */
  getDeployment(ns: string, name: string): Obj {
    return this.deploymentObject(this.deployment(ns, name), this.now());
  }

  /** The `autoscaling/v1` Scale of a Deployment. @throws StatusError 404. */
  getDeploymentScale(ns: string, name: string): Obj {
    const d = this.deployment(ns, name);
    const status = this.deployStatus(d, this.now());
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

  /** ReplicaSets in `ns` (all when undefined). */
  listReplicaSets(ns: string | undefined): Obj[] {
    const at = this.now();
    return [...this.replicaSets.values()]
      .filter((r) => ns === undefined || r.ns === ns)
      .sort((a, b) => a.created - b.created)
      .map((r) => this.rsObject(r, at));
  }

  /** One ReplicaSet. @throws StatusError 404. */
  getReplicaSet(ns: string, name: string): Obj {
    const rs = this.replicaSets.get(key(ns, name));
    if (!rs) throw notFound("replicasets", "apps", name);
    return this.rsObject(rs, this.now());
  }

  /** StatefulSets in `ns` (all when undefined). */
  listStatefulSets(ns: string | undefined): Obj[] {
    const at = this.now();
    return [...this.statefulSets.values()]
      .filter((s) => ns === undefined || s.ns === ns)
      .map((s) => this.stsObject(s, at));
  }

  private statefulSet(ns: string, name: string): StsState {
    const s = this.statefulSets.get(key(ns, name));
    if (!s) throw notFound("statefulsets", "apps", name);
    return s;
  }

  /** One StatefulSet. @throws StatusError 404. */
  getStatefulSet(ns: string, name: string): Obj {
    return this.stsObject(this.statefulSet(ns, name), this.now());
  }

  /** Pods in `ns` (all when undefined), oldest first. */
  listPods(ns: string | undefined): Obj[] {
    const at = this.now();
    return [...this.pods.values()]
      .filter((p) => ns === undefined || p.ns === ns)
      .sort((a, b) => a.created - b.created || (a.name < b.name ? -1 : 1))
      .map((p) => this.podObject(p, at));
  }

  private pod(ns: string, name: string): PodState {
    const p = this.pods.get(key(ns, name));
    if (!p) throw notFound("pods", "", name);
    return p;
  }

  /** One Pod. @throws StatusError 404. */
  getPod(ns: string, name: string): Obj {
    return this.podObject(this.pod(ns, name), this.now());
  }

  /** The pods of a workload (Deployment via its ReplicaSets, or StatefulSet) with their views; empty when it does not exist. */
  workloadPods(ns: string, name: string): Array<{ name: string; created: number; view: PodView }> {
    const at = this.now();
    const d = this.deployments.get(key(ns, name));
    const s = this.statefulSets.get(key(ns, name));
    const owners = new Set<string>();
    if (d) for (const rs of this.rsOf(d)) owners.add(rs.uid);
    if (s) owners.add(s.uid);
    return [...this.pods.values()]
      .filter((p) => p.ns === ns && owners.has(p.ownerUid))
      .map((p) => ({ name: p.name, created: p.created, view: this.podView(p, at) }));
  }

  /** Pods of `ns` whose name matches `re`, with their views (for the restarts query). */
  podsMatching(ns: string, re: RegExp): Array<{ name: string; created: number; view: PodView }> {
    const at = this.now();
    return [...this.pods.values()]
      .filter((p) => p.ns === ns && re.test(p.name))
      .map((p) => ({ name: p.name, created: p.created, view: this.podView(p, at) }));
  }

  /** A pod's restart count at `at` (ms), for `increase()` over a window. */
  restartsAt(ns: string, podName: string, at: number): number {
    const p = this.pods.get(key(ns, podName));
    return p ? this.podView(p, at).restarts : 0;
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
    return this.timelines.get(key(ns, name)) ?? this.timelines.get(`sts:${key(ns, name)}`) ?? [];
  }

  /**
   * The `previous`/current log lines of a pod's container: the image's profile lines (a default line for a
   * healthy image without lines).
   * @throws StatusError 404 for an unknown pod, 400 for an unknown container, a container still waiting for its
   *   image, or `previous` on a container that never terminated.
   */
  podLog(
    ns: string,
    name: string,
    opts: { container?: string; previous: boolean },
  ): { lines: string[]; end: number } {
    const at = this.now();
    const pod = this.pod(ns, name);
    const containers = containersOf(pod.template);
    const c =
      opts.container === undefined ? containers[0] : containers.find((x) => x.name === opts.container);
    if (!c) {
      if (opts.container === undefined)
        throw new StatusError(400, `a container name must be specified for pod ${name}`);
      throw new StatusError(400, `container ${opts.container} is not valid for pod ${name}`);
    }
    const { profile } = profileAt(this.profileFor(pod.workload, c.image), at - pod.created);
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

  /** Persisted events plus the ones derived from pods' current state, as core/v1 Event objects. */
  listEvents(ns: string | undefined): Obj[] {
    const at = this.now();
    const cutoff = at - 3_600_000; // the API server's default --event-ttl is 1h
    const records = [...this.events, ...this.derivedEvents(at)].filter((e) => e.last >= cutoff);
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

  private derivedEvents(at: number): EventRecord[] {
    const out: EventRecord[] = [];
    for (const pod of this.pods.values()) {
      const view = this.podView(pod, at);
      const c = view.container;
      const involved = {
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
        const name = `${pod.name}.${fnv32a(`${pod.uid}/${reason}/${message}`).toString(16).padStart(8, "0")}`;
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
        ev(
          "Failed",
          `Failed to pull image "${view.image}": ${this.pullError(view.image)}`,
          "Warning",
          pod.created + 2000,
          at,
          n,
        );
        ev("Failed", "Error: ErrImagePull", "Warning", pod.created + 2000, at, n);
        if (at - pod.created > 15_000) {
          ev("BackOff", `Back-off pulling image "${view.image}"`, "Normal", pod.created + 15_000, at, n);
          ev("Failed", "Error: ImagePullBackOff", "Warning", pod.created + 15_000, at, n);
        }
        continue;
      }
      const starts = view.restarts + 1;
      ev(
        "Pulled",
        `Container image "${view.image}" already present on machine`,
        "Normal",
        pod.created + 1000,
        at - (view.ready ? at - pod.created - 1000 : 0),
        starts,
      );
      ev(
        "Created",
        `Created container ${c}`,
        "Normal",
        pod.created + 1500,
        view.ready ? pod.created + 1500 : at,
        starts,
      );
      ev(
        "Started",
        `Started container ${c}`,
        "Normal",
        pod.created + 2000,
        view.ready ? pod.created + 2000 : at,
        starts,
      );
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

  // ---------------------------------------------------------------- writes

  /** Every logged mutation, oldest first (a copy). */
  mutations(): Mutation[] {
    return this.mutationLog.map((m) => ({ ...m }));
  }

  private logMutation(m: Omit<Mutation, "seq" | "at">): void {
    this.mutationLog.push({ seq: this.mutationLog.length + 1, at: new Date(this.now()).toISOString(), ...m });
  }

  /**
   * Writes a Deployment: `mutate` gets the current object and returns the desired one (a patch applied or a PUT
   * body). Validates, checks `metadata.resourceVersion` (optimistic concurrency), then persists unless `dryRun`,
   * starting a rollout when the pod template changed.
   * @throws StatusError 404, 409 Conflict (stale resourceVersion), 422 Invalid (bad spec), 400 (name mismatch).
   */
  writeDeployment(
    ns: string,
    name: string,
    user: SandboxUser,
    verb: "patch" | "update",
    resource: "deployments" | "deployments/scale",
    dryRun: boolean,
    mutate: (current: Obj) => Obj,
  ): Obj {
    this.requireNs(ns);
    const d = this.deployment(ns, name);
    const at = this.now();
    const current = this.deploymentObject(d, at);
    const next = mutate(structuredClone(current));
    const meta = isObj(next.metadata) ? next.metadata : {};
    if (meta.name !== undefined && meta.name !== name) {
      throw new StatusError(
        400,
        `the name of the object (${String(meta.name)}) does not match the name on the URL (${name})`,
      );
    }
    if (
      meta.resourceVersion !== undefined &&
      meta.resourceVersion !== null &&
      String(meta.resourceVersion) !== String(d.rv)
    ) {
      throw conflict("deployments", "apps", name);
    }
    const spec = isObj(next.spec) ? next.spec : {};
    this.validateDeploymentSpec(d, spec, resource === "deployments/scale" ? "Scale" : "Deployment");
    const templateChanged = !templatesEqual(spec.template as Obj, d.spec.template as Obj);
    const oldReplicas = Number(d.spec.replicas ?? 1);
    const newReplicas = Number(spec.replicas ?? 1);
    const specChanged = stableStringify(spec) !== stableStringify(d.spec);
    const labels = strMap(meta.labels);
    const annotations = strMap(meta.annotations);
    delete annotations[REVISION_ANNOTATION];
    const metaChanged =
      stableStringify(labels) !== stableStringify(d.labels) ||
      stableStringify(annotations) !== stableStringify(d.annotations);
    if (dryRun) {
      const out = structuredClone(current);
      out.spec = structuredClone(spec);
      const om = out.metadata as Obj;
      om.labels = labels;
      om.annotations = {
        ...annotations,
        [REVISION_ANNOTATION]: (current.metadata as Obj & { annotations: Obj }).annotations[
          REVISION_ANNOTATION
        ],
      };
      if (specChanged) om.generation = d.generation + 1;
      return out;
    }
    if (!specChanged && !metaChanged) return current;
    const summary = this.describeChange(d.spec, spec, d.annotations, annotations);
    d.spec = structuredClone(spec);
    d.labels = labels;
    d.annotations = annotations;
    d.rv = this.nextRv();
    if (specChanged) d.generation++;
    const k = key(ns, name);
    if (templateChanged) {
      const from = this.rsOf(d)
        .filter((r) => r.replicas > 0)
        .map((r) => ({ name: r.name, replicas: r.replicas }));
      const target = this.findOrCreateRs(d, spec.template as Obj, at);
      d.rollout = { startedAt: at, target: target.name, from: from.filter((f) => f.name !== target.name) };
      d.rolloutChangedAt = at;
      this.timelines
        .get(k)
        ?.push({ at, image: containersOf(spec.template as Obj)[0]?.image ?? "", replicas: newReplicas });
    } else if (oldReplicas !== newReplicas) {
      const tl = this.timelines.get(k);
      const last = tl?.[tl.length - 1];
      tl?.push({
        at,
        image: last?.image ?? containersOf(spec.template as Obj)[0]?.image ?? "",
        replicas: newReplicas,
      });
    }
    this.reconcileDeployment(d, at);
    this.logMutation({ user, verb, resource, namespace: ns, name, kind: "Deployment", summary });
    return this.deploymentObject(d, at);
  }

  /**
   * Patches the Scale subresource of a Deployment (`spec.replicas` only).
   * @throws StatusError 404, 409, 422 as {@link writeDeployment}.
   */
  writeDeploymentScale(
    ns: string,
    name: string,
    user: SandboxUser,
    verb: "patch" | "update",
    dryRun: boolean,
    mutate: (scale: Obj) => Obj,
  ): Obj {
    const scale = this.getDeploymentScale(ns, name);
    const next = mutate(structuredClone(scale));
    const nextSpec = isObj(next.spec) ? next.spec : {};
    const meta = isObj(next.metadata) ? next.metadata : {};
    const result = this.writeDeployment(ns, name, user, verb, "deployments/scale", dryRun, (d) => {
      const dm = d.metadata as Obj;
      if (meta.resourceVersion !== undefined) dm.resourceVersion = meta.resourceVersion;
      (d.spec as Obj).replicas = nextSpec.replicas;
      return d;
    });
    const out = dryRun ? { ...scale } : this.getDeploymentScale(ns, name);
    if (dryRun) out.spec = { replicas: (result.spec as Obj).replicas };
    return out;
  }

  private validateDeploymentSpec(d: DeployState, spec: Obj, kind: "Deployment" | "Scale"): void {
    const causes: StatusCause[] = [];
    const invalidValue = (field: string, value: unknown, why: string) =>
      causes.push({
        reason: "FieldValueInvalid",
        message: `Invalid value: ${JSON.stringify(value)}: ${why}`,
        field,
      });
    const required = (field: string) =>
      causes.push({ reason: "FieldValueRequired", message: "Required value", field });
    const replicas = spec.replicas;
    if (replicas !== undefined && (typeof replicas !== "number" || !Number.isInteger(replicas))) {
      invalidValue("spec.replicas", replicas, "must be an integer");
    } else if (typeof replicas === "number" && replicas < 0) {
      invalidValue("spec.replicas", replicas, "must be greater than or equal to 0");
    }
    if (kind === "Scale") {
      if (causes.length) throw invalid("Scale", "autoscaling", d.name, causes);
      return;
    }
    const template = spec.template;
    if (!isObj(template)) required("spec.template");
    else {
      const selector = isObj(spec.selector) ? strMap(spec.selector.matchLabels) : {};
      const labels = templateLabels(template);
      if (Object.entries(selector).some(([k, v]) => labels[k] !== v)) {
        invalidValue("spec.template.metadata.labels", labels, "`selector` does not match template `labels`");
      }
      const tspec = isObj(template.spec) ? template.spec : undefined;
      const containers = tspec && Array.isArray(tspec.containers) ? tspec.containers : undefined;
      if (!containers || containers.length === 0) required("spec.template.spec.containers");
      else {
        containers.forEach((c, i) => {
          if (!isObj(c) || typeof c.name !== "string" || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(c.name)) {
            required(`spec.template.spec.containers[${i}].name`);
          }
          if (!isObj(c) || typeof c.image !== "string" || c.image.trim() === "") {
            required(`spec.template.spec.containers[${i}].image`);
          }
        });
      }
    }
    if (stableStringify(spec.selector) !== stableStringify(d.spec.selector)) {
      invalidValue("spec.selector", spec.selector, "field is immutable");
    }
    if (causes.length) throw invalid("Deployment", "apps", d.name, causes);
  }

  private describeChange(
    oldSpec: Obj,
    newSpec: Obj,
    oldAnn: Record<string, string>,
    newAnn: Record<string, string>,
  ): string {
    const parts: string[] = [];
    const oldImages = containersOf(oldSpec.template as Obj);
    const newImages = containersOf(newSpec.template as Obj);
    for (const c of newImages) {
      const o = oldImages.find((x) => x.name === c.name);
      if (o && o.image !== c.image) parts.push(`image ${c.name}: ${o.image} → ${c.image}`);
      if (!o) parts.push(`container ${c.name} added (${c.image})`);
    }
    if (oldSpec.replicas !== newSpec.replicas)
      parts.push(`replicas ${String(oldSpec.replicas)} → ${String(newSpec.replicas)}`);
    const oldT = strMap(
      isObj((oldSpec.template as Obj)?.metadata)
        ? ((oldSpec.template as Obj).metadata as Obj).annotations
        : {},
    );
    const newT = strMap(
      isObj((newSpec.template as Obj)?.metadata)
        ? ((newSpec.template as Obj).metadata as Obj).annotations
        : {},
    );
    for (const [k, v] of Object.entries(newT)) if (oldT[k] !== v) parts.push(`template annotation ${k}=${v}`);
    for (const [k, v] of Object.entries(newAnn)) if (oldAnn[k] !== v) parts.push(`annotation ${k}=${v}`);
    if (parts.length === 0) parts.push("spec changed");
    return parts.join("; ");
  }

  /**
   * Patches a StatefulSet (e.g. the `kubectl.kubernetes.io/restartedAt` template annotation): a template change
   * makes a new controller revision and rolls the pods from the highest ordinal down.
   * @throws StatusError 404, 409, 422.
   */
  writeStatefulSet(
    ns: string,
    name: string,
    user: SandboxUser,
    verb: "patch" | "update",
    dryRun: boolean,
    mutate: (current: Obj) => Obj,
  ): Obj {
    this.requireNs(ns);
    const s = this.statefulSet(ns, name);
    const at = this.now();
    const current = this.stsObject(s, at);
    const next = mutate(structuredClone(current));
    const meta = isObj(next.metadata) ? next.metadata : {};
    if (
      meta.resourceVersion !== undefined &&
      meta.resourceVersion !== null &&
      String(meta.resourceVersion) !== String(s.rv)
    ) {
      throw conflict("statefulsets", "apps", name);
    }
    const spec = isObj(next.spec) ? next.spec : {};
    const causes: StatusCause[] = [];
    if (
      spec.replicas !== undefined &&
      (typeof spec.replicas !== "number" || !Number.isInteger(spec.replicas) || spec.replicas < 0)
    ) {
      causes.push({
        reason: "FieldValueInvalid",
        message: `Invalid value: ${JSON.stringify(spec.replicas)}: must be greater than or equal to 0`,
        field: "spec.replicas",
      });
    }
    if (
      !isObj(spec.template) ||
      containersOf(spec.template).length === 0 ||
      containersOf(spec.template).some((c) => !c.image)
    ) {
      causes.push({
        reason: "FieldValueRequired",
        message: "Required value",
        field: "spec.template.spec.containers",
      });
    }
    if (causes.length) throw invalid("StatefulSet", "apps", name, causes);
    const specChanged = stableStringify(spec) !== stableStringify(s.spec);
    const labels = strMap(meta.labels);
    const annotations = strMap(meta.annotations);
    const metaChanged =
      stableStringify(labels) !== stableStringify(s.labels) ||
      stableStringify(annotations) !== stableStringify(s.annotations);
    if (dryRun) {
      const out = structuredClone(current);
      out.spec = structuredClone(spec);
      if (specChanged) (out.metadata as Obj).generation = s.generation + 1;
      return out;
    }
    if (!specChanged && !metaChanged) return current;
    const summary = this.describeChange(s.spec, spec, s.annotations, annotations);
    const templateChanged = !templatesEqual(spec.template as Obj, s.spec.template as Obj);
    s.spec = structuredClone(spec);
    s.labels = labels;
    s.annotations = annotations;
    s.rv = this.nextRv();
    if (specChanged) s.generation++;
    if (templateChanged) {
      const rev = `${s.name}-${templateHash(spec.template as Obj)}`;
      s.revisions.set(rev, structuredClone(spec.template as Obj));
      s.updateRevision = rev;
      s.rollout = rev === s.currentRevision ? undefined : { startedAt: at };
      this.timelines.get(`sts:${key(ns, name)}`)?.push({
        at,
        image: containersOf(spec.template as Obj)[0]?.image ?? "",
        replicas: Number(spec.replicas ?? 1),
      });
    }
    this.syncStsPods(s, at);
    this.logMutation({
      user,
      verb,
      resource: "statefulsets",
      namespace: ns,
      name,
      kind: "StatefulSet",
      summary,
    });
    return this.stsObject(s, at);
  }

  /** Deletes a Deployment with its ReplicaSets and pods (background propagation). @throws StatusError 404. */
  deleteDeployment(ns: string, name: string, user: SandboxUser, dryRun: boolean): Obj {
    const d = this.deployment(ns, name);
    const status = {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Success",
      details: { name, group: "apps", kind: "deployments", uid: d.uid },
    };
    if (dryRun) return status;
    const at = this.now();
    for (const rs of this.rsOf(d)) {
      for (const p of this.podsOwnedBy(ns, rs.uid)) this.killPod(p, at);
      this.replicaSets.delete(key(ns, rs.name));
    }
    this.deployments.delete(key(ns, name));
    this.logMutation({
      user,
      verb: "delete",
      resource: "deployments",
      namespace: ns,
      name,
      kind: "Deployment",
      summary: "deleted with its ReplicaSets and pods",
    });
    return status;
  }

  /** Deletes a StatefulSet and its pods. @throws StatusError 404. */
  deleteStatefulSet(ns: string, name: string, user: SandboxUser, dryRun: boolean): Obj {
    const s = this.statefulSet(ns, name);
    const status = {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Success",
      details: { name, group: "apps", kind: "statefulsets", uid: s.uid },
    };
    if (dryRun) return status;
    const at = this.now();
    for (const p of this.podsOwnedBy(ns, s.uid)) this.killPod(p, at);
    this.statefulSets.delete(key(ns, name));
    this.logMutation({
      user,
      verb: "delete",
      resource: "statefulsets",
      namespace: ns,
      name,
      kind: "StatefulSet",
      summary: "deleted with its pods",
    });
    return status;
  }

  /** Deletes a pod (its controller replaces it at once, with a new name for ReplicaSet pods). Returns the deleted Pod. @throws StatusError 404. */
  deletePod(ns: string, name: string, user: SandboxUser, dryRun: boolean): Obj {
    const p = this.pod(ns, name);
    const at = this.now();
    const obj = this.podObject(p, at);
    if (dryRun) return obj;
    this.killPod(p, at);
    this.logMutation({
      user,
      verb: "delete",
      resource: "pods",
      namespace: ns,
      name,
      kind: "Pod",
      summary: `deleted pod (owner ${p.ownerKind} ${p.owner})`,
    });
    this.reconcile();
    return obj;
  }

  // ---------------------------------------------------------------- snapshot

  /** The world for a UI: namespaces and workloads with replica counts, revision, image, SHA and health. */
  snapshot(): ClusterSnapshot {
    const at = this.now();
    const workloads: WorkloadSnapshot[] = [];
    const isProtected = (ns: string) => this.namespaces.get(ns)?.labels[PROTECTED_LABEL] === "true";
    const health = (
      pods: Array<{ view: PodView }>,
      desired: number,
      rolling: boolean,
    ): WorkloadSnapshot["health"] => {
      if (rolling) return "progressing";
      const ready = pods.filter((p) => p.view.ready).length;
      if (pods.some((p) => !p.view.profile || !READY_STATES.has(p.view.profile.state)))
        return ready === 0 ? "failing" : "degraded";
      if (pods.some((p) => p.view.profile && p.view.profile.state !== "healthy") || ready < desired)
        return "degraded";
      return "healthy";
    };
    for (const d of this.deployments.values()) {
      const status = this.deployStatus(d, at);
      const image = containersOf(d.spec.template as Obj)[0]?.image ?? "";
      const desired = Number(d.spec.replicas ?? 1);
      workloads.push({
        kind: "Deployment",
        namespace: d.ns,
        name: d.name,
        replicas: {
          desired,
          ready: Number(status.readyReplicas ?? 0),
          updated: Number(status.updatedReplicas ?? 0),
          available: Number(status.availableReplicas ?? 0),
        },
        revision: this.currentRs(d)?.revision ?? null,
        image,
        sha: this.shaOf(d.workload, image),
        health: health(this.workloadPods(d.ns, d.name), desired, d.rollout !== undefined),
        protected: isProtected(d.ns),
      });
    }
    for (const s of this.statefulSets.values()) {
      const obj = this.stsObject(s, at);
      const status = obj.status as Obj;
      const image = containersOf(s.spec.template as Obj)[0]?.image ?? "";
      const desired = Number(s.spec.replicas ?? 1);
      workloads.push({
        kind: "StatefulSet",
        namespace: s.ns,
        name: s.name,
        replicas: {
          desired,
          ready: Number(status.readyReplicas ?? 0),
          updated: Number(status.updatedReplicas ?? 0),
          available: Number(status.availableReplicas ?? 0),
        },
        revision: null,
        image,
        sha: this.shaOf(s.workload, image),
        health: health(this.workloadPods(s.ns, s.name), desired, s.rollout !== undefined),
        protected: isProtected(s.ns),
      });
    }
    return {
      at: new Date(at).toISOString(),
      namespaces: [...this.namespaces.values()].map((n) => ({
        name: n.name,
        labels: { ...n.labels },
        protected: n.labels[PROTECTED_LABEL] === "true",
      })),
      workloads,
      mutations: this.mutationLog.length,
    };
  }

  private shaOf(w: WorkloadSpec, image: string): string | null {
    const entry = w.history.find((e) => imageRef(w, e) === image);
    if (entry) return entry.sha;
    const last = image.split("/").pop() ?? "";
    const i = last.indexOf(":");
    return i >= 0 ? last.slice(i + 1) : null;
  }
}
