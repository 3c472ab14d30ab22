/**
 * The API discovery documents the sandbox serves so kubectl can map `kubectl get deploy` to a REST path:
 * `/api` (APIVersions), `/apis` (APIGroupList), `/api/v1` and `/apis/<group>/<version>` (APIResourceList),
 * in the legacy (unaggregated) form every kubectl accepts when the server answers `application/json`
 * instead of `apidiscovery.k8s.io/v2` (https://kubernetes.io/docs/concepts/overview/kubernetes-api/#discovery-api).
 * Only what the sandbox serves is listed, with the verbs, short names and categories of a real cluster.
 */

/** One entry of an APIResourceList (meta/v1 APIResource). */
interface ApiResource {
  name: string;
  singularName: string;
  namespaced: boolean;
  kind: string;
  verbs: string[];
  shortNames?: string[];
  categories?: string[];
  group?: string;
  version?: string;
}

const CRUD = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

function sub(name: string, kind: string, verbs: string[], group?: string, version?: string): ApiResource {
  return {
    name,
    singularName: "",
    namespaced: true,
    kind,
    verbs,
    ...(group ? { group, version } : {}),
  };
}

const CORE_V1: ApiResource[] = [
  {
    name: "configmaps",
    singularName: "configmap",
    namespaced: true,
    kind: "ConfigMap",
    verbs: CRUD,
    shortNames: ["cm"],
  },
  {
    name: "events",
    singularName: "event",
    namespaced: true,
    kind: "Event",
    verbs: CRUD,
    shortNames: ["ev"],
  },
  {
    name: "namespaces",
    singularName: "namespace",
    namespaced: false,
    kind: "Namespace",
    verbs: ["create", "delete", "get", "list", "patch", "update", "watch"],
    shortNames: ["ns"],
  },
  {
    name: "pods",
    singularName: "pod",
    namespaced: true,
    kind: "Pod",
    verbs: CRUD,
    shortNames: ["po"],
    categories: ["all"],
  },
  sub("pods/log", "Pod", ["get"]),
  { name: "secrets", singularName: "secret", namespaced: true, kind: "Secret", verbs: CRUD },
  {
    name: "services",
    singularName: "service",
    namespaced: true,
    kind: "Service",
    verbs: ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
    shortNames: ["svc"],
    categories: ["all"],
  },
];

const APPS_V1: ApiResource[] = [
  {
    name: "deployments",
    singularName: "deployment",
    namespaced: true,
    kind: "Deployment",
    verbs: CRUD,
    shortNames: ["deploy"],
    categories: ["all"],
  },
  sub("deployments/scale", "Scale", ["get", "patch", "update"], "autoscaling", "v1"),
  sub("deployments/status", "Deployment", ["get", "patch", "update"]),
  {
    name: "replicasets",
    singularName: "replicaset",
    namespaced: true,
    kind: "ReplicaSet",
    verbs: CRUD,
    shortNames: ["rs"],
    categories: ["all"],
  },
  {
    name: "statefulsets",
    singularName: "statefulset",
    namespaced: true,
    kind: "StatefulSet",
    verbs: CRUD,
    shortNames: ["sts"],
    categories: ["all"],
  },
];

const AUTHZ_V1: ApiResource[] = [
  {
    name: "selfsubjectaccessreviews",
    singularName: "selfsubjectaccessreview",
    namespaced: false,
    kind: "SelfSubjectAccessReview",
    verbs: ["create"],
  },
];

const GROUPS: Record<string, { version: string; resources: ApiResource[] }> = {
  apps: { version: "v1", resources: APPS_V1 },
  "authorization.k8s.io": { version: "v1", resources: AUTHZ_V1 },
};

/** The group/version pairs the sandbox serves, e.g. `apps/v1`. */
export const SERVED_GROUP_VERSIONS = ["v1", ...Object.entries(GROUPS).map(([g, v]) => `${g}/${v.version}`)];

/**
 * The discovery document for `path` (`/api`, `/api/v1`, `/apis`, `/apis/<group>`, `/apis/<group>/<version>`),
 * or undefined when `path` is not a discovery path the sandbox serves. `serverAddress` is the
 * `host:port` the client reached (for APIVersions' `serverAddressByClientCIDRs`).
 */
export function discoveryDocument(path: string, serverAddress: string): object | undefined {
  const p = path.replace(/\/+$/, "");
  if (p === "/api") {
    return {
      kind: "APIVersions",
      versions: ["v1"],
      serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress }],
    };
  }
  if (p === "/api/v1") return { kind: "APIResourceList", groupVersion: "v1", resources: CORE_V1 };
  const group = (name: string) => {
    const v = GROUPS[name]!;
    const gv = { groupVersion: `${name}/${v.version}`, version: v.version };
    return { name, versions: [gv], preferredVersion: gv };
  };
  if (p === "/apis") {
    return { kind: "APIGroupList", apiVersion: "v1", groups: Object.keys(GROUPS).map(group) };
  }
  const m = /^\/apis\/([^/]+)(?:\/([^/]+))?$/.exec(p);
  if (!m) return undefined;
  const g = GROUPS[m[1]!];
  if (!g) return undefined;
  if (m[2] === undefined) return { kind: "APIGroup", apiVersion: "v1", ...group(m[1]!) };
  if (m[2] !== g.version) return undefined;
  return {
    kind: "APIResourceList",
    apiVersion: "v1",
    groupVersion: `${m[1]}/${g.version}`,
    resources: g.resources,
  };
}
