/** What the write path accepts: the action's shape, the closed set of types and kinds, and its idempotency key. */
import { createHash } from "node:crypto";
import { z } from "zod";
import type { ActionRecord } from "../../contracts/events.js";
import { BackstopError, formatZodIssues } from "../../errors.js";

/** Keys a careless caller might carry over from a model's recommendation; the write path has no such thing. */
const FORBIDDEN_KEYS = ["scope", "selector", "labelSelector", "fieldSelector", "all", "allNamespaces"];

/** Kubernetes object names: DNS-1123 subdomain, at most 253 characters (Kubernetes "Object Names and IDs"). */
const dnsSubdomain = z
  .string()
  .max(253)
  .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, "expected a DNS-1123 name");

/** zod schema of an {@link ActionRecord} as the write path accepts it (shape only; kind/type/bounds checked after). */
export const ActionRecordSchema = z.object({
  type: z.enum(["rollback", "restart", "scale", "delete"]),
  namespace: dnsSubdomain,
  kind: z.string().min(1),
  name: dnsSubdomain,
  to_sha: z.string().min(1).max(128).optional(),
  to_revision: z.number().int().positive().optional(),
  replicas: z.number().int().optional(),
});

/** Spellings of the Deployment kind accepted (kind, resource, short name; case-insensitive). */
const DEPLOYMENT_KINDS = new Set([
  "deployment",
  "deployments",
  "deploy",
  "deployment.apps",
  "deployments.apps",
]);

/** A validated action on one Deployment. */
export type ValidAction = z.infer<typeof ActionRecordSchema> & {
  type: "rollback" | "restart" | "scale";
  kind: "Deployment";
};

/**
 * The idempotency key of one action in one run: `sha256("<runId>:<canonical action>")` in hex (64 chars),
 * the action as JSON with a fixed key order so the caller's key order does not matter. It is written to the Deployment's
 * `backstop.dev/last-action` annotation in the same PATCH as the action, so a retried job never acts twice.
 * @throws BackstopError `action.invalid` when `runId` is empty.
 */
export function idempotencyKey(runId: string, action: ActionRecord): string {
  if (runId.length === 0) throw new BackstopError("action.invalid", "idempotency key needs a run id");
  // Keys in sorted order, strings and integers only: JSON.stringify gives the RFC 8785 bytes here.
  const canonical = JSON.stringify({
    kind: action.kind,
    name: action.name,
    namespace: action.namespace,
    replicas: action.replicas ?? null,
    to_revision: action.to_revision ?? null,
    to_sha: action.to_sha ?? null,
    type: action.type,
  });
  return createHash("sha256").update(`${runId}:${canonical}`).digest("hex");
}

/**
 * Validates an action for the write path: shape (zod), no `scope`/selector of any kind, type in
 * rollback/restart/scale, kind `Deployment`.
 * @throws BackstopError `action.invalid` (bad shape, scope or selector present), `action.unsupported_kind`
 *   (anything but a Deployment), `action.unsupported_type` (`delete`, or anything else not in the closed set).
 */
export function validateAction(action: unknown): ValidAction {
  if (action !== null && typeof action === "object") {
    for (const key of FORBIDDEN_KEYS) {
      const v = (action as Record<string, unknown>)[key];
      if (v !== undefined && v !== null) {
        throw new BackstopError("action.invalid", `the write path has no "${key}": one workload per action`);
      }
    }
  }
  const parsed = ActionRecordSchema.safeParse(action);
  if (!parsed.success) {
    throw new BackstopError("action.invalid", `invalid action: ${formatZodIssues(parsed.error)}`);
  }
  const a = parsed.data;
  if (!DEPLOYMENT_KINDS.has(a.kind.toLowerCase())) {
    throw new BackstopError(
      "action.unsupported_kind",
      `the write path only acts on Deployments, not ${a.kind}`,
    );
  }
  if (a.type !== "rollback" && a.type !== "restart" && a.type !== "scale") {
    throw new BackstopError("action.unsupported_type", `the write path has no "${a.type}" action`);
  }
  return { ...a, type: a.type, kind: "Deployment" };
}
