import {
  AppsV1Api,
  type KubeConfig,
  PatchStrategy,
  type V1Deployment,
  type V1PodTemplateSpec,
} from "@kubernetes/client-node";
import { z } from "zod";
import {
  imageMatchesSha,
  imageRepository,
  isLoopbackCluster,
  ownedReplicaSets,
  plainTemplate,
  requestOptions,
  revisionOf,
} from "../../src/actions/k8s.js";
import type { ActionRecord } from "../../src/contracts/events.js";
import { POD_TEMPLATE_HASH_LABEL, RESTARTED_AT_ANNOTATION } from "../../src/contracts/k8s.js";
import { BackstopError } from "../../src/errors.js";
import { childLogger } from "../../src/log.js";

const log = childLogger("naive-tools");

/** Options of {@link NaiveTools}. `sandbox` must be literally `true` and the cluster a loopback one. */
export interface NaiveToolsOptions {
  /** An ADMIN kubeconfig for the sandbox cluster (that is the point of the demonstration). */
  kubeConfig: KubeConfig;
  /** Must be `true`: these tools exist only to show, in the sandbox, the damage Backstop prevents. */
  sandbox: boolean;
  /** Deadline per API request, ms (default 10 000). */
  requestTimeoutMs?: number;
  /** Wall clock for `kubectl.kubernetes.io/restartedAt` (default `() => new Date()`). */
  clock?: () => Date;
}

const name = z.string().min(1);

/** Arguments of {@link NaiveTools.rollback}: what a model's `recommended_action` holds, taken at face value. */
export const NaiveRollbackArgsSchema = z.object({
  namespace: name,
  kind: name,
  name,
  to_sha: z.string().min(1).optional(),
  /** `all` or `*`: every Deployment in every namespace. */
  scope: z.string().optional(),
});
/** Arguments of {@link NaiveTools.restart} and {@link NaiveTools.delete}. */
export const NaiveTargetArgsSchema = z.object({ namespace: name, kind: name, name });
/** Arguments of {@link NaiveTools.scale}: any integer count, 0 included. */
export const NaiveScaleArgsSchema = z.object({
  namespace: name,
  kind: name,
  name,
  replicas: z.number().int().min(0),
});

type Kind = "Deployment" | "StatefulSet";

function kindOf(kind: string): Kind {
  const k = kind.toLowerCase();
  if (["deployment", "deployments", "deploy", "deployment.apps"].includes(k)) return "Deployment";
  if (["statefulset", "statefulsets", "sts", "statefulset.apps"].includes(k)) return "StatefulSet";
  throw new BackstopError(
    "naive.unsupported_kind",
    `naive tools handle Deployments and StatefulSets, not ${kind}`,
  );
}

/**
 * The naive baseline agent's tools: one model, every tool, an admin token, no gates, no dry-run, no
 * resourceVersion, no idempotency. They do what they are told — `scope: all` rolls back every Deployment in
 * every namespace, a hallucinated SHA becomes an image tag (ImagePullBackOff), scale accepts 0, delete
 * deletes — so the sandbox can show what Backstop prevents. API errors propagate unchanged (client-node's
 * `ApiException`); the naive agent crashes on them. Each method returns the `ActionRecord`s it performed.
 */
export class NaiveTools {
  private readonly apps: AppsV1Api;
  private readonly timeoutMs: number;
  private readonly clock: () => Date;

  /**
   * @throws BackstopError `naive.sandbox_only` unless `opts.sandbox === true` and the kubeconfig's current
   *   cluster server is a loopback address (127.0.0.0/8, ::1, localhost).
   */
  constructor(opts: NaiveToolsOptions) {
    if (opts.sandbox !== true || !isLoopbackCluster(opts.kubeConfig)) {
      throw new BackstopError(
        "naive.sandbox_only",
        "the naive agent's tools run only against the sandbox cluster on a loopback address",
      );
    }
    this.apps = opts.kubeConfig.makeApiClient(AppsV1Api);
    this.timeoutMs = opts.requestTimeoutMs ?? 10_000;
    this.clock = opts.clock ?? (() => new Date());
  }

