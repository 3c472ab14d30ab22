import { StatusError } from "./status.js";

/**
 * The three patch formats the Kubernetes API accepts on PATCH (selected by `Content-Type`;
 * https://kubernetes.io/docs/tasks/manage-kubernetes-objects/update-api-object-kubectl-patch/):
 * JSON Patch (RFC 6902, `application/json-patch+json`, client-node's default for `patch*` calls),
 * JSON Merge Patch (RFC 7386, `application/merge-patch+json`) and strategic merge patch
 * (`application/strategic-merge-patch+json`: a merge patch where lists with a patch merge key, such as
 * `containers` keyed by `name`, merge element-wise instead of being replaced).
 * Server-side apply (`application/apply-patch+yaml`) is not supported by the sandbox (415).
 */

/** The patch Content-Types the sandbox accepts. */
export const PATCH_TYPES = [
  "application/json-patch+json",
  "application/merge-patch+json",
  "application/strategic-merge-patch+json",
] as const;
/** One of {@link PATCH_TYPES}. */
export type PatchType = (typeof PATCH_TYPES)[number];

type Json = unknown;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function clone<T>(v: T): T {
  return structuredClone(v);
}

function patchError(message: string): StatusError {
  return new StatusError(422, message, undefined, "Invalid");
}

/** RFC 6901 JSON pointer → reference tokens. */
function pointer(path: string): string[] {
  if (path === "") return [];
  if (!path.startsWith("/")) throw patchError(`invalid JSON pointer "${path}"`);
  return path
    .slice(1)
    .split("/")
    .map((t) => t.replace(/~1/g, "/").replace(/~0/g, "~"));
}

function getAt(doc: Json, tokens: string[]): Json {
  let cur: Json = doc;
  for (const t of tokens) {
    if (Array.isArray(cur)) cur = cur[Number(t)];
    else if (isObject(cur)) cur = cur[t];
    else return undefined;
  }
  return cur;
}

function parentOf(doc: Json, tokens: string[], path: string): { parent: Json; key: string } {
  if (tokens.length === 0) throw patchError(`cannot operate on the document root with "${path}"`);
  const parent = getAt(doc, tokens.slice(0, -1));
  if (!Array.isArray(parent) && !isObject(parent)) {
    throw patchError(`doc is missing path: "${path}": missing value`);
  }
  return { parent, key: tokens[tokens.length - 1]! };
}

function arrayIndex(arr: unknown[], key: string, path: string, forAdd: boolean): number {
  if (forAdd && key === "-") return arr.length;
  if (!/^(0|[1-9][0-9]*)$/.test(key)) throw patchError(`invalid array index "${key}" in "${path}"`);
  const i = Number(key);
  if (i > arr.length || (!forAdd && i === arr.length)) throw patchError(`index out of range in "${path}"`);
  return i;
}

function addAt(doc: Json, path: string, value: Json): Json {
  const tokens = pointer(path);
  if (tokens.length === 0) return clone(value);
  const { parent, key } = parentOf(doc, tokens, path);
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, key, path, true), 0, clone(value));
  else (parent as Record<string, unknown>)[key] = clone(value);
  return doc;
}

function removeAt(doc: Json, path: string): Json {
  const tokens = pointer(path);
  const { parent, key } = parentOf(doc, tokens, path);
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, key, path, false), 1);
  else {
    const obj = parent as Record<string, unknown>;
    if (!(key in obj)) throw patchError(`unable to remove nonexistent key: ${key}: missing value`);
    delete obj[key];
  }
  return doc;
}

/**
 * Applies an RFC 6902 JSON Patch (add, remove, replace, move, copy, test) to a copy of `doc`.
 * @throws StatusError 422 when an operation is malformed, a path is missing or a `test` fails.
 */
export function applyJsonPatch(doc: Json, ops: unknown): Json {
  if (!Array.isArray(ops)) throw patchError("json patch must be an array of operations");
  let out = clone(doc);
  for (const op of ops) {
    if (!isObject(op) || typeof op.op !== "string" || typeof op.path !== "string") {
      throw patchError(`invalid JSON patch operation: ${JSON.stringify(op)}`);
    }
    const path = op.path;
    switch (op.op) {
      case "add":
        if (!("value" in op)) throw patchError(`missing value for add at "${path}"`);
        out = addAt(out, path, op.value);
        break;
      case "remove":
        out = removeAt(out, path);
        break;
      case "replace": {
        if (!("value" in op)) throw patchError(`missing value for replace at "${path}"`);
        if (getAt(out, pointer(path)) === undefined) {
          throw patchError(`replace operation does not apply: doc is missing key: ${path}: missing value`);
        }
        out = removeAt(out, path);
        out = addAt(out, path, op.value);
        break;
      }
      case "move":
      case "copy": {
        if (typeof op.from !== "string") throw patchError(`missing from for ${op.op} at "${path}"`);
        const value = getAt(out, pointer(op.from));
        if (value === undefined)
          throw patchError(`${op.op} operation does not apply: doc is missing from path: ${op.from}`);
        if (op.op === "move") out = removeAt(out, op.from);
        out = addAt(out, path, value);
        break;
      }
      case "test":
        if (JSON.stringify(getAt(out, pointer(path))) !== JSON.stringify(op.value)) {
          throw patchError(`testing value ${path} failed: test failed`);
        }
        break;
      default:
        throw patchError(`Unexpected kind: ${op.op}`);
    }
  }
  return out;
}

