import type { V1OwnerReference } from "@kubernetes/client-node";
import { BackstopError } from "../src/errors.js";
import { type K8sApis, k8sCall } from "./k8s.js";

/** The kinds `resolve_owner` starts from. */
export const OWNER_START_KINDS = ["Pod", "HorizontalPodAutoscaler", "Job", "ReplicaSet"] as const;
export type OwnerStartKind = (typeof OWNER_START_KINDS)[number];

/** One object on the way from the named object to its owner. */
export interface OwnerStep {
  kind: string;
  name: string;
}

/** The owning workload of a named object, and the chain read to find it (the named object first). */
export interface OwnerResult extends Record<string, unknown> {
  namespace: string;
  kind: string;
  name: string;
  chain: OwnerStep[];
}

/** The controller reference of an object (`controller: true`), else its only owner reference. */
function controllerOf(refs: V1OwnerReference[] | undefined): V1OwnerReference | null {
  const list = refs ?? [];
  return list.find((r) => r.controller) ?? (list.length === 1 ? list[0]! : null);
}

/**
 * Resolves what owns a named object, read-only, the way the controllers record it
 * (`metadata.ownerReferences`, https://kubernetes.io/docs/concepts/overview/working-with-objects/owners-dependents/):
 * - Pod → its controller: a ReplicaSet (→ its Deployment, when one owns it), a StatefulSet, a
 *   DaemonSet, a Job (→ its CronJob, when one owns it); a pod with no controller is its own owner;
 * - HorizontalPodAutoscaler → its `spec.scaleTargetRef` (kind and name, same namespace), not read further;
 * - Job → its CronJob, or itself; ReplicaSet → its Deployment, or itself.
 * Never guesses from names. At most 4 reads.
 * @throws BackstopError `infra.not_found` (the object does not exist), `k8s.*` (forbidden, unavailable, timeout).
 */
export async function resolveOwner(
  apis: K8sApis,
  namespace: string,
  kind: OwnerStartKind,
  name: string,
): Promise<OwnerResult> {
  const chain: OwnerStep[] = [{ kind, name }];
  const done = (k: string, n: string): OwnerResult => ({ namespace, kind: k, name: n, chain });
  const read = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await k8sCall(apis, what, fn);
    } catch (err) {
      if (err instanceof BackstopError && err.code === "k8s.not_found")
        throw new BackstopError("infra.not_found", `${what}: not found`, { cause: err });
      throw err;
    }
  };

  const fromJob = async (jobName: string): Promise<OwnerResult> => {
    const job = await read(`get job ${namespace}/${jobName}`, () =>
      apis.batch.readNamespacedJob({ namespace, name: jobName }, apis.opts),
    );
    const owner = controllerOf(job.metadata?.ownerReferences);
    if (owner?.kind === "CronJob") {
      chain.push({ kind: "CronJob", name: owner.name });
      return done("CronJob", owner.name);
    }
    return done("Job", jobName);
  };
  const fromReplicaSet = async (rsName: string): Promise<OwnerResult> => {
    const rs = await read(`get replicaset ${namespace}/${rsName}`, () =>
      apis.apps.readNamespacedReplicaSet({ namespace, name: rsName }, apis.opts),
    );
    const owner = controllerOf(rs.metadata?.ownerReferences);
    if (owner?.kind === "Deployment") {
      chain.push({ kind: "Deployment", name: owner.name });
      return done("Deployment", owner.name);
    }
    return done("ReplicaSet", rsName);
  };

  switch (kind) {
    case "HorizontalPodAutoscaler": {
      const hpa = await read(`get horizontalpodautoscaler ${namespace}/${name}`, () =>
        apis.autoscaling.readNamespacedHorizontalPodAutoscaler({ namespace, name }, apis.opts),
      );
      const ref = hpa.spec?.scaleTargetRef;
      if (!ref?.kind || !ref.name)
        throw new BackstopError("infra.not_found", `HPA ${namespace}/${name} has no scaleTargetRef`);
      chain.push({ kind: ref.kind, name: ref.name });
      return done(ref.kind, ref.name);
    }
    case "Job":
      return fromJob(name);
    case "ReplicaSet":
      return fromReplicaSet(name);
    case "Pod": {
      const pod = await read(`get pod ${namespace}/${name}`, () =>
        apis.core.readNamespacedPod({ namespace, name }, apis.opts),
      );
      const owner = controllerOf(pod.metadata?.ownerReferences);
      if (!owner) return done("Pod", name);
      chain.push({ kind: owner.kind, name: owner.name });
      if (owner.kind === "ReplicaSet") return fromReplicaSet(owner.name);
      if (owner.kind === "Job") return fromJob(owner.name);
      return done(owner.kind, owner.name);
    }
  }
}