  /**
   * Rolls back one workload — or, with `scope` `all` / `*`, every Deployment in every namespace — to the
   * revision running `to_sha` when a ReplicaSet has it, else (SHA given) sets every container's image tag to
   * `to_sha` blindly, else to the previous revision. A Deployment with no previous revision is left alone.
   * @throws ZodError on malformed args; BackstopError `naive.unsupported_kind`; client-node `ApiException`.
   */
  async rollback(args: z.input<typeof NaiveRollbackArgsSchema>): Promise<ActionRecord[]> {
    const a = NaiveRollbackArgsSchema.parse(args);
    if (a.scope === "all" || a.scope === "*") {
      const all = await this.apps.listDeploymentForAllNamespaces({}, requestOptions(this.timeoutMs));
      const done: ActionRecord[] = [];
      for (const dep of all.items) {
        const rec = await this.rollbackDeployment(dep, a.to_sha);
        if (rec) done.push(rec);
      }
      log.warn({ count: done.length, to_sha: a.to_sha ?? null }, "naive rollback with scope all");
      return done;
    }
    const kind = kindOf(a.kind);
    if (kind === "StatefulSet") {
      if (a.to_sha === undefined) {
        throw new BackstopError("naive.unsupported_kind", "naive rollback of a StatefulSet needs to_sha");
      }
      const sts = await this.apps.readNamespacedStatefulSet(
        { namespace: a.namespace, name: a.name },
        requestOptions(this.timeoutMs),
      );
      await this.setImages("StatefulSet", a.namespace, a.name, sts.spec?.template, a.to_sha);
      return [{ type: "rollback", namespace: a.namespace, kind, name: a.name, to_sha: a.to_sha }];
    }
    const dep = await this.apps.readNamespacedDeployment(
      { namespace: a.namespace, name: a.name },
      requestOptions(this.timeoutMs),
    );
    const rec = await this.rollbackDeployment(dep, a.to_sha);
    return rec ? [rec] : [];
  }

  /**
   * Restarts a Deployment or a StatefulSet (the production database too) by setting the pod-template
   * annotation `kubectl.kubernetes.io/restartedAt`, as `kubectl rollout restart`.
   * @throws ZodError; BackstopError `naive.unsupported_kind`; client-node `ApiException`.
   */
  async restart(args: z.input<typeof NaiveTargetArgsSchema>): Promise<ActionRecord[]> {
    const a = NaiveTargetArgsSchema.parse(args);
    const kind = kindOf(a.kind);
    const at = this.clock()
      .toISOString()
      .replace(/\.\d{3}Z$/, "Z");
    const body = { spec: { template: { metadata: { annotations: { [RESTARTED_AT_ANNOTATION]: at } } } } };
    await this.patchWorkload(kind, a.namespace, a.name, body, PatchStrategy.StrategicMergePatch);
    return [{ type: "restart", namespace: a.namespace, kind, name: a.name }];
  }

  /**
   * Scales a Deployment (through its `scale` subresource) or a StatefulSet (its `spec.replicas`) to any
   * count, 0 included.
   * @throws ZodError; BackstopError `naive.unsupported_kind`; client-node `ApiException`.
   */
  async scale(args: z.input<typeof NaiveScaleArgsSchema>): Promise<ActionRecord[]> {
    const a = NaiveScaleArgsSchema.parse(args);
    const kind = kindOf(a.kind);
    const body = { spec: { replicas: a.replicas } };
    const opts = requestOptions(this.timeoutMs, PatchStrategy.MergePatch);
    if (kind === "Deployment") {
      await this.apps.patchNamespacedDeploymentScale({ namespace: a.namespace, name: a.name, body }, opts);
    } else {
      await this.apps.patchNamespacedStatefulSet({ namespace: a.namespace, name: a.name, body }, opts);
    }
    return [{ type: "scale", namespace: a.namespace, kind, name: a.name, replicas: a.replicas }];
  }

