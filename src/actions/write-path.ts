import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { AppsV1Api, type KubeConfig, type V1Deployment, type V1ReplicaSet } from "@kubernetes/client-node";
import type { ActionRecord } from "../contracts/events.js";
import { LAST_ACTION_ANNOTATION } from "../contracts/k8s.js";
import { BackstopError } from "../errors.js";
import { childLogger } from "../log.js";
import { describeK8sError, type K8sFailure, ownedReplicaSets, requestOptions } from "./k8s.js";
import { findShaRevision, type Plan, type PlanContext, planAction } from "./write-path/plan.js";
import { type ValidAction, validateAction } from "./write-path/validate.js";

export type { ActionRecord } from "../contracts/events.js";
export { LAST_ACTION_ANNOTATION } from "../contracts/k8s.js";
export { ActionRecordSchema, idempotencyKey, validateAction } from "./write-path/validate.js";

const log = childLogger("actions");

/** Options of a {@link WritePath}. Times in ms. */
export interface WritePathOptions {
  /** The write path's own narrow credential (the sandbox's `writer`); never an admin one. */
  kubeConfig: KubeConfig;
  /** Deadline of each API request, ms (default 10 000). */
  requestTimeoutMs?: number;
  /** How often {@link WritePath.waitForRecovery} re-reads the Deployment, ms (default 1 000). */
  pollIntervalMs?: number;
  /** How long {@link WritePath.waitForRecovery} waits by default, ms (default 120 000). */
  recoveryTimeoutMs?: number;
  /** Wall clock for `kubectl.kubernetes.io/restartedAt` (default `() => new Date()`). */
  clock?: () => Date;
  /**
   * The name of the cluster this credential writes to. When set, an action that names another
   * cluster (`ActionRecord.cluster`) is refused before any request (`action.wrong_cluster`).
   */
  cluster?: string;
}

/**
 * Backstop's narrow write path: rollback, restart or scale ONE Deployment, with the writer credential,
 * dry-run first, idempotent per run and action, optimistic concurrency through `metadata.resourceVersion`.
 * Every action is a single PATCH, so it either applied or it did not. There is no delete, no scale to
 * zero, no selector and no scope here, by construction (DESIGN.md, "Rules of the house").
 */
export class WritePath {
  private readonly apps: AppsV1Api;
  private readonly requestTimeoutMs: number;
  private readonly pollIntervalMs: number;
  private readonly recoveryTimeoutMs: number;
  private readonly clock: () => Date;
  /** The cluster this write path writes to, or null when unnamed. */
  readonly cluster: string | null;

  /** @throws Error from client-node when the kubeconfig has no current cluster. */
  constructor(opts: WritePathOptions) {
    this.cluster = opts.cluster ?? null;
    this.apps = opts.kubeConfig.makeApiClient(AppsV1Api);
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 10_000;
    this.pollIntervalMs = opts.pollIntervalMs ?? 1_000;
    this.recoveryTimeoutMs = opts.recoveryTimeoutMs ?? 120_000;
    this.clock = opts.clock ?? (() => new Date());
  }

  /**
   * Refuses an action addressed to another cluster than this write path's.
   * @throws BackstopError `action.wrong_cluster`
   */
  private checkCluster(action: ActionRecord): void {
    if (action.cluster !== undefined && this.cluster !== null && action.cluster !== this.cluster) {
      throw new BackstopError(
        "action.wrong_cluster",
        `the action names cluster "${action.cluster}" but this write path writes to "${this.cluster}"; nothing was sent`,
      );
    }
  }

  /**
   * Maps a deploy SHA to the Deployment's rollout revision whose ReplicaSet runs an image tagged with it
   * (`deployment.kubernetes.io/revision` on the ReplicaSets, as `kubectl rollout history`). When several
   * match, the highest revision wins. Returns null when no ReplicaSet of the Deployment runs that SHA.
   * @throws BackstopError `action.failed` (details `{ status, changed: false }`) when the API cannot be read.
   */
  async resolveRollback(
    namespace: string,
    name: string,
    toSha: string,
  ): Promise<{ revision: number; image: string } | null> {
    const dep = await this.readOrFail(namespace, name);
    const owned = await this.listOwned(dep, namespace);
    return findShaRevision(owned, toSha);
  }

  /**
   * Sends the very PATCH {@link execute} would send, with `dryRun=All`, so admission, RBAC and validation
   * run server-side and nothing persists. Never throws: validation and API errors come back as
   * `{ ok: false, error }` (the Kubernetes `Status.message` for 4xx/5xx).
   */
  async dryRun(action: ActionRecord): Promise<{ ok: boolean; error: string | null }> {
    try {
      this.checkCluster(action);
      const a = validateAction(action);
      const dep = await this.read(a.namespace, a.name);
      const plan = await planAction(a, "dry-run", dep, this.planContext(a, dep));
      if (plan.noop) return { ok: true, error: null };
      await this.patch(a, plan, true);
      log.info({ action: a }, "dry-run passed");
      return { ok: true, error: null };
    } catch (err) {
      const error =
        err instanceof BackstopError ? `${err.code}: ${err.message}` : describeK8sError(err).message;
      log.warn({ action, error }, "dry-run failed");
      return { ok: false, error };
    }
  }

