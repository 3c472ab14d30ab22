import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { PROTECTED_LABEL } from "../contracts/k8s.js";
import { BackstopError } from "../errors.js";
import { resolveInPackage } from "../paths.js";

/** Absolute path of the documented default policy, `policy/default.yaml` in the package. */
export const DEFAULT_POLICY_PATH: string = resolveInPackage("policy", "default.yaml");

/** Action types a policy may allow; `none` never executes and `delete` does not exist in the write path. */
export const EXECUTABLE_ACTION_TYPES = ["rollback", "restart", "scale"] as const;

/** Anomaly kinds the budget knows, with their default cost in points (see `src/guardrails/anomaly.ts`). */
export const ANOMALY_KINDS = [
  "gate_failure",
  "fallback",
  "tool_error",
  "low_confidence",
  "action_failure",
] as const;

/** One of {@link ANOMALY_KINDS}. */
export type AnomalyKind = (typeof ANOMALY_KINDS)[number];

const AnomalyCostsSchema = z
  .strictObject({
    gate_failure: z.number().nonnegative().default(2),
    fallback: z.number().nonnegative().default(1),
    tool_error: z.number().nonnegative().default(2),
    low_confidence: z.number().nonnegative().default(1),
    action_failure: z.number().nonnegative().default(3),
  })
  .prefault({});

/** A duration in the policy: a positive integer and one unit, `s`, `m`, `h` or `d`. */
const DURATION_RE = /^[1-9][0-9]{0,6}(s|m|h|d)$/;

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/**
 * Milliseconds of a policy duration (`90s`, `30m`, `2h`, `1d`).
 * @throws BackstopError `policy.invalid` when `text` is not such a duration.
 */
export function durationMs(text: string): number {
  if (!DURATION_RE.test(text)) {
    throw new BackstopError("policy.invalid", `"${text}" is not a duration like 90s, 30m, 2h or 1d`);
  }
  const unit = text.slice(-1) as keyof typeof UNIT_MS;
  return Number.parseInt(text.slice(0, -1), 10) * UNIT_MS[unit];
}

/**
 * The action policy (`policy/default.yaml` documents every key in its header comment). Strict: an
 * unknown key is an error, so a misspelt `protect_statefulset` cannot silently turn a protection off.
 * Every key has a default equal to the default file, so `PolicySchema.parse({})` is the default policy.
 *
 * - `allowed_actions`: executable action types (subset of `rollback`, `restart`, `scale`).
 * - `protected.namespaces`: namespace globs; `protected.workloads`: `namespace/name` or
 *   `namespace/Kind/name` globs (`*` = any run of characters but `/`, `?` = one character).
 * - `protected.namespace_labels`: a Namespace whose `metadata.labels` hold all of these is protected.
 * - `protect_statefulsets`: StatefulSets are protected (Kubernetes StatefulSet docs: stable identity
 *   and storage; a restart or scale changes quorum and PVC bindings).
 * - `replicas.max_factor` / `replicas.min`: bounds for `scale` (never 0 regardless).
 * - `rollback.max_deploy_age_before_onset`: a rollback only fixes a deploy that went live at most this
 *   long before the incident's onset (a duration: `30m`, `2h`, `1d`); an older deploy is not the cause
 *   and the run escalates (rule `deploy_within_window`).
 * - `anomaly`: the run's anomaly budget in points, the cost per kind, and the loop cap in steps.
 */
export const PolicySchema = z.strictObject({
  allowed_actions: z.array(z.enum(EXECUTABLE_ACTION_TYPES)).default(["rollback", "restart", "scale"]),
  protected: z
    .strictObject({
      namespaces: z.array(z.string().min(1)).default(["kube-system", "kube-public", "kube-node-lease"]),
      workloads: z
        .array(
          z
            .string()
            .regex(/^[^/\s]+\/([^/\s]+\/)?[^/\s]+$/, "expected a namespace/name or namespace/Kind/name glob"),
        )
        .default(["data/*", "*/prod-db", "kube-system/*"]),
      namespace_labels: z.record(z.string(), z.string()).default({ [PROTECTED_LABEL]: "true" }),
    })
    .prefault({}),
  protect_statefulsets: z.boolean().default(true),
  replicas: z
    .strictObject({
      max_factor: z.number().min(1).default(2),
      min: z.number().int().min(1).default(1),
    })
    .prefault({}),
  rollback: z
    .strictObject({
      max_deploy_age_before_onset: z
        .string()
        .regex(DURATION_RE, "expected a duration like 90s, 30m, 2h or 1d")
        .default("2h"),
    })
    .prefault({}),
  anomaly: z
    .strictObject({
      budget: z.number().positive().default(6),
      max_steps: z.number().int().positive().default(8),
      costs: AnomalyCostsSchema,
    })
    .prefault({}),
});

