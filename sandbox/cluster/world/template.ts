import type { HealthProfile } from "../../../scenarios/schema.js";
import { canonicalize, sameJson } from "../../../src/contracts/canonical.js";
import { POD_TEMPLATE_HASH_LABEL } from "../../../src/contracts/k8s.js";
import { fnv32a, safeEncode } from "../util.js";
import type { Obj } from "./types.js";

/**
 * Pure helpers over pod templates and health profiles, shared by the world's controllers, renderers and
 * writes. Template hashing follows the Deployment controller (`ComputeHash` over the template without
 * `pod-template-hash`, `EqualIgnoreHash` for equality).
 */

/** Health states whose container runs and is ready. */
export const READY_STATES = new Set(["healthy", "error", "slow"]);
/** The one node every pod runs on. */
export const NODE = "sandbox-node-1";

/** The map key of a namespaced object. */
export const key = (ns: string, name: string): string => `${ns}/${name}`;

/** True for a plain JSON object (not null, not an array). */
export function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The string-valued entries of `v` (labels, annotations); `{}` when `v` is not an object. */
export function strMap(v: unknown): Record<string, string> {
  if (!isObj(v)) return {};
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) if (typeof val === "string") out[k] = val;
  return out;
}

/** `spec.containers` of a pod template as name/image pairs (missing fields become ""). */
export function containersOf(template: Obj): Array<{ name: string; image: string }> {
  const spec = isObj(template.spec) ? template.spec : {};
  const list = Array.isArray(spec.containers) ? spec.containers : [];
  return list.filter(isObj).map((c) => ({ name: String(c.name ?? ""), image: String(c.image ?? "") }));
}

/** The image of a template's first container, "" when it has none. */
export function firstImage(template: unknown): string {
  return isObj(template) ? (containersOf(template)[0]?.image ?? "") : "";
}

/** `metadata.labels` of a pod template. */
export function templateLabels(template: Obj): Record<string, string> {
  return strMap(isObj(template.metadata) ? template.metadata.labels : undefined);
}

/** A pod template with the `pod-template-hash` label removed (Kubernetes' `EqualIgnoreHash`). */
export function withoutHash(template: Obj): Obj {
  const t = structuredClone(template);
  if (isObj(t.metadata) && isObj(t.metadata.labels)) {
    delete t.metadata.labels[POD_TEMPLATE_HASH_LABEL];
    if (Object.keys(t.metadata.labels).length === 0) delete t.metadata.labels;
  }
  if (
    isObj(t.metadata) &&
    isObj(t.metadata.annotations) &&
    Object.keys(t.metadata.annotations).length === 0
  ) {
    delete t.metadata.annotations;
  }
  if (isObj(t.metadata) && Object.keys(t.metadata).length === 0) delete t.metadata;
  return t;
}

/** True when two pod templates are equal ignoring `pod-template-hash`. */
export function templatesEqual(a: Obj, b: Obj): boolean {
  return sameJson(withoutHash(a), withoutHash(b));
}

/** The `pod-template-hash` of a template; `collision` > 0 perturbs it as the controller's `collisionCount` does. */
export function templateHash(template: Obj, collision = 0): string {
  return safeEncode(
    fnv32a((canonicalize(withoutHash(template)) ?? "") + (collision ? String(collision) : "")),
  );
}

/**
 * The profile an image shows `ageMs` after its pod started: with `healthy_for_minutes`, a plain healthy
 * profile until then (health that changes over time), afterwards the profile itself. The second value
 * is how long the profile has been in its own state (ms; the crash clock starts there).
 */
export function profileAt(
  profile: HealthProfile | undefined,
  ageMs: number,
): { profile: HealthProfile | undefined; sinceMs: number } {
  const healthyMs = (profile?.healthy_for_minutes ?? 0) * 60_000;
  if (!profile || healthyMs === 0) return { profile, sinceMs: ageMs };
  if (ageMs < healthyMs) return { profile: { state: "healthy", logs: [] }, sinceMs: ageMs };
  return { profile, sinceMs: ageMs - healthyMs };
}

/** The restart count of a crashing container `ageMs` after its pod started: it crashed once at start, then `restarts_per_10m`. */
export function crashRestarts(profile: HealthProfile, ageMs: number): number {
  if (ageMs < 0) return 0;
  const rate = profile.restarts_per_10m ?? 4;
  return 1 + Math.floor((ageMs / 600_000) * rate);
}

/** The kubelet's message when an image cannot be pulled (containerd's NotFound). */
export function pullError(image: string): string {
  return `rpc error: code = NotFound desc = failed to pull and unpack image "${image}": failed to resolve reference "${image}": ${image}: not found`;
}

/** An 8-hex-digit FNV-1a of `seed`, the suffix of event names. */
export function hex8(seed: string): string {
  return fnv32a(seed).toString(16).padStart(8, "0");
}