  /**
   * True when the Deployment already carries `idempotencyKey` in its `backstop.dev/last-action`
   * annotation: an earlier attempt of the same run and action applied it (a retried job must not act
   * again). Read with the writer credential.
   * @throws BackstopError `action.failed` when the Deployment cannot be read.
   */
  async wasApplied(namespace: string, name: string, idempotencyKey: string): Promise<boolean> {
    const dep = await this.readOrFail(namespace, name);
    return dep.metadata?.annotations?.[LAST_ACTION_ANNOTATION] === idempotencyKey;
  }

  /**
   * Applies one action as one PATCH carrying `metadata.resourceVersion` (a concurrent change → 409) and the
   * `backstop.dev/last-action: <idempotencyKey>` annotation. If the Deployment already carries that key the
   * action is not repeated (`{ executed: false, alreadyApplied: true }`); likewise when a rollback target
   * already is the current template (kubectl: "skipped rollback"). On 409 it re-reads and retries once.
   * `revision` is the revision rolled back to (null for restart and scale).
   *
   * Rollback follows `kubectl rollout undo --to-revision` (kubectl `pkg/polymorphichelpers/rollback.go`): the
   * target ReplicaSet's `spec.template` minus the `pod-template-hash` label replaces the Deployment's, as a
   * JSON patch (RFC 6902). Unlike kubectl, the Deployment's own annotations are kept, with the ReplicaSet's
   * on top. Target: `to_revision`, else the revision running `to_sha`, else the previous revision.
   * Restart sets the pod-template annotation `kubectl.kubernetes.io/restartedAt` (strategic merge patch).
   * Scale sets `spec.replicas` (merge patch, RFC 7386) to 1 ≤ n ≤ 2 × current `spec.replicas`.
   *
   * @throws BackstopError `action.invalid`, `action.unsupported_kind`, `action.unsupported_type`,
   *   `action.out_of_bounds` (scale outside 1..2×current), `action.revision_not_found`, `action.paused`
   *   (a paused Deployment cannot be rolled back), or `action.failed` with details `{ status, changed, reason }`
   *   on an API failure (`status` null on timeout or connection failure; `changed` true iff the Deployment,
   *   re-read, carries this key — i.e. the PATCH applied; `uncertain` true after a timeout, when the PATCH
   *   may still land after the re-read — a retry with the same key then finds it and does not repeat it).
   */
  async execute(
    action: ActionRecord,
    idempotencyKey: string,
  ): Promise<{ executed: boolean; alreadyApplied: boolean; revision: number | null }> {
    this.checkCluster(action);
    const a = validateAction(action);
    if (idempotencyKey.length === 0)
      throw new BackstopError("action.invalid", "an idempotency key is required");
    let dep = await this.readOrFail(a.namespace, a.name);
    for (let attempt = 0; ; attempt++) {
      if (dep.metadata?.annotations?.[LAST_ACTION_ANNOTATION] === idempotencyKey) {
        log.info({ action: a, idempotencyKey }, "action already applied; not repeating it");
        return {
          executed: false,
          alreadyApplied: true,
          revision: a.type === "rollback" ? (a.to_revision ?? null) : null,
        };
      }
      const plan = await planAction(a, idempotencyKey, dep, this.planContext(a, dep));
      if (plan.noop) {
        log.info(
          { action: a, revision: plan.revision },
          "skipped: the Deployment already runs the target template",
        );
        return { executed: false, alreadyApplied: true, revision: plan.revision };
      }
      try {
        await this.patch(a, plan, false);
        log.info({ action: a, idempotencyKey, revision: plan.revision }, "action executed");
        return { executed: true, alreadyApplied: false, revision: plan.revision };
      } catch (err) {
        const failure = describeK8sError(err);
        if (failure.status === 409 && attempt === 0) {
          log.warn({ action: a, err }, "conflict (409); re-reading and retrying once");
          dep = await this.readOrFail(a.namespace, a.name);
          continue;
        }
        throw await this.failed(a, dep, idempotencyKey, failure, err);
      }
    }
  }

