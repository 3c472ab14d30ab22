import type { V1Deployment, V1StatefulSet } from "@kubernetes/client-node";
import type { K8sApis } from "../k8s.js";
import type { PrometheusClient } from "../prometheus.js";

// What every collector is given. The names it reads on Kubernetes objects are in src/contracts/k8s.ts.

/** What the tools need: the Kubernetes clients (read-only credential) and, optionally, Prometheus. */
export interface InfraContext {
  apis: K8sApis;
  prometheus: PrometheusClient | null;
}

/** A workload as read from the API: exactly one of the two is set. */
export type LiveWorkload =
  | { kind: "Deployment"; obj: V1Deployment }
  | { kind: "StatefulSet"; obj: V1StatefulSet };

/** The main container's image of a pod template: the container named like the workload, else the first. */
export function templateImage(
  containers: { name: string; image?: string }[] | undefined,
  name: string,
): string {
  const c = containers?.find((x) => x.name === name) ?? containers?.[0];
  return c?.image ?? "";
}

/**
 * The tag of an image reference (`ghcr.io/acme/checkout:4f2a9c1` → `4f2a9c1`), ignoring a digest; null when
 * untagged. A `:` before the last `/` is a registry port, not a tag.
 */
export function imageTag(image: string): string | null {
  const noDigest = image.split("@")[0] ?? image;
  const colon = noDigest.lastIndexOf(":");
  if (colon < 0 || colon < noDigest.lastIndexOf("/")) return null;
  return noDigest.slice(colon + 1) || null;
}
