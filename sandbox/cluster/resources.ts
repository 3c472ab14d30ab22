import type { IncomingMessage, ServerResponse } from "node:http";
import { sendJson } from "../http.js";
import { collection, EVENT_FIELDS, LIST_KIND, list, META_FIELDS, POD_FIELDS } from "./collections.js";
import { applyPatch } from "./patch.js";
import { decodeSelfSubjectAccessReview } from "./protobuf.js";
import { allowed, type SandboxUser } from "./rbac.js";
import { parseJsonBody, type Route } from "./routing.js";
import type { ServerState } from "./state.js";
import { badRequest, StatusError } from "./status.js";
import { toTable, wantsTable } from "./table.js";
import { serveWatch } from "./watch.js";
import type { Obj } from "./world.js";

/**
 * One authenticated, authorized request to a served resource, as the handler has read it: the route,
 * the caller, whether it is a dry run, and the raw body of a PATCH/PUT/POST (null otherwise) with
 * whether it is protobuf (only SelfSubjectAccessReviews may be).
 */
export interface ResourceRequest {
  state: ServerState;
  req: IncomingMessage;
  res: ServerResponse;
  r: Route;
  user: SandboxUser;
  dryRun: boolean;
  raw: Buffer | null;
  protobuf: boolean;
  query: URLSearchParams;
}

/**
 * A SelfSubjectAccessReview (authorization.k8s.io/v1, what `kubectl auth can-i` posts): the caller's
 * RBAC decision for `spec.resourceAttributes` (verb, group, resource, subresource, namespace, name).
 * @throws StatusError 400 when the body is not a review with resource attributes.
 */
function selfSubjectAccessReview(state: ServerState, user: SandboxUser, body: Obj): Obj {
  const spec = (body.spec ?? {}) as Obj;
  const attrs = spec.resourceAttributes as Obj | undefined;
  if (body.kind !== "SelfSubjectAccessReview" || !attrs || typeof attrs !== "object") {
    throw badRequest("a SelfSubjectAccessReview with spec.resourceAttributes is required");
  }
  const str = (v: unknown) => (typeof v === "string" ? v : "");
  const resource = str(attrs.subresource)
    ? `${str(attrs.resource)}/${str(attrs.subresource)}`
    : str(attrs.resource);
  const namespace = str(attrs.namespace);
  const ok = allowed(user, {
    verb: str(attrs.verb),
    group: str(attrs.group),
    resource,
    namespace,
    name: str(attrs.name),
    namespaceLabels: state.world.namespaceLabels(namespace) ?? {},
  });
  return {
    kind: "SelfSubjectAccessReview",
    apiVersion: "authorization.k8s.io/v1",
    metadata: { creationTimestamp: null },
    spec,
    status: ok ? { allowed: true, reason: "RBAC: allowed by the sandbox's rules" } : { allowed: false },
  };
}

function formatLog(lines: string[], end: number, query: URLSearchParams): string {
  let out = lines.map((line, i) => ({ line, at: end - (lines.length - 1 - i) * 1000 }));
  const tail = query.get("tailLines");
  if (tail !== null) {
    const n = Number(tail);
    if (!Number.isInteger(n) || n < 0) throw badRequest(`invalid tailLines: ${tail}`);
    out = n === 0 ? [] : out.slice(-n);
  }
  const stamps = query.get("timestamps") === "true";
  const text = out.map((l) =>
    stamps ? `${new Date(l.at).toISOString().replace(/\.(\d{3})Z$/, ".$1000000Z")} ${l.line}` : l.line,
  );
  return text.length ? `${text.join("\n")}\n` : "";
}

/**
 * Serves one resource request: a watch, a SelfSubjectAccessReview, or the verb on namespaces, pods
 * (and their logs), events, deployments (and their scale and status), replicasets, statefulsets, and
 * empty secrets/services/configmaps. `get`/`list` answer a Table when the `Accept` header asks for one.
 * @throws StatusError 404 for an unknown object, 405 for a verb the resource does not allow, and what
 *   the world's reads and writes throw (409 conflicts, 422 invalid objects, 403 from admission).
 */