/** A parsed, validated policy (see {@link PolicySchema}). */
export type Policy = z.infer<typeof PolicySchema>;

/** The built-in default policy: the schema's defaults, identical to `policy/default.yaml`. */
export function defaultPolicy(): Policy {
  return PolicySchema.parse({});
}

/**
 * Parses policy YAML text. An empty document is the default policy.
 * @throws BackstopError `policy.invalid` on a YAML syntax error or on a schema violation; the message
 *   names every bad field as `path: reason` (e.g. `replicas.max_factor: Too small: expected number to be >=1`).
 */
export function parsePolicy(text: string, source = "<policy>"): Policy {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new BackstopError("policy.invalid", `${source}: not valid YAML: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const result = PolicySchema.safeParse(raw ?? {});
  if (!result.success) {
    const fields = result.error.issues.map((i) => {
      const path = i.path.join(".");
      const keys = i.code === "unrecognized_keys" ? i.keys.map((k) => (path ? `${path}.${k}` : k)) : [];
      return { path: keys.length > 0 ? keys.join(", ") : path || "(root)", message: i.message };
    });
    const lines = fields.map((f) => `  - ${f.path}: ${f.message}`);
    throw new BackstopError("policy.invalid", `${source}: invalid policy:\n${lines.join("\n")}`, {
      details: { fields: fields.map((f) => f.path) },
    });
  }
  return result.data;
}

/**
 * Reads and validates a policy file; {@link DEFAULT_POLICY_PATH} when `path` is not given.
 * @throws BackstopError `policy.read` when the file cannot be read; `policy.invalid` naming the fields.
 */
export function loadPolicy(path?: string): Policy {
  const file = path ?? DEFAULT_POLICY_PATH;
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new BackstopError("policy.read", `cannot read policy ${file}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return parsePolicy(text, file);
}

/**
 * Glob match for policy patterns: `*` matches any run of characters except `/`, `?` one character
 * except `/`; everything else is literal. Case-sensitive, as Kubernetes names are (DNS-1123, lower case).
 */
export function globMatch(pattern: string, value: string): boolean {
  let re = "^";
  for (const ch of pattern) {
    if (ch === "*") re += "[^/]*";
    else if (ch === "?") re += "[^/]";
    else re += ch.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`${re}$`).test(value);
}

/**
 * Whether a workload is protected by the policy, and why (the first matching reason), checked in order:
 * namespace glob, workload glob (`ns/name` or `ns/Kind/name`), namespace labels (all of
 * `protected.namespace_labels` present with equal values), StatefulSet (kind compared case-insensitively).
 * `namespaceLabels` are the Namespace's `metadata.labels`; absent means "no labels known".
 */
export function isProtected(
  policy: Policy,
  ref: { namespace: string; kind: string; name: string },
  namespaceLabels?: Record<string, string>,
): { protected: boolean; why: string | null } {
  for (const p of policy.protected.namespaces) {
    if (globMatch(p, ref.namespace))
      return { protected: true, why: `namespace ${ref.namespace} matches "${p}"` };
  }
  for (const p of policy.protected.workloads) {
    const parts = p.split("/");
    const value =
      parts.length === 3
        ? `${ref.namespace}/${canonicalKind(ref.kind)}/${ref.name}`
        : `${ref.namespace}/${ref.name}`;
    const pattern = parts.length === 3 ? `${parts[0]}/${canonicalKind(parts[1] ?? "")}/${parts[2]}` : p;
    if (globMatch(pattern, value)) return { protected: true, why: `workload ${value} matches "${p}"` };
  }
  const wanted = Object.entries(policy.protected.namespace_labels);
  if (namespaceLabels && wanted.length > 0 && wanted.every(([k, v]) => namespaceLabels[k] === v)) {
    const labels = wanted.map(([k, v]) => `${k}=${v}`).join(",");
    return { protected: true, why: `namespace ${ref.namespace} is labelled ${labels}` };
  }
  if (policy.protect_statefulsets && ref.kind.toLowerCase() === "statefulset") {
    return { protected: true, why: `${ref.namespace}/${ref.name} is a StatefulSet (protect_statefulsets)` };
  }
  return { protected: false, why: null };
}

/** `deployment` → `Deployment`, `statefulset` → `StatefulSet`; other kinds are returned unchanged. */
export function canonicalKind(kind: string): string {
  const k = kind.toLowerCase();
  if (k === "deployment") return "Deployment";
  if (k === "statefulset") return "StatefulSet";
  return kind;
}