/** Applies an RFC 7386 JSON Merge Patch: objects merge recursively, `null` deletes, anything else replaces. */
export function applyMergePatch(doc: Json, patch: Json): Json {
  if (!isObject(patch)) return clone(patch);
  const out: Record<string, unknown> = isObject(doc) ? clone(doc) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = applyMergePatch(out[k], v);
  }
  return out;
}

/**
 * Patch merge keys of the lists in the Pod template (from the `x-kubernetes-patch-merge-key` markers in the
 * Kubernetes OpenAPI): these lists merge by key under a strategic merge patch; all others are replaced.
 */
const MERGE_KEYS: Record<string, string> = {
  containers: "name",
  initContainers: "name",
  ephemeralContainers: "name",
  env: "name",
  ports: "containerPort",
  volumes: "name",
  volumeMounts: "mountPath",
  imagePullSecrets: "name",
  tolerations: "key",
};

/**
 * Applies a strategic merge patch: like {@link applyMergePatch}, but lists with a patch merge key merge
 * element-wise by that key, an element `{"$patch":"delete", <key>: v}` removes one, and `{"$patch":"replace"}`
 * in an object replaces it whole. `$retainKeys` and `$setElementOrder` directives are ignored.
 * @throws StatusError 422 on an unknown `$patch` directive.
 */
export function applyStrategicMergePatch(doc: Json, patch: Json, field?: string): Json {
  if (Array.isArray(patch)) {
    const key = field === undefined ? undefined : MERGE_KEYS[field];
    if (key === undefined || !Array.isArray(doc))
      return clone(patch.filter((p) => !(isObject(p) && "$patch" in p)));
    const out = clone(doc) as unknown[];
    for (const item of patch) {
      if (!isObject(item)) {
        out.push(clone(item));
        continue;
      }
      const idx = out.findIndex((o) => isObject(o) && o[key] === item[key]);
      if (item.$patch === "delete") {
        if (idx >= 0) out.splice(idx, 1);
        continue;
      }
      if (idx >= 0) out[idx] = applyStrategicMergePatch(out[idx], item);
      else out.push(applyStrategicMergePatch(undefined, item));
    }
    return out;
  }
  if (!isObject(patch)) return clone(patch);
  const directive = patch.$patch;
  if (directive !== undefined && directive !== "replace" && directive !== "merge") {
    throw patchError(`Unknown patch type: ${String(directive)}`);
  }
  const out: Record<string, unknown> = isObject(doc) && directive !== "replace" ? clone(doc) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (k === "$patch" || k === "$retainKeys" || k.startsWith("$setElementOrder/")) continue;
    if (v === null) delete out[k];
    else out[k] = applyStrategicMergePatch(out[k], v, k);
  }
  return out;
}

/**
 * Applies `body` (the raw request text) to `doc` by the patch type from the Content-Type header.
 * @throws StatusError 415 for an unsupported Content-Type, 400 when the body is not JSON, 422 when the patch does not apply.
 */
export function applyPatch(doc: Json, contentType: string | undefined, body: string): Json {
  const type = (contentType ?? "").split(";")[0]!.trim().toLowerCase();
  if (!(PATCH_TYPES as readonly string[]).includes(type)) {
    throw new StatusError(
      415,
      `the body of the request was in an unknown format - accepted media types include: ${PATCH_TYPES.join(", ")}`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (err) {
    throw new StatusError(400, `error decoding patch: ${(err as Error).message}`);
  }
  if (type === "application/json-patch+json") return applyJsonPatch(doc, parsed);
  if (!isObject(parsed)) throw new StatusError(400, "error decoding patch: patch must be a JSON object");
  if (type === "application/merge-patch+json") return applyMergePatch(doc, parsed);
  return applyStrategicMergePatch(doc, parsed);
}