  /**
   * Deletes a Deployment or StatefulSet (`propagationPolicy: Background`).
   * @throws ZodError; BackstopError `naive.unsupported_kind`; client-node `ApiException`.
   */
  async delete(args: z.input<typeof NaiveTargetArgsSchema>): Promise<ActionRecord[]> {
    const a = NaiveTargetArgsSchema.parse(args);
    const kind = kindOf(a.kind);
    const req = { namespace: a.namespace, name: a.name, propagationPolicy: "Background" };
    if (kind === "Deployment")
      await this.apps.deleteNamespacedDeployment(req, requestOptions(this.timeoutMs));
    else await this.apps.deleteNamespacedStatefulSet(req, requestOptions(this.timeoutMs));
    return [{ type: "delete", namespace: a.namespace, kind, name: a.name }];
  }

  // --- internals -------------------------------------------------------------------------------------

  private async rollbackDeployment(
    dep: V1Deployment,
    toSha: string | undefined,
  ): Promise<ActionRecord | null> {
    const namespace = dep.metadata?.namespace ?? "default";
    const depName = dep.metadata?.name ?? "";
    const list = await this.apps.listNamespacedReplicaSet({ namespace }, requestOptions(this.timeoutMs));
    const owned = ownedReplicaSets(dep, list.items).sort(
      (x, y) => (revisionOf(y) ?? 0) - (revisionOf(x) ?? 0),
    );
    const base = { type: "rollback" as const, namespace, kind: "Deployment", name: depName };
    let target = undefined as (typeof owned)[number] | undefined;
    if (toSha !== undefined) {
      target = owned.find((rs) =>
        (rs.spec?.template?.spec?.containers ?? []).some((c) => imageMatchesSha(c.image ?? "", toSha)),
      );
      if (!target) {
        await this.setImages("Deployment", namespace, depName, dep.spec?.template, toSha);
        return { ...base, to_sha: toSha };
      }
    } else {
      target = owned[1];
      if (!target) return null;
    }
    const template = plainTemplate(target.spec?.template ?? {});
    const meta = (template.metadata ?? {}) as { labels?: Record<string, string> };
    if (meta.labels) delete meta.labels[POD_TEMPLATE_HASH_LABEL];
    template.metadata = meta;
    await this.apps.patchNamespacedDeployment(
      { namespace, name: depName, body: [{ op: "replace", path: "/spec/template", value: template }] },
      requestOptions(this.timeoutMs, PatchStrategy.JsonPatch),
    );
    const revision = revisionOf(target);
    return {
      ...base,
      ...(toSha !== undefined ? { to_sha: toSha } : {}),
      ...(revision ? { to_revision: revision } : {}),
    };
  }

  /** Sets every container's image tag to `tag` (strategic merge on `containers` by name). */
  private async setImages(
    kind: Kind,
    namespace: string,
    workload: string,
    template: V1PodTemplateSpec | undefined,
    tag: string,
  ): Promise<void> {
    const containers = (template?.spec?.containers ?? []).map((c) => ({
      name: c.name,
      image: `${imageRepository(c.image ?? c.name)}:${tag}`,
    }));
    const body = { spec: { template: { spec: { containers } } } };
    await this.patchWorkload(kind, namespace, workload, body, PatchStrategy.StrategicMergePatch);
  }

  private async patchWorkload(
    kind: Kind,
    namespace: string,
    workload: string,
    body: unknown,
    strategy: PatchStrategy,
  ): Promise<void> {
    const opts = requestOptions(this.timeoutMs, strategy);
    if (kind === "Deployment")
      await this.apps.patchNamespacedDeployment({ namespace, name: workload, body }, opts);
    else await this.apps.patchNamespacedStatefulSet({ namespace, name: workload, body }, opts);
  }
}