export async function serveResource(rr: ResourceRequest): Promise<void> {
  const { state, req, res, r, user, dryRun, raw, protobuf } = rr;
  const method = req.method ?? "GET";
  const world = state.world;
  const body = raw?.toString("utf8") ?? "";
  const ns = r.namespace || undefined;
  const q = rr.query;
  const table = (r.verb === "get" || r.verb === "list") && wantsTable(req.headers.accept);
  const ok = (obj: unknown) =>
    sendJson(res, 200, (table && toTable(obj as Obj, q.get("includeObject"))) || obj);
  const patchOrPut = (current: Obj): Obj =>
    method === "PATCH"
      ? (applyPatch(current, req.headers["content-type"], body) as Obj)
      : parseJsonBody(body);
  const unsupported = () => {
    throw new StatusError(
      405,
      `the server does not allow this method on the requested resource (${r.verb} ${r.resource})`,
      undefined,
      "MethodNotAllowed",
    );
  };
  if (r.verb === "watch") {
    if (!collection(world, r.resource, ns)) return unsupported();
    return serveWatch(state, req, res, r.resource, ns, q);
  }
  if (r.resource === "selfsubjectaccessreviews") {
    if (r.verb !== "create") return unsupported();
    const review = selfSubjectAccessReview(
      state,
      user,
      protobuf ? decodeSelfSubjectAccessReview(raw ?? Buffer.alloc(0)) : parseJsonBody(body),
    );
    return sendJson(res, 201, review);
  }

  const call = (ops: VerbOps) => {
    const op = opFor(r.verb, ops);
    return op ? ok(op()) : unsupported();
  };
  const writeVerb = r.verb as "patch" | "update";
  switch (r.resource) {
    case "namespaces":
      return call({
        list: () => list(world, LIST_KIND.namespaces!, "v1", world.listNamespaces(), q, META_FIELDS),
        get: () => world.getNamespace(r.name),
      });
    case "pods":
      return call({
        list: () => list(world, "PodList", "v1", (sel) => world.listPods(ns, sel.labels), q, POD_FIELDS),
        get: () => world.getPod(r.namespace, r.name),
        delete: () => world.deletePod(r.namespace, r.name, user, dryRun),
      });
    case "pods/log": {
      if (r.verb !== "get") return unsupported();
      const container = q.get("container") ?? undefined;
      const { lines, end } = world.podLog(r.namespace, r.name, {
        container,
        previous: q.get("previous") === "true",
      });
      const text = formatLog(lines, end, q);
      res.writeHead(200, { "content-type": "text/plain", "content-length": Buffer.byteLength(text) });
      res.end(text);
      return;
    }
    case "events":
      return call({
        list: () =>
          list(world, "EventList", "v1", (sel) => world.listEvents(ns, sel.fields), q, EVENT_FIELDS),
      });
    case "secrets":
    case "services":
    case "configmaps":
      return call({
        list: () => list(world, LIST_KIND[r.resource]!, "v1", [], q, META_FIELDS),
        get: () => {
          throw new StatusError(404, `${r.resource} "${r.name}" not found`, {
            name: r.name,
            group: "",
            kind: r.resource,
          });
        },
      });
    case "deployments":
      return call({
        list: () =>
          list(
            world,
            "DeploymentList",
            "apps/v1",
            (sel) => world.listDeployments(ns, sel.labels),
            q,
            META_FIELDS,
          ),
        get: () => world.getDeployment(r.namespace, r.name),
        write: () =>
          world.writeDeployment(r.namespace, r.name, user, writeVerb, "deployments", dryRun, patchOrPut),
        delete: () => world.deleteDeployment(r.namespace, r.name, user, dryRun),
      });
    case "deployments/scale":
      return call({
        get: () => world.getDeploymentScale(r.namespace, r.name),
        write: () => world.writeDeploymentScale(r.namespace, r.name, user, writeVerb, dryRun, patchOrPut),
      });
    case "deployments/status":
      return call({ get: () => world.getDeployment(r.namespace, r.name) });
    case "replicasets":
      return call({
        list: () =>
          list(
            world,
            "ReplicaSetList",
            "apps/v1",
            (sel) => world.listReplicaSets(ns, sel.labels),
            q,
            META_FIELDS,
          ),
        get: () => world.getReplicaSet(r.namespace, r.name),
      });
    case "statefulsets":
      return call({
        list: () =>
          list(
            world,
            "StatefulSetList",
            "apps/v1",
            (sel) => world.listStatefulSets(ns, sel.labels),
            q,
            META_FIELDS,
          ),
        get: () => world.getStatefulSet(r.namespace, r.name),
        write: () => world.writeStatefulSet(r.namespace, r.name, user, writeVerb, dryRun, patchOrPut),
        delete: () => world.deleteStatefulSet(r.namespace, r.name, user, dryRun),
      });
    default:
      throw new StatusError(404, "the server could not find the requested resource", undefined, "NotFound");
  }
}

/** What a resource does per verb: each answers the object to send (or throws a `StatusError`). */
interface VerbOps {
  list?: () => unknown;
  get?: () => unknown;
  /** `patch` and `update` (PUT). */
  write?: () => unknown;
  delete?: () => unknown;
}

/** The operation of `ops` for an RBAC verb, or undefined when the resource does not allow it (405). */
function opFor(verb: string, ops: VerbOps): (() => unknown) | undefined {
  if (verb === "list") return ops.list;
  if (verb === "get") return ops.get;
  if (verb === "patch" || verb === "update") return ops.write;
  if (verb === "delete") return ops.delete;
  return undefined;
}
