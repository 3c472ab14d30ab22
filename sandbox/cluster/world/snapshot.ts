import { imageRef, type WorkloadSpec } from "../../../scenarios/schema.js";
import { PROTECTED_LABEL } from "../../../src/contracts/k8s.js";
import { deployStatus, stsObject } from "./render.js";
import type { WorldState } from "./state.js";
import { firstImage, READY_STATES } from "./template.js";
import type { ClusterSnapshot, Obj, PodSummary, WorkloadSnapshot } from "./types.js";

/**
 * The world for a UI: namespaces and workloads with replica counts, revision, image, SHA and health.
 * `workloadPods(ns, name)` gives a workload's pods with their views (see `World.workloadPods`).
 */
export function snapshot(
  st: WorldState,
  workloadPods: (ns: string, name: string) => PodSummary[],
): ClusterSnapshot {
  const at = st.now();
  const isProtected = (ns: string) => st.namespaces.get(ns)?.labels[PROTECTED_LABEL] === "true";
  const row = (
    kind: WorkloadSnapshot["kind"],
    w: { ns: string; name: string; spec: Obj; workload: WorkloadSpec; rollout: unknown },
    status: Obj,
    revision: number | null,
  ): WorkloadSnapshot => {
    const image = firstImage(w.spec.template);
    const desired = Number(w.spec.replicas ?? 1);
    return {
      kind,
      namespace: w.ns,
      name: w.name,
      replicas: {
        desired,
        ready: Number(status.readyReplicas ?? 0),
        updated: Number(status.updatedReplicas ?? 0),
        available: Number(status.availableReplicas ?? 0),
      },
      revision,
      image,
      sha: shaOf(w.workload, image),
      health: health(workloadPods(w.ns, w.name), desired, w.rollout !== undefined),
      protected: isProtected(w.ns),
    };
  };
  const workloads: WorkloadSnapshot[] = [];
  for (const d of st.deployments.values())
    workloads.push(row("Deployment", d, deployStatus(st, d, at), st.currentRs(d)?.revision ?? null));
  for (const s of st.statefulSets.values())
    workloads.push(row("StatefulSet", s, stsObject(st, s, at).status as Obj, null));
  return {
    at: new Date(at).toISOString(),
    namespaces: [...st.namespaces.values()].map((n) => ({
      name: n.name,
      labels: { ...n.labels },
      protected: n.labels[PROTECTED_LABEL] === "true",
    })),
    workloads,
    mutations: st.mutationLog.length,
  };
}

/** A workload's health from its pods: `progressing` while rolling, `failing` when none is ready and one cannot run. */
function health(pods: PodSummary[], desired: number, rolling: boolean): WorkloadSnapshot["health"] {
  if (rolling) return "progressing";
  const ready = pods.filter((p) => p.view.ready).length;
  if (pods.some((p) => !p.view.profile || !READY_STATES.has(p.view.profile.state)))
    return ready === 0 ? "failing" : "degraded";
  if (pods.some((p) => p.view.profile && p.view.profile.state !== "healthy") || ready < desired)
    return "degraded";
  return "healthy";
}

/** The deploy SHA of `image`: from the workload's history, else the image tag, else null. */
function shaOf(w: WorkloadSpec, image: string): string | null {
  const entry = w.history.find((e) => imageRef(w, e) === image);
  if (entry) return entry.sha;
  const last = image.split("/").pop() ?? "";
  const i = last.indexOf(":");
  return i >= 0 ? last.slice(i + 1) : null;
}
