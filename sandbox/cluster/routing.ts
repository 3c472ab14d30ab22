import { badRequest, StatusError } from "./status.js";
import type { Obj } from "./world.js";

/**
 * Request routing for the sandbox cluster: a REST path and method to the RBAC attributes the API
 * server would check (group, resource with subresource, namespace, name, verb), and the request
 * options every handler reads (`dryRun` in the query or a DELETE's `DeleteOptions`, JSON bodies).
 * Paths and verbs follow the Kubernetes API concepts (https://kubernetes.io/docs/reference/using-api/api-concepts/).
 */

/** A served REST path as RBAC attributes. */
export interface Route {
  group: string;
  /** Resource as RBAC names it, with the subresource: `deployments/scale`. */
  resource: string;
  namespace: string;
  name: string;
  verb: string;
}

/** The RBAC verb of a request: `get`/`list`/`watch` for reads (by name and `?watch`), else by method. */
export function verbOf(method: string, name: string, query: URLSearchParams): string {
  switch (method) {
    case "GET":
    case "HEAD":
      if (name) return "get";
      return query.get("watch") === "true" || query.get("watch") === "1" ? "watch" : "list";
    case "PATCH":
      return "patch";
    case "PUT":
      return "update";
    case "DELETE":
      return "delete";
    case "POST":
      return "create";
    default:
      return method.toLowerCase();
  }
}

/** Maps a REST path to RBAC attributes; undefined when the sandbox does not serve it. */
export function route(method: string, path: string, query: URLSearchParams): Route | undefined {
  const segs = path
    .split("/")
    .filter((s) => s.length > 0)
    .map(decodeURIComponent);
  let group: string;
  let rest: string[];
  if (segs[0] === "api" && segs[1] === "v1") {
    group = "";
    rest = segs.slice(2);
  } else if (segs[0] === "apis" && segs[1] === "apps" && segs[2] === "v1") {
    group = "apps";
    rest = segs.slice(3);
  } else if (
    segs[0] === "apis" &&
    segs[1] === "authorization.k8s.io" &&
    segs[2] === "v1" &&
    segs[3] === "selfsubjectaccessreviews" &&
    segs.length === 4
  ) {
    return {
      group: "authorization.k8s.io",
      resource: "selfsubjectaccessreviews",
      namespace: "",
      name: "",
      verb: verbOf(method, "", query),
    };
  } else return undefined;
  let namespace = "";
  if (rest[0] === "namespaces" && rest.length >= 3) {
    namespace = rest[1]!;
    rest = rest.slice(2);
  } else if (rest[0] === "namespaces" && group === "") {
    // namespaces collection or one namespace (cluster-scoped)
    const name = rest[1] ?? "";
    if (rest.length > 2) return undefined;
    return { group, resource: "namespaces", namespace: "", name, verb: verbOf(method, name, query) };
  }
  const [resource, name = "", sub, ...extra] = rest;
  if (!resource || extra.length > 0) return undefined;
  const known =
    group === ""
      ? ["pods", "events", "secrets", "services", "configmaps"]
      : ["deployments", "replicasets", "statefulsets"];
  if (!known.includes(resource)) return undefined;
  const full = sub ? `${resource}/${sub}` : resource;
  return { group, resource: full, namespace, name, verb: verbOf(method, name, query) };
}

/**
 * Whether the query asks for a dry run (`dryRun=All`; no value: false).
 * @throws StatusError 400 (BadRequest) for any other `dryRun` value.
 */
export function dryRunOf(query: URLSearchParams): boolean {
  const values = query.getAll("dryRun");
  if (values.length === 0) return false;
  for (const v of values) {
    if (v !== "All") {
      throw new StatusError(
        400,
        `Invalid dryRun value: "${v}": supported values: "All"`,
        undefined,
        "BadRequest",
      );
    }
  }
  return true;
}

/**
 * `dryRun` of a DELETE's `DeleteOptions` body (meta/v1: `{"kind":"DeleteOptions","dryRun":["All"]}`);
 * false for an empty body. @throws StatusError 400 for a body that is not JSON or a bad dryRun value.
 */
export function deleteDryRun(text: string): boolean {
  if (text.trim() === "") return false;
  const opts = parseJsonBody(text);
  if (opts.dryRun === undefined) return false;
  if (!Array.isArray(opts.dryRun)) throw badRequest("DeleteOptions.dryRun must be a list");
  return dryRunOf(new URLSearchParams(opts.dryRun.map((v) => ["dryRun", String(v)])));
}

/**
 * A request body as a JSON object.
 * @throws StatusError 400 when it is not JSON or not an object.
 */
export function parseJsonBody(text: string): Obj {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw badRequest(`error decoding request body: ${(err as Error).message}`);
  }
  if (typeof body !== "object" || body === null || Array.isArray(body))
    throw badRequest("request body must be a JSON object");
  return body as Obj;
}
