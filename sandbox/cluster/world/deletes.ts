import type { SandboxUser } from "../rbac.js";
import { reconcile } from "./controllers.js";
import { podObject } from "./render-pod.js";
import type { WorldState } from "./state.js";
import { key } from "./template.js";
import type { Obj } from "./types.js";

/**
 * DELETEs: a workload goes with its ReplicaSets and pods (background propagation, as `kubectl delete`
 * without `--cascade=orphan`); a deleted pod is replaced by its controller at once. Each answers what the
 * API server answers (a `Status` for workloads, the deleted Pod for pods) and logs a mutation unless `dryRun`.
 */

/**
 * Deletes a Deployment (with its ReplicaSets and pods) or a StatefulSet (with its pods). Returns the
 * `Status` the API server answers a successful DELETE with.
 * @throws StatusError 404 when the workload does not exist.
 */
export function deleteWorkload(
  st: WorldState,
  kind: "Deployment" | "StatefulSet",
  ns: string,
  name: string,
  user: SandboxUser,
  dryRun: boolean,
): Obj {
  const resource = kind === "Deployment" ? "deployments" : "statefulsets";
  const map = kind === "Deployment" ? st.deployments : st.statefulSets;
  const w = st.find<{ uid: string }>(map, ns, name, resource, "apps");
  const status = {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Success",
    details: { name, group: "apps", kind: resource, uid: w.uid },
  };
  if (dryRun) return status;
  const at = st.now();
  const d = st.deployments.get(key(ns, name));
  const owners = kind === "Deployment" && d ? st.rsOf(d) : [{ uid: w.uid, name: "" }];
  for (const owner of owners) {
    for (const p of st.podsOwnedBy(ns, owner.uid)) st.killPod(p, at);
    if (kind === "Deployment") st.replicaSets.delete(key(ns, owner.name));
  }
  map.delete(key(ns, name));
  const summary = kind === "Deployment" ? "deleted with its ReplicaSets and pods" : "deleted with its pods";
  st.logMutation({ user, verb: "delete", resource, namespace: ns, name, kind, summary });
  return status;
}

/** Deletes a pod (its controller replaces it at once, with a new name for ReplicaSet pods). Returns the deleted Pod. @throws StatusError 404. */
export function deletePod(st: WorldState, ns: string, name: string, user: SandboxUser, dryRun: boolean): Obj {
  const p = st.find(st.pods, ns, name, "pods", "");
  const at = st.now();
  const obj = podObject(st, p, at);
  if (dryRun) return obj;
  st.killPod(p, at);
  st.logMutation({
    user,
    verb: "delete",
    resource: "pods",
    namespace: ns,
    name,
    kind: "Pod",
    summary: `deleted pod (owner ${p.ownerKind} ${p.owner})`,
  });
  reconcile(st);
  return obj;
}
