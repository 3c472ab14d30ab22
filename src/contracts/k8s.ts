/**
 * The Kubernetes label and annotation names Backstop reads or writes, defined once. Kubernetes' own
 * names come from the "Well-Known Labels, Annotations and Taints" reference
 * (https://kubernetes.io/docs/reference/labels-annotations-taints/) and the controllers' sources
 * (`k8s.io/kubernetes/pkg/controller/deployment/util`); `backstop.dev/*` names are Backstop's.
 * Object-name rules live in `./k8s-names.ts`.
 */

/** Annotation the Deployment controller puts on each ReplicaSet (and the Deployment): its rollout revision. */
export const REVISION_ANNOTATION = "deployment.kubernetes.io/revision";
/** Annotation listing a ReplicaSet's earlier revisions (comma-separated) after a rollback re-used it. */
export const REVISION_HISTORY_ANNOTATION = "deployment.kubernetes.io/revision-history";
/** Annotation the Deployment controller puts on a ReplicaSet: the Deployment's desired replicas. */
export const DESIRED_REPLICAS_ANNOTATION = "deployment.kubernetes.io/desired-replicas";
/** Annotation the Deployment controller puts on a ReplicaSet: desired replicas plus `maxSurge`. */
export const MAX_REPLICAS_ANNOTATION = "deployment.kubernetes.io/max-replicas";
/** Label the Deployment controller adds to a ReplicaSet's pod template (`appsv1.DefaultDeploymentUniqueLabelKey`). */
export const POD_TEMPLATE_HASH_LABEL = "pod-template-hash";
/** Label the StatefulSet controller puts on each pod: the ControllerRevision it was made from. */
export const CONTROLLER_REVISION_HASH_LABEL = "controller-revision-hash";
/** Pod-template annotation `kubectl rollout restart` sets to an RFC 3339 time to force a new rollout. */
export const RESTARTED_AT_ANNOTATION = "kubectl.kubernetes.io/restartedAt";
/** Annotation `kubectl apply` stores the last applied manifest in (large; never shown or compared). */
export const LAST_APPLIED_ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration";
/** Recommended label naming an application's version (`app.kubernetes.io/version`). */
export const VERSION_LABEL = "app.kubernetes.io/version";

/** Namespace label: `"true"` marks a namespace Backstop never acts in (the policy's default). */
export const PROTECTED_LABEL = "backstop.dev/protected";
/** Workload annotation naming the deployed commit SHA (else the image tag or {@link VERSION_LABEL}). */
export const DEPLOY_SHA_ANNOTATION = "backstop.dev/deploy-sha";
/**
 * Deployment annotation the write path sets in the same PATCH as an action: the action's idempotency
 * key, so a retried job finds it and never acts twice.
 */
export const LAST_ACTION_ANNOTATION = "backstop.dev/last-action";
