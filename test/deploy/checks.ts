import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";
import { resolveInPackage } from "../../src/paths.js";

/**
 * Checks over the deployment files (deploy/, manifest.yml, docker-compose.yml) that the tests run on
 * the real files and on deliberately bad inputs. Each `*Violations` function returns the list of
 * problems found, one human-readable string each; an empty list means the input passes.
 */

/** A Kubernetes RBAC PolicyRule (rbac.authorization.k8s.io/v1): verbs on resources in API groups. */
export interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  verbs?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}

/** A Kubernetes object as parsed from YAML: only the fields the checks read are typed. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

/** Reads a file of the repository as UTF-8 text. @throws the fs error when it does not exist. */
export function readRepoFile(...segments: string[]): string {
  return readFileSync(resolveInPackage(...segments), "utf8");
}

/**
 * Parses a multi-document YAML text into its non-empty documents.
 * @throws Error naming the first YAML error.
 */
export function parseYamlDocs(text: string, source: string): K8sObject[] {
  const docs = parseAllDocuments(text);
  const out: K8sObject[] = [];
  for (const d of docs) {
    if (d.errors.length > 0) throw new Error(`${source}: ${d.errors[0]?.message}`);
    const v = d.toJS() as K8sObject | null;
    if (v !== null && v !== undefined) out.push(v);
  }
  return out;
}

/** The verbs that change state (Kubernetes API "Verbs on resources"), plus the wildcard. */
export const WRITE_VERBS = [
  "create",
  "update",
  "patch",
  "delete",
  "deletecollection",
  "escalate",
  "bind",
  "impersonate",
  "*",
];

/**
 * Violations of the narrow writer's rules: verbs other than get/list/patch; `patch` on anything but
 * `deployments` and `deployments/scale` in group `apps`; resources other than those two and
 * `replicasets` (read, for a rollback's pod template); wildcards; `statefulsets` in any form.
 */
export function writerRoleViolations(rules: PolicyRule[]): string[] {
  const out: string[] = [];
  const writable = new Set(["deployments", "deployments/scale"]);
  const readable = new Set([...writable, "replicasets"]);
  for (const [i, r] of rules.entries()) {
    const groups = r.apiGroups ?? [];
    const resources = r.resources ?? [];
    const verbs = r.verbs ?? [];
    if (r.nonResourceURLs?.length) out.push(`rule ${i}: nonResourceURLs`);
    if (groups.some((g) => g !== "apps")) out.push(`rule ${i}: apiGroups ${groups.join(",")} (only apps)`);
    for (const v of verbs) {
      if (!["get", "list", "patch"].includes(v)) out.push(`rule ${i}: verb ${v}`);
    }
    for (const res of resources) {
      if (!readable.has(res)) out.push(`rule ${i}: resource ${res}`);
      if (verbs.includes("patch") && !writable.has(res)) out.push(`rule ${i}: patch on ${res}`);
    }
  }
  return out;
}

/** Violations of the read-only role: any write verb, and `secrets`, `configmaps` or a wildcard resource. */
export function readRoleViolations(rules: PolicyRule[]): string[] {
  const out: string[] = [];
  for (const [i, r] of rules.entries()) {
    for (const v of r.verbs ?? []) {
      if (WRITE_VERBS.includes(v) || !["get", "list", "watch"].includes(v)) out.push(`rule ${i}: verb ${v}`);
    }
    for (const res of r.resources ?? []) {
      const base = res.split("/")[0];
      if (base === "secrets" || base === "configmaps" || res === "*" || base === "*") {
        out.push(`rule ${i}: resource ${res}`);
      }
      if (/\/(exec|attach|portforward|proxy|eviction|scale)$/.test(res))
        out.push(`rule ${i}: subresource ${res}`);
    }
  }
  return out;
}

interface SecurityContext {
  runAsNonRoot?: boolean;
  runAsUser?: number;
  readOnlyRootFilesystem?: boolean;
  allowPrivilegeEscalation?: boolean;
  privileged?: boolean;
  capabilities?: { drop?: string[]; add?: string[] };
  seccompProfile?: { type?: string };
}

interface Container {
  name: string;
  securityContext?: SecurityContext;
  resources?: { requests?: Record<string, unknown>; limits?: Record<string, unknown> };
  readinessProbe?: unknown;
  livenessProbe?: unknown;
}

/** A PodSpec (core/v1) as far as the checks read it. */
export interface PodSpec {
  securityContext?: SecurityContext;
  containers?: Container[];
  initContainers?: Container[];
  hostNetwork?: boolean;
  hostPID?: boolean;
}

/**
 * Violations of the hardened container baseline (Pod Security Standards "restricted", plus a
 * read-only root filesystem, resource requests/limits and a readiness probe), per container:
 * runAsNonRoot true and a non-zero uid when one is set (container or pod level), readOnlyRootFilesystem,
 * allowPrivilegeEscalation false, not privileged, capabilities drop ALL and add none, seccomp
 * RuntimeDefault or Localhost (container or pod level).
 */
export function containerViolations(pod: PodSpec): string[] {
  const out: string[] = [];
  if (pod.hostNetwork || pod.hostPID) out.push("pod: host namespaces");
  const containers = [...(pod.initContainers ?? []), ...(pod.containers ?? [])];
  if (containers.length === 0) out.push("pod: no containers");
  const podSc = pod.securityContext ?? {};
  for (const c of containers) {
    const sc = c.securityContext ?? {};
    const nonRoot = sc.runAsNonRoot ?? podSc.runAsNonRoot;
    const uid = sc.runAsUser ?? podSc.runAsUser;
    if (nonRoot !== true) out.push(`${c.name}: runAsNonRoot is not true`);
    if (uid === 0) out.push(`${c.name}: runAsUser 0`);
    if (sc.readOnlyRootFilesystem !== true) out.push(`${c.name}: root filesystem is writable`);
    if (sc.allowPrivilegeEscalation !== false) out.push(`${c.name}: allowPrivilegeEscalation is not false`);
    if (sc.privileged) out.push(`${c.name}: privileged`);
    if (!sc.capabilities?.drop?.includes("ALL")) out.push(`${c.name}: capabilities not dropped`);
    if ((sc.capabilities?.add ?? []).length > 0) out.push(`${c.name}: capabilities added`);
    const seccomp = sc.seccompProfile?.type ?? podSc.seccompProfile?.type;
    if (seccomp !== "RuntimeDefault" && seccomp !== "Localhost") out.push(`${c.name}: no seccomp profile`);
    const req = c.resources?.requests ?? {};
    const lim = c.resources?.limits ?? {};
    if (!("cpu" in req && "memory" in req)) out.push(`${c.name}: no cpu/memory requests`);
    if (!("memory" in lim)) out.push(`${c.name}: no memory limit`);
    if (!c.readinessProbe) out.push(`${c.name}: no readiness probe`);
  }
  return out;
}

/**
 * Parses a dotenv-style file as Docker Compose's `env_file` does for simple lines: `KEY=VALUE` per
 * line, `#` comment lines and blank lines skipped, the value taken verbatim after the first `=`.
 * @throws Error on a line that is neither a comment nor `KEY=VALUE`.
 */
export function parseEnvFile(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [i, raw] of text.split("\n").entries()) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) throw new Error(`line ${i + 1}: expected KEY=VALUE, got ${JSON.stringify(line)}`);
    env[m[1]!] = m[2]!;
  }
  return env;
}
