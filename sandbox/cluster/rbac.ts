import { PROTECTED_LABEL } from "../../src/contracts/k8s.js";
import { StatusError } from "./status.js";

/**
 * The sandbox's three credentials and their RBAC rules, modelled on Kubernetes RBAC
 * (https://kubernetes.io/docs/reference/access-authn-authz/rbac/): a rule grants verbs on resources
 * (`deployments`, `deployments/scale`, `pods/log`, …) in an API group, optionally only in some namespaces.
 */

/** The sandbox users: mcp-infra's read-only identity, the narrow write path's identity, and the naive agent's admin. */
export type SandboxUser = "readonly" | "writer" | "admin";

/** The user name the API server reports for each credential (service accounts `system:serviceaccount:<ns>:<name>`). */
export const USER_NAMES: Record<SandboxUser, string> = {
  readonly: "system:serviceaccount:backstop:readonly",
  writer: "system:serviceaccount:backstop:writer",
  admin: "kubernetes-admin",
};

/** What is being asked: RBAC's request attributes. `namespace` is `""` for cluster-scoped or all-namespaces requests. */
export interface RequestAttributes {
  verb: string;
  group: string;
  resource: string;
  namespace: string;
  name: string;
  /** Labels of `namespace` (for the protected-namespace rule). */
  namespaceLabels: Record<string, string>;
}

interface Rule {
  verbs: string[];
  resources: string[];
  /** `unprotected`: only in namespaces not labelled `backstop.dev/protected: "true"`. */
  scope: "any" | "unprotected";
}

const READ = ["get", "list", "watch"];
const READ_RESOURCES = [
  "namespaces",
  "deployments",
  "deployments/scale",
  "deployments/status",
  "replicasets",
  "statefulsets",
  "pods",
  "pods/log",
  "events",
  "services",
  "endpoints",
  "configmaps",
];

const RULES: Record<SandboxUser, Rule[]> = {
  readonly: [{ verbs: READ, resources: READ_RESOURCES, scope: "any" }],
  writer: [
    {
      verbs: ["get", "list"],
      resources: ["deployments", "deployments/scale", "replicasets", "pods"],
      scope: "any",
    },
    { verbs: ["patch"], resources: ["deployments", "deployments/scale"], scope: "unprotected" },
  ],
  admin: [{ verbs: ["*"], resources: ["*"], scope: "any" }],
};

/** True when `user` may do what `attrs` describe. */
export function allowed(user: SandboxUser, attrs: RequestAttributes): boolean {
  const isProtected = attrs.namespaceLabels[PROTECTED_LABEL] === "true";
  return RULES[user].some(
    (r) =>
      (r.verbs.includes("*") || r.verbs.includes(attrs.verb)) &&
      (r.resources.includes("*") || r.resources.includes(attrs.resource)) &&
      (r.scope === "any" || (attrs.namespace !== "" && !isProtected)),
  );
}

/**
 * The 403 the API server answers when RBAC denies a request, with its exact message form, e.g.
 * `deployments.apps "checkout" is forbidden: User "system:serviceaccount:backstop:readonly" cannot patch
 * resource "deployments" in API group "apps" in the namespace "shop"`.
 */
export function forbidden(user: SandboxUser, attrs: RequestAttributes): StatusError {
  const base = attrs.resource.split("/")[0]!;
  const q = attrs.group === "" ? base : `${base}.${attrs.group}`;
  const subject = attrs.name ? `${q} "${attrs.name}"` : q;
  const where = attrs.namespace ? `in the namespace "${attrs.namespace}"` : "at the cluster scope";
  const message = `${subject} is forbidden: User "${USER_NAMES[user]}" cannot ${attrs.verb} resource "${attrs.resource}" in API group "${attrs.group}" ${where}`;
  return new StatusError(403, message, { name: attrs.name || undefined, group: attrs.group, kind: base });
}

/**
 * Throws the 403 `Status` unless `user` may do what `attrs` describe.
 * @throws StatusError 403 Forbidden.
 */
export function authorize(user: SandboxUser, attrs: RequestAttributes): void {
  if (!allowed(user, attrs)) throw forbidden(user, attrs);
}
