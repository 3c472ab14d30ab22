import { ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1";
import { Deployment, StatefulSet } from "kubernetes-models/apps/v1";
import { Ingress, NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1";
import {
  ClusterRole,
  ClusterRoleBinding,
  Role,
  RoleBinding,
} from "kubernetes-models/rbac.authorization.k8s.io/v1";
import { ConfigMap, Secret, Service, ServiceAccount } from "kubernetes-models/v1";

/**
 * Validates rendered Kubernetes objects against the Kubernetes OpenAPI schemas, as packaged by
 * `kubernetes-models` (core, apps, rbac, networking) and `@kubernetes-models/prometheus-operator`
 * (ServiceMonitor, from the operator's CRD schema). What a model's `validate()` checks: every field's
 * type (string, integer, object, array), enums, formats (e.g. int-or-string), and required fields at
 * every level (e.g. a container's `name`, a Deployment's `selector` and `template`, a RoleBinding's
 * `roleRef`). What it does not check: unknown fields (the schemas allow extra properties), and
 * cross-object references — the chart test checks those itself.
 */
const MODELS: Record<string, new (o: never) => { validate(): void }> = {
  "apps/v1/Deployment": Deployment,
  "apps/v1/StatefulSet": StatefulSet,
  "v1/Service": Service,
  "v1/ServiceAccount": ServiceAccount,
  "v1/ConfigMap": ConfigMap,
  "v1/Secret": Secret,
  "networking.k8s.io/v1/NetworkPolicy": NetworkPolicy,
  "networking.k8s.io/v1/Ingress": Ingress,
  "rbac.authorization.k8s.io/v1/ClusterRole": ClusterRole,
  "rbac.authorization.k8s.io/v1/ClusterRoleBinding": ClusterRoleBinding,
  "rbac.authorization.k8s.io/v1/Role": Role,
  "rbac.authorization.k8s.io/v1/RoleBinding": RoleBinding,
  "monitoring.coreos.com/v1/ServiceMonitor": ServiceMonitor,
};

/**
 * The schema violations of one object (empty when it is valid), each a readable string naming the
 * object and the path. An apiVersion/kind pair with no schema here is itself a violation.
 */
export function schemaViolations(obj: {
  apiVersion?: unknown;
  kind?: unknown;
  metadata?: { name?: unknown };
}): string[] {
  const id = `${String(obj.apiVersion)}/${String(obj.kind)}`;
  const name = `${String(obj.kind)} ${String(obj.metadata?.name)}`;
  const Model = MODELS[id];
  if (!Model) return [`${name}: no schema for ${id} (an unknown or misspelt apiVersion/kind)`];
  try {
    new Model(obj as never).validate();
    return [];
  } catch (err) {
    return [`${name}: ${(err as Error).message}`];
  }
}
