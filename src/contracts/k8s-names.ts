/**
 * Kubernetes object name rules, from "Object Names and IDs"
 * (https://kubernetes.io/docs/concepts/overview/working-with-objects/names/):
 * - RFC 1123 DNS label: at most 63 characters, lower-case alphanumerics or `-`, starting and ending
 *   with an alphanumeric. Namespaces (and StatefulSets, whose pods' host names carry the name) use it.
 * - RFC 1123 DNS subdomain: at most 253 characters, DNS labels joined by `.`. Most objects
 *   (Deployments, DaemonSets, Jobs, Pods, HorizontalPodAutoscalers, ReplicaSets) use it.
 * A Job's name is at most 63 characters (its pods' `job-name` label); a CronJob's at most 52 (the
 * controller appends 11 characters to make its Jobs' names), per the Job and CronJob pages.
 */

/** One RFC 1123 DNS label (no length check). */
const LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS_LABEL_RE = new RegExp(`^${LABEL}$`);
const DNS_SUBDOMAIN_RE = new RegExp(`^${LABEL}(\\.${LABEL})*$`);

/** Longest DNS label (characters). */
export const DNS_LABEL_MAX = 63;
/** Longest DNS subdomain (characters). */
export const DNS_SUBDOMAIN_MAX = 253;

/** True when `s` is an RFC 1123 DNS label (1–63 characters). */
export function isDnsLabel(s: string): boolean {
  return s.length >= 1 && s.length <= DNS_LABEL_MAX && DNS_LABEL_RE.test(s);
}

/** True when `s` is an RFC 1123 DNS subdomain (1–253 characters, each dot-separated part a label of ≤ 63). */
export function isDnsSubdomain(s: string): boolean {
  if (s.length < 1 || s.length > DNS_SUBDOMAIN_MAX || !DNS_SUBDOMAIN_RE.test(s)) return false;
  return s.length <= DNS_LABEL_MAX || s.split(".").every((part) => part.length <= DNS_LABEL_MAX);
}

/** The object kinds an alert can name (see `src/pipeline/target.ts`). */
export type NamedKind =
  | "Namespace"
  | "Deployment"
  | "StatefulSet"
  | "DaemonSet"
  | "Job"
  | "CronJob"
  | "HorizontalPodAutoscaler"
  | "Pod"
  | "Workload";

/**
 * Why `name` is not a valid name for an object of `kind`, or null when it is. `Workload` (a
 * Deployment or StatefulSet, as typed in `/backstop triage`) uses the subdomain rule. Never throws.
 */
export function invalidNameReason(kind: NamedKind, name: string): string | null {
  const shown = () => JSON.stringify(name.length > 80 ? `${name.slice(0, 80)}…` : name);
  switch (kind) {
    case "Namespace":
    case "StatefulSet":
      return isDnsLabel(name)
        ? null
        : `${kind.toLowerCase()} ${shown()} is not a valid Kubernetes name (RFC 1123 DNS label: a-z, 0-9 and "-", at most 63 characters)`;
    case "Job":
    case "CronJob": {
      const max = kind === "Job" ? 63 : 52;
      return isDnsSubdomain(name) && name.length <= max
        ? null
        : `${kind.toLowerCase()} ${shown()} is not a valid Kubernetes name (RFC 1123 DNS subdomain of at most ${max} characters)`;
    }
    default:
      return isDnsSubdomain(name)
        ? null
        : `${kind === "Workload" ? "workload" : kind.toLowerCase()} ${shown()} is not a valid Kubernetes name (RFC 1123 DNS subdomain: a-z, 0-9, "-" and ".", at most 253 characters)`;
  }
}
