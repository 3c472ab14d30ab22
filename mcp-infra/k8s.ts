import {
  ApiException,
  AppsV1Api,
  AutoscalingV2Api,
  BatchV1Api,
  CoreV1Api,
  type KubeConfig,
} from "@kubernetes/client-node";
import { BackstopError, errorMessage } from "../src/errors.js";
import { type KubeCallOptions, kubeCallOptions } from "../src/kube.js";

/** Default per-call Kubernetes API timeout, ms. */
export const DEFAULT_K8S_TIMEOUT_MS = 5_000;

/** The typed Kubernetes API clients mcp-infra uses, plus the per-call options that carry the timeout. */
export interface K8sApis {
  core: CoreV1Api;
  apps: AppsV1Api;
  /** HorizontalPodAutoscalers (autoscaling/v2), read by `resolve_owner` for their `scaleTargetRef`. */
  autoscaling: AutoscalingV2Api;
  /** Jobs (batch/v1), read by `resolve_owner` for their CronJob. */
  batch: BatchV1Api;
  /** Per-call client-node options ({@link kubeCallOptions}): the `timeoutMs` deadline and the pooled connection. */
  opts: KubeCallOptions;
  timeoutMs: number;
}

/**
 * Builds the client-node (1.4) API clients from a KubeConfig. Every call made with `apis.opts`
 * ({@link kubeCallOptions}) gets a fresh `AbortSignal.timeout(timeoutMs)`, so a hanging API server fails the
 * call instead of the tool, and goes out on a pooled keep-alive connection (client-node would open a new
 * TLS connection per call).
 */
export function makeK8sApis(kubeConfig: KubeConfig, timeoutMs = DEFAULT_K8S_TIMEOUT_MS): K8sApis {
  return {
    core: kubeConfig.makeApiClient(CoreV1Api),
    apps: kubeConfig.makeApiClient(AppsV1Api),
    autoscaling: kubeConfig.makeApiClient(AutoscalingV2Api),
    batch: kubeConfig.makeApiClient(BatchV1Api),
    opts: kubeCallOptions(timeoutMs),
    timeoutMs,
  };
}

/** HTTP status of a client-node `ApiException`, or undefined for any other error. */
export function apiStatus(err: unknown): number | undefined {
  return err instanceof ApiException ? (err.code as number) : undefined;
}

/**
 * The `message` of the Kubernetes `Status` object in an ApiException body (a JSON string in client-node 1.x),
 * see https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/status/ ; falls back to the raw body.
 */
function statusMessage(err: ApiException<unknown>): string {
  const body = err.body;
  if (typeof body === "string" && body.length > 0) {
    try {
      const parsed = JSON.parse(body) as { message?: unknown };
      if (typeof parsed.message === "string") return parsed.message;
    } catch {
      return body.slice(0, 300);
    }
  }
  return `HTTP ${err.code}`;
}

/**
 * Turns a client-node failure into a BackstopError with a clear message for a tool error:
 * - 401 → `k8s.unauthorized`, 403 → `k8s.forbidden`, 404 → `k8s.not_found`, 429/5xx and others → `k8s.unavailable`;
 * - an aborted request (our timeout) → `k8s.timeout`; a network failure (refused, reset, DNS) → `k8s.unavailable`.
 * `what` names the request, e.g. `get deployments shop/checkout`.
 */
export function k8sError(err: unknown, what: string, timeoutMs: number): BackstopError {
  if (err instanceof BackstopError) return err;
  if (err instanceof ApiException) {
    const code = err.code as number;
    const msg = statusMessage(err);
    if (code === 401)
      return new BackstopError("k8s.unauthorized", `Kubernetes API: unauthorized (401) for ${what}: ${msg}`, {
        cause: err,
      });
    if (code === 403)
      return new BackstopError("k8s.forbidden", `Kubernetes API: forbidden (403) for ${what}: ${msg}`, {
        cause: err,
      });
    if (code === 404)
      return new BackstopError("k8s.not_found", `Kubernetes API: not found (404) for ${what}: ${msg}`, {
        cause: err,
      });
    return new BackstopError("k8s.unavailable", `Kubernetes API error (${code}) for ${what}: ${msg}`, {
      cause: err,
    });
  }
  const name = err instanceof Error ? err.name : "";
  if (name === "AbortError" || name === "TimeoutError") {
    return new BackstopError("k8s.timeout", `Kubernetes API: ${what} timed out after ${timeoutMs} ms`, {
      cause: err,
    });
  }
  return new BackstopError(
    "k8s.unavailable",
    `Kubernetes API unreachable for ${what}: ${errorMessage(err)}`,
    { cause: err },
  );
}

/**
 * Runs one Kubernetes API call and maps its failure through {@link k8sError}.
 * @throws BackstopError `k8s.*`
 */
export async function k8sCall<T>(apis: K8sApis, what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw k8sError(err, what, apis.timeoutMs);
  }
}

/** A Date or string timestamp (client-node deserializes `metav1.Time` into Date) as ISO-8601, or null. */
export function iso(t: Date | string | undefined | null): string | null {
  if (t === undefined || t === null) return null;
  const d = t instanceof Date ? t : new Date(t);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

/**
 * A `LabelSelector` as the string form `labelSelector=` takes (`a=b,c in (d,e),!f`), see
 * https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors .
 */
export function selectorString(sel: {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}): string {
  const parts = Object.entries(sel.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const e of sel.matchExpressions ?? []) {
    const vals = (e.values ?? []).join(",");
    if (e.operator === "In") parts.push(`${e.key} in (${vals})`);
    else if (e.operator === "NotIn") parts.push(`${e.key} notin (${vals})`);
    else if (e.operator === "Exists") parts.push(e.key);
    else if (e.operator === "DoesNotExist") parts.push(`!${e.key}`);
  }
  return parts.join(",");
}