  /**
   * Polls the Deployment every `pollIntervalMs` until it has rolled out — `status.observedGeneration >=
   * metadata.generation`, and `updatedReplicas`, `replicas` and `availableReplicas` all equal `spec.replicas`
   * with no `unavailableReplicas` (the checks of `kubectl rollout status`) — or the timeout passes, or the
   * `Progressing` condition says `ProgressDeadlineExceeded`. Read errors while polling are logged and polled
   * through. `ready` is `status.readyReplicas`, `desired` is `spec.replicas` (default 1), `waited_ms` in ms.
   * Never throws.
   */
  async waitForRecovery(
    namespace: string,
    name: string,
    opts: { timeoutMs?: number } = {},
  ): Promise<{ ok: boolean; ready: number; desired: number; waited_ms: number }> {
    const timeoutMs = opts.timeoutMs ?? this.recoveryTimeoutMs;
    const start = performance.now();
    let ready = 0;
    let desired = 0;
    for (;;) {
      try {
        const dep = await this.read(namespace, name);
        const st = dep.status ?? {};
        desired = dep.spec?.replicas ?? 1;
        ready = st.readyReplicas ?? 0;
        const observed = (st.observedGeneration ?? 0) >= (dep.metadata?.generation ?? 0);
        const done =
          observed &&
          (st.updatedReplicas ?? 0) === desired &&
          (st.replicas ?? 0) === desired &&
          (st.availableReplicas ?? 0) === desired &&
          (st.unavailableReplicas ?? 0) === 0;
        if (done) return { ok: true, ready, desired, waited_ms: Math.round(performance.now() - start) };
        const stalled = (st.conditions ?? []).some(
          (c) => c.type === "Progressing" && c.reason === "ProgressDeadlineExceeded",
        );
        if (observed && stalled) {
          log.warn({ namespace, name }, "rollout exceeded its progress deadline");
          return { ok: false, ready, desired, waited_ms: Math.round(performance.now() - start) };
        }
      } catch (err) {
        log.warn({ namespace, name, err }, "recovery poll failed");
      }
      const elapsed = performance.now() - start;
      if (elapsed >= timeoutMs) return { ok: false, ready, desired, waited_ms: Math.round(elapsed) };
      await sleep(Math.min(this.pollIntervalMs, Math.max(1, timeoutMs - elapsed)));
    }
  }

  // --- internals -------------------------------------------------------------------------------------

  private read(namespace: string, name: string): Promise<V1Deployment> {
    return this.apps.readNamespacedDeployment({ namespace, name }, requestOptions(this.requestTimeoutMs));
  }

  private readOrFail(namespace: string, name: string): Promise<V1Deployment> {
    return readFailure(`cannot read Deployment ${namespace}/${name}`, () => this.read(namespace, name));
  }

  private listOwned(dep: V1Deployment, namespace: string): Promise<V1ReplicaSet[]> {
    return readFailure(`cannot list ReplicaSets in ${namespace}`, async () => {
      const list = await this.apps.listNamespacedReplicaSet(
        { namespace },
        requestOptions(this.requestTimeoutMs),
      );
      return ownedReplicaSets(dep, list.items);
    });
  }

  private planContext(a: ValidAction, dep: V1Deployment): PlanContext {
    return { clock: this.clock, listOwned: () => this.listOwned(dep, a.namespace) };
  }

  private async patch(a: ValidAction, plan: Plan, dryRun: boolean): Promise<void> {
    await this.apps.patchNamespacedDeployment(
      {
        namespace: a.namespace,
        name: a.name,
        body: plan.body,
        dryRun: dryRun ? "All" : undefined,
        fieldManager: "backstop",
      },
      requestOptions(this.requestTimeoutMs, plan.strategy),
    );
  }

  /** Builds `action.failed`, re-reading the Deployment to tell whether our PATCH applied. */
  private async failed(
    a: ValidAction,
    before: V1Deployment,
    key: string,
    failure: K8sFailure,
    cause: unknown,
  ): Promise<BackstopError> {
    let changed: boolean;
    let resourceVersionChanged: boolean | null = null;
    try {
      const now = await this.read(a.namespace, a.name);
      changed = now.metadata?.annotations?.[LAST_ACTION_ANNOTATION] === key;
      resourceVersionChanged = now.metadata?.resourceVersion !== before.metadata?.resourceVersion;
    } catch (err) {
      // Cannot tell: a refused connection never reached the server; anything else may have applied.
      changed = failure.kind !== "connection" && !(failure.kind === "api" && (failure.status ?? 0) < 500);
      log.warn({ action: a, err }, "could not re-read the Deployment after a failed action");
    }
    log.error({ action: a, status: failure.status, changed, err: cause }, "action failed");
    return new BackstopError(
      "action.failed",
      `${a.type} of ${a.namespace}/${a.name} failed: ${failure.message}`,
      {
        cause,
        details: {
          status: failure.status,
          changed,
          reason: failure.reason,
          kind: failure.kind,
          resource_version_changed: resourceVersionChanged,
          // A timed-out PATCH may still land after the re-read; the idempotency key keeps a retry from repeating it.
          uncertain: failure.kind === "timeout" || failure.kind === "unknown",
        },
      },
    );
  }
}

/**
 * Runs a read the action depends on; a failure becomes BackstopError `action.failed` with
 * `"<what>: <message>"` and details `{ status, changed: false, reason }` (nothing was written).
 */
async function readFailure<T>(what: string, op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    const f = describeK8sError(err);
    throw new BackstopError("action.failed", `${what}: ${f.message}`, {
      cause: err,
      details: { status: f.status, changed: false, reason: f.reason },
    });
  }
}
