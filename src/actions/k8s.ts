import { isIP } from "node:net";
import {
  ApiException,
  type KubeConfig,
  type PatchStrategy,
  type V1Deployment,
  type V1PodTemplateSpec,
  type V1ReplicaSet,
} from "@kubernetes/client-node";
import { canonicalize } from "../contracts/canonical.js";
import { POD_TEMPLATE_HASH_LABEL, REVISION_ANNOTATION } from "../contracts/k8s.js";
import { type KubeCallOptions, kubeCallOptions } from "../kube.js";

/**
 * Shared Kubernetes helpers for `src/actions/`: per-request options for client-node 1.4 (patch
 * `Content-Type`, request timeout), error classification, ReplicaSet revision lookups and image tags.
 * Nothing here talks to the API by itself.
 */

/** How a failed Kubernetes call failed. `status` is the HTTP status (null when no response came back). */
export interface K8sFailure {
  /** HTTP status code of the answer, or null on timeout / connection failure. */
  status: number | null;
  /** The `Status.reason` of the answer (`Forbidden`, `Conflict`, `NotFound`, ...) when there was one. */
  reason: string | null;
  /** The `Status.message` of the answer, or the transport error's message. */
  message: string;
  /** `api`: the server answered 4xx/5xx; `timeout`: our request deadline passed; `connection`: no connection. */
  kind: "api" | "timeout" | "connection" | "unknown";
}

/** Error codes of a connection that could not be made or was lost: errno names and undici's socket errors. */
const CONNECTION_CODE =
  /^(E[A-Z0-9_]+|UND_ERR_(SOCKET|CONNECT_TIMEOUT|CLOSED|DESTROYED|HEADERS_TIMEOUT|BODY_TIMEOUT|ABORTED))$/;

/**
 * Classifies an error thrown by a client-node 1.4 call. `ApiException` (4xx/5xx) carries the raw body,
 * a Kubernetes `Status` object as JSON (https://kubernetes.io/docs/reference/using-api/api-concepts/#response-status-kind).
 * Our deadline rejects with the signal's `TimeoutError` (undici, `kubeCallOptions`) or node-fetch 2's
 * `AbortError` (type `aborted`, client-node's own client for proxies); no connection is a socket error
 * (`code` e.g. `ECONNREFUSED`), undici's socket and connect errors (`UND_ERR_SOCKET`,
 * `UND_ERR_CONNECT_TIMEOUT` …) or node-fetch's `FetchError` (type `system`). Anything else is `unknown`.
 * Never throws.
 */
export function describeK8sError(err: unknown): K8sFailure {
  if (err instanceof ApiException) {
    const status = typeof err.code === "number" ? err.code : null;
    let reason: string | null = null;
    let message = `HTTP ${status ?? "?"}`;
    const body: unknown = err.body;
    let parsed: unknown = body;
    if (typeof body === "string") {
      try {
        parsed = JSON.parse(body);
      } catch {
        parsed = null;
        if (body.trim().length > 0) message = `HTTP ${status ?? "?"}: ${body.trim().slice(0, 300)}`;
      }
    }
    if (parsed !== null && typeof parsed === "object") {
      const s = parsed as { message?: unknown; reason?: unknown };
      if (typeof s.message === "string" && s.message.length > 0) message = s.message;
      if (typeof s.reason === "string" && s.reason.length > 0) reason = s.reason;
    }
    if (reason === null && status === 401) reason = "Unauthorized";
    return { status, reason, message, kind: "api" };
  }
  if (err instanceof Error) {
    const e = err as Error & { type?: unknown; code?: unknown; cause?: unknown };
    if (e.type === "aborted" || e.name === "AbortError" || e.name === "TimeoutError") {
      return { status: null, reason: null, message: `request timed out: ${e.message}`, kind: "timeout" };
    }
    if (e.type === "system" || (typeof e.code === "string" && CONNECTION_CODE.test(e.code))) {
      return { status: null, reason: null, message: e.message, kind: "connection" };
    }
    return { status: null, reason: null, message: e.message, kind: "unknown" };
  }
  return { status: null, reason: null, message: String(err), kind: "unknown" };
}

/**
 * Per-request options for a write-path call: {@link kubeCallOptions} (the `timeoutMs` deadline and the
 * pooled connection), and for PATCH the patch `Content-Type` (client-node otherwise picks
 * `application/json-patch+json`).
 */
export function requestOptions(timeoutMs: number, contentType?: PatchStrategy): KubeCallOptions {
  return kubeCallOptions(timeoutMs, contentType === undefined ? {} : { "Content-Type": contentType });
}

/** The `deployment.kubernetes.io/revision` of an object as an integer, or null when absent or malformed. */
export function revisionOf(obj: { metadata?: { annotations?: Record<string, string> } }): number | null {
  const raw = obj.metadata?.annotations?.[REVISION_ANNOTATION];
  if (raw === undefined || !/^\d+$/.test(raw)) return null;
  return Number.parseInt(raw, 10);
}

