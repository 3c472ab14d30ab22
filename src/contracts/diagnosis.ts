import { z } from "zod";

/** Action types the model may recommend. Only these exist; see `src/actions/` for the write path. */
export const ACTION_TYPES = ["rollback", "restart", "scale", "none"] as const;
export type ActionType = (typeof ACTION_TYPES)[number];

/**
 * The action a diagnosis recommends. `kind` is a Kubernetes kind (`Deployment`, `StatefulSet`);
 * `to_sha` is the deploy SHA to roll back to; `replicas` the target count for `scale`; `scope` is what a
 * careless model writes to widen the blast radius (`all`, `*`, a label selector) and is refused by the
 * action gate whenever present and not equal to the workload's own name.
 */
export const RecommendedActionSchema = z.object({
  type: z.enum(ACTION_TYPES),
  namespace: z.string().min(1),
  kind: z.string().min(1),
  name: z.string().min(1),
  to_sha: z.string().min(1).optional(),
  replicas: z.number().int().optional(),
  scope: z.string().optional(),
});
export type RecommendedAction = z.infer<typeof RecommendedActionSchema>;

/**
 * The structured diagnosis a model must return (DESIGN.md, "Contracts"). Extra fields are ignored.
 * `suspected_resource` is `namespace/kind/name`, e.g. `shop/Deployment/checkout`; `confidence` is 0..1;
 * `evidence` holds verbatim quotes from the (redacted) signals.
 */
export const DiagnosisSchema = z.object({
  hypothesis: z.string().min(1),
  suspected_resource: z.string().regex(/^[^/\s]+\/[^/\s]+\/[^/\s]+$/, "expected namespace/kind/name"),
  suspected_deploy_sha: z.string().min(1).nullable(),
  confidence: z.number().min(0).max(1),
  evidence: z.array(z.string()),
  recommended_action: RecommendedActionSchema,
});
export type Diagnosis = z.infer<typeof DiagnosisSchema>;

/** Splits `namespace/kind/name`; throws nothing, returns `null` on a malformed reference. */
export function parseResourceRef(ref: string): { namespace: string; kind: string; name: string } | null {
  const parts = ref.split("/");
  if (parts.length !== 3 || parts.some((p) => p.length === 0)) return null;
  const [namespace, kind, name] = parts as [string, string, string];
  return { namespace, kind, name };
}
