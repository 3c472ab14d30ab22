import type { HealthProfile, WorkloadSpec } from "../../../scenarios/schema.js";
import type { SandboxUser } from "../rbac.js";

/**
 * The shapes of the sandbox world: what the console and the REST server see (exported from `index.ts`)
 * and the controllers' internal records (one per namespace, Deployment, ReplicaSet, StatefulSet, Pod and
 * Event). Times are epoch ms unless a field says ISO-8601.
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

/** The container view of a pod at an instant. */
export interface PodView {
  ready: boolean;
  restarts: number;
  /** The image's health profile, undefined when the image is in no scenario history (it cannot be pulled). */
  profile: HealthProfile | undefined;
  image: string;
  container: string;
}

/** A pod with its view, as `workloadPods`/`podsMatching` return it (`created` in epoch ms). */
export interface PodSummary {
  name: string;
  created: number;
  view: PodView;
}

/** Which image ran with how many replicas from `at` (epoch ms). */
export interface TimelineEntry {
  at: number;
  image: string;
  replicas: number;
}

/** The fields every stored object has: namespace, name, uid, resourceVersion counter, creation time. */
export interface Stored {
  ns: string;
  name: string;
  uid: string;
  rv: number;
  created: number;
}

/** A namespace. */
export interface NsState extends Omit<Stored, "ns"> {
  labels: Record<string, string>;
}

/** A Deployment rollout in progress: pods move from `from` ReplicaSets to `target` over `rollout_seconds`. */
export interface Rollout {
  startedAt: number;
  target: string;
  from: Array<{ name: string; replicas: number }>;
}

/** A Deployment. `spec` is the apps/v1 DeploymentSpec as last written. */
export interface DeployState extends Stored {
  generation: number;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  spec: Obj;
  rollout: Rollout | undefined;
  rolloutChangedAt: number;
  workload: WorkloadSpec;
}

/** A ReplicaSet owned by Deployment `owner`; `revision` is its `deployment.kubernetes.io/revision`. */
export interface RsState extends Stored {
  owner: string;
  ownerUid: string;
  revision: number;
  revisionHistory: number[];
  hash: string;
  template: Obj;
  replicas: number;
  podSeq: number;
}

/** A StatefulSet with its controller revisions (name → pod template). */
export interface StsState extends Stored {
  generation: number;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  spec: Obj;
  currentRevision: string;
  updateRevision: string;
  revisions: Map<string, Obj>;
  rollout: { startedAt: number } | undefined;
  workload: WorkloadSpec;
}

/** A Pod owned by a ReplicaSet or a StatefulSet. */
export interface PodState extends Stored {
  ownerKind: "ReplicaSet" | "StatefulSet";
  owner: string;
  ownerUid: string;
  /** pod-template-hash (ReplicaSet pods) or controller-revision-hash (StatefulSet pods). */
  revision: string;
  template: Obj;
  ip: string;
  workload: WorkloadSpec;
}

/** The object an event is about (core/v1 ObjectReference). */
export interface InvolvedRef {
  kind: string;
  name: string;
  namespace: string;
  uid: string;
  apiVersion: string;
  fieldPath?: string;
}

/** A core/v1 Event as stored: `first`/`last` seen (epoch ms) and how often. */
export interface EventRecord {
  ns: string;
  name: string;
  uid: string;
  rv: number;
  involved: InvolvedRef;
  reason: string;
  message: string;
  type: "Normal" | "Warning";
  component: string;
  first: number;
  last: number;
  count: number;
}
