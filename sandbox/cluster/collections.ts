import {
  matchesFields,
  matchesLabels,
  parseFieldSelector,
  parseLabelSelector,
  type Requirement,
} from "./selectors.js";
import type { Obj, World } from "./world.js";

/**
 * Lists as the API server answers them: the list kind of each served collection, the field
 * selectors each supports (field selectors: https://kubernetes.io/docs/concepts/overview/working-with-objects/field-selectors/),
 * and the filtered, limited list itself.
 */

/** The list kind of each served collection. */
export const LIST_KIND: Record<string, string> = {
  namespaces: "NamespaceList",
  pods: "PodList",
  events: "EventList",
  deployments: "DeploymentList",
  replicasets: "ReplicaSetList",
  statefulsets: "StatefulSetList",
  secrets: "SecretList",
  services: "ServiceList",
  configmaps: "ConfigMapList",
};

/** Field selectors an Event list accepts. */
export const EVENT_FIELDS = [
  "involvedObject.kind",
  "involvedObject.namespace",
  "involvedObject.name",
  "involvedObject.uid",
  "involvedObject.apiVersion",
  "involvedObject.resourceVersion",
  "involvedObject.fieldPath",
  "reason",
  "reportingComponent",
  "source",
  "type",
  "metadata.namespace",
  "metadata.name",
];
/** Field selectors a Pod list accepts. */
export const POD_FIELDS = [
  "metadata.name",
  "metadata.namespace",
  "spec.nodeName",
  "spec.restartPolicy",
  "status.phase",
  "status.podIP",
];
/** Field selectors every other list accepts. */
export const META_FIELDS = ["metadata.name", "metadata.namespace"];

/** The flattened field values of an object (`a.b` → value, three levels deep), as field selectors read them. */
function flat(o: Obj, prefix = ""): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(o)) {
    const p = prefix ? `${prefix}.${k}` : k;
    if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") out[p] = String(v);
    else if (v && typeof v === "object" && !Array.isArray(v) && p.split(".").length < 3)
      Object.assign(out, flat(v as Obj, p));
  }
  if (!prefix && o.source && typeof o.source === "object")
    out.source = String((o.source as Obj).component ?? "");
  return out;
}

/** A list request's parsed selectors. */
export interface Selectors {
  labels: Requirement[];
  fields: Requirement[];
}

/**
 * A list object (`kind`, `apiVersion`, `metadata.resourceVersion`, `items`) of `items` filtered by the
 * query's `labelSelector` and `fieldSelector` (over `fields`) and cut to `limit` (0 or absent: all).
 * `items` is the collection, or a function of the parsed selectors answering it (it may leave out objects
 * that cannot match, so a selective list only builds what it returns; the selectors are applied anyway).
 * @throws StatusError 400 for an invalid selector.
 */
export function list(
  world: World,
  kind: string,
  apiVersion: string,
  items: Obj[] | ((selectors: Selectors) => Obj[]),
  query: URLSearchParams,
  fields: string[],
): Obj {
  const labelReqs = parseLabelSelector(query.get("labelSelector") ?? undefined);
  const fieldReqs = parseFieldSelector(query.get("fieldSelector") ?? undefined, fields);
  const all = typeof items === "function" ? items({ labels: labelReqs, fields: fieldReqs }) : items;
  const filtered = all.filter((item) => {
    const meta = (item.metadata ?? {}) as Obj;
    return (
      matchesLabels(labelReqs, meta.labels as Record<string, string> | undefined) &&
      (fieldReqs.length === 0 || matchesFields(fieldReqs, flat(item)))
    );
  });
  const limit = Number(query.get("limit") ?? "0");
  return {
    kind,
    apiVersion,
    metadata: { resourceVersion: world.resourceVersion() },
    items: limit > 0 ? filtered.slice(0, limit) : filtered,
  };
}

/** The collection behind a list or watch of `resource`, or undefined when it cannot be listed. */
export function collection(
  world: World,
  resource: string,
  ns: string | undefined,
): { kind: string; apiVersion: string; items: Obj[]; fields: string[] } | undefined {
  switch (resource) {
    case "namespaces":
      return { kind: "NamespaceList", apiVersion: "v1", items: world.listNamespaces(), fields: META_FIELDS };
    case "pods":
      return { kind: "PodList", apiVersion: "v1", items: world.listPods(ns), fields: POD_FIELDS };
    case "events":
      return { kind: "EventList", apiVersion: "v1", items: world.listEvents(ns), fields: EVENT_FIELDS };
    case "deployments":
      return {
        kind: "DeploymentList",
        apiVersion: "apps/v1",
        items: world.listDeployments(ns),
        fields: META_FIELDS,
      };
    case "replicasets":
      return {
        kind: "ReplicaSetList",
        apiVersion: "apps/v1",
        items: world.listReplicaSets(ns),
        fields: META_FIELDS,
      };
    case "statefulsets":
      return {
        kind: "StatefulSetList",
        apiVersion: "apps/v1",
        items: world.listStatefulSets(ns),
        fields: META_FIELDS,
      };
    case "secrets":
    case "services":
    case "configmaps":
      return { kind: LIST_KIND[resource]!, apiVersion: "v1", items: [], fields: META_FIELDS };
    default:
      return undefined;
  }
}