/**
 * The ReplicaSets that belong to a Deployment: controlled through an `ownerReferences` entry of kind
 * `Deployment` (matched by uid when both sides have one, else by name), or — for ReplicaSets without any
 * owner reference — whose selector carries all the Deployment's `matchLabels`.
 */
export function ownedReplicaSets(deployment: V1Deployment, replicaSets: V1ReplicaSet[]): V1ReplicaSet[] {
  const uid = deployment.metadata?.uid;
  const name = deployment.metadata?.name;
  const match = deployment.spec?.selector?.matchLabels ?? {};
  return replicaSets.filter((rs) => {
    const owners = rs.metadata?.ownerReferences ?? [];
    if (owners.length > 0) {
      return owners.some(
        (o) => o.kind === "Deployment" && (uid !== undefined && o.uid ? o.uid === uid : o.name === name),
      );
    }
    const labels = rs.spec?.selector?.matchLabels ?? rs.spec?.template?.metadata?.labels ?? {};
    const keys = Object.keys(match);
    return keys.length > 0 && keys.every((k) => labels[k] === match[k]);
  });
}

/**
 * The tag (or digest) of an image reference: `ghcr.io/acme/checkout:abc123` → `abc123`,
 * `registry:5000/app` → null, `app@sha256:…` → `sha256:…` (Docker reference grammar: the tag follows the
 * last `:` after the last `/`).
 */
export function imageTag(image: string): string | null {
  const at = image.indexOf("@");
  if (at >= 0) return image.slice(at + 1);
  const lastSlash = image.lastIndexOf("/");
  const colon = image.indexOf(":", lastSlash + 1);
  return colon >= 0 ? image.slice(colon + 1) : null;
}

/** The image reference without its tag or digest: `ghcr.io/acme/checkout:abc123` → `ghcr.io/acme/checkout`. */
export function imageRepository(image: string): string {
  const at = image.indexOf("@");
  if (at >= 0) return image.slice(0, at);
  const lastSlash = image.lastIndexOf("/");
  const colon = image.indexOf(":", lastSlash + 1);
  return colon >= 0 ? image.slice(0, colon) : image;
}

/**
 * True when an image reference was built from deploy SHA `sha`: its tag equals it, or one is a prefix of the
 * other and both are at least 7 characters (git's default short SHA), so `abc1234` matches `abc1234def…`.
 */
export function imageMatchesSha(image: string, sha: string): boolean {
  const tag = imageTag(image);
  if (tag === null || sha.length === 0) return false;
  if (tag === sha) return true;
  return tag.length >= 7 && sha.length >= 7 && (tag.startsWith(sha) || sha.startsWith(tag));
}

/** A deep, plain-JSON copy of a pod template (client-node model instances and `Date`s become plain JSON). */
export function plainTemplate(template: V1PodTemplateSpec): Record<string, unknown> {
  return JSON.parse(JSON.stringify(template)) as Record<string, unknown>;
}

/**
 * Pod-template equality ignoring the `pod-template-hash` label, as kubectl's `equalIgnoreHash`
 * (kubectl `pkg/polymorphichelpers/rollback.go`). Compares plain JSON with keys in sorted order.
 */
export function templatesEqualIgnoringHash(
  a: V1PodTemplateSpec | undefined,
  b: V1PodTemplateSpec | undefined,
): boolean {
  const norm = (t: V1PodTemplateSpec | undefined): string => {
    const p = t === undefined ? {} : plainTemplate(t);
    const meta = (p.metadata ?? {}) as { labels?: Record<string, string>; creationTimestamp?: unknown };
    if (meta.labels) delete meta.labels[POD_TEMPLATE_HASH_LABEL];
    if (meta.labels && Object.keys(meta.labels).length === 0) delete meta.labels;
    delete meta.creationTimestamp;
    p.metadata = meta;
    return canonicalize(p) ?? "";
  };
  return norm(a) === norm(b);
}

/**
 * True when the current cluster of `kubeConfig` is served on a loopback address (`127.0.0.0/8`, `::1`,
 * `localhost`). Used to keep the naive agent inside the sandbox. Never throws.
 */
export function isLoopbackCluster(kubeConfig: KubeConfig): boolean {
  const server = kubeConfig.getCurrentCluster()?.server;
  if (!server) return false;
  let host: string;
  try {
    host = new URL(server).hostname;
  } catch {
    return false;
  }
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
  if (host === "localhost") return true;
  if (isIP(host) === 4) return host.startsWith("127.");
  if (isIP(host) === 6) return host === "::1" || host === "0:0:0:0:0:0:0:1";
  return false;
}
