import type { IncomingMessage, ServerResponse } from "node:http";
import { childLogger } from "../../src/log.js";
import { discoveryDocument } from "./discovery.js";
import type { FaultInjector } from "./faults.js";
import { applyPatch } from "./patch.js";
import { answerQuery } from "./prometheus.js";
import { decodeSelfSubjectAccessReview, PROTOBUF_CONTENT_TYPE } from "./protobuf.js";
import { allowed, authorize, type SandboxUser } from "./rbac.js";
import { matchesFields, matchesLabels, parseFieldSelector, parseLabelSelector } from "./selectors.js";
import { badRequest, type K8sStatus, StatusError } from "./status.js";
import { toTable, wantsTable } from "./table.js";
import type { Obj, World } from "./world.js";

const log = childLogger("sandbox.cluster");

/** What the request handler needs from the running cluster; `world` and `faults` change on reset. */
export interface ServerState {
  world: World;
  faults: FaultInjector;
  /** token → user. */
  users: Map<string, SandboxUser>;
  /** Sleeps `ms`, resolving early when the server closes. */
  sleep(ms: number): Promise<void>;
}

interface Route {
  group: string;
  /** Resource as RBAC names it, with the subresource: `deployments/scale`. */
  resource: string;
  namespace: string;
  name: string;
  verb: string;
}

const MAX_BODY = 1024 * 1024;

const LIST_KIND: Record<string, string> = {
  namespaces: "NamespaceList",
  pods: "PodList",
  events: "EventList",
  deployments: "DeploymentList",
  replicasets: "ReplicaSetList",
  statefulsets: "StatefulSetList",
  secrets: "SecretList",
  services: "ServiceList",
  configmaps: "ConfigMapList",
};

const EVENT_FIELDS = [
  "involvedObject.kind",
  "involvedObject.namespace",
  "involvedObject.name",
  "involvedObject.uid",
  "involvedObject.apiVersion",
  "involvedObject.resourceVersion",
  "involvedObject.fieldPath",
  "reason",
  "reportingComponent",
  "source",
  "type",
  "metadata.namespace",
  "metadata.name",
];
const POD_FIELDS = [
  "metadata.name",
  "metadata.namespace",
  "spec.nodeName",
  "spec.restartPolicy",
  "status.phase",
  "status.podIP",
];
const META_FIELDS = ["metadata.name", "metadata.namespace"];

function sendJson(
  res: ServerResponse,
  code: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(code, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

function sendStatus(res: ServerResponse, status: K8sStatus): void {
  sendJson(res, status.code, status, status.code === 429 ? { "retry-after": "1" } : {});
}

async function readBody(req: IncomingMessage): Promise<string> {
  return (await readRawBody(req)).toString("utf8");
}

async function readRawBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > MAX_BODY) throw new StatusError(413, "Request entity too large: limit is 1048576");
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

function verbOf(method: string, name: string, query: URLSearchParams): string {
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
function route(method: string, path: string, query: URLSearchParams): Route | undefined {
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

function list(
  world: World,
  kind: string,
  apiVersion: string,
  items: Obj[],
  query: URLSearchParams,
  fields: string[],
): Obj {
  const labelReqs = parseLabelSelector(query.get("labelSelector") ?? undefined);
  const fieldReqs = parseFieldSelector(query.get("fieldSelector") ?? undefined, fields);
  const flat = (o: Obj, prefix = ""): Record<string, string> => {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(o)) {
      const p = prefix ? `${prefix}.${k}` : k;
      if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") out[p] = String(v);
      else if (v && typeof v === "object" && !Array.isArray(v) && p.split(".").length < 3)
        Object.assign(out, flat(v as Obj, p));
    }
    if (!prefix && o.source && typeof o.source === "object")
      out.source = String((o.source as Obj).component ?? "");
    return out;
  };
  const filtered = items.filter((item) => {
    const meta = (item.metadata ?? {}) as Obj;
    return (
      matchesLabels(labelReqs, meta.labels as Record<string, string> | undefined) &&
      matchesFields(fieldReqs, flat(item))
    );
  });
  const limit = Number(query.get("limit") ?? "0");
  return {
    kind,
    apiVersion,
    metadata: { resourceVersion: world.resourceVersion() },
    items: limit > 0 ? filtered.slice(0, limit) : filtered,
  };
}

/** The collection behind a list or watch of `resource`, or undefined when it cannot be listed. */
function collection(
  world: World,
  resource: string,
  ns: string | undefined,
): { kind: string; apiVersion: string; items: Obj[]; fields: string[] } | undefined {
  switch (resource) {
    case "namespaces":
      return { kind: "NamespaceList", apiVersion: "v1", items: world.listNamespaces(), fields: META_FIELDS };
    case "pods":
      return { kind: "PodList", apiVersion: "v1", items: world.listPods(ns), fields: POD_FIELDS };
    case "events":
      return { kind: "EventList", apiVersion: "v1", items: world.listEvents(ns), fields: EVENT_FIELDS };
    case "deployments":
      return {
        kind: "DeploymentList",
        apiVersion: "apps/v1",
        items: world.listDeployments(ns),
        fields: META_FIELDS,
      };
    case "replicasets":
      return {
        kind: "ReplicaSetList",
        apiVersion: "apps/v1",
        items: world.listReplicaSets(ns),
        fields: META_FIELDS,
      };
    case "statefulsets":
      return {
        kind: "StatefulSetList",
        apiVersion: "apps/v1",
        items: world.listStatefulSets(ns),
        fields: META_FIELDS,
      };
    case "secrets":
    case "services":
    case "configmaps":
      return { kind: LIST_KIND[resource]!, apiVersion: "v1", items: [], fields: META_FIELDS };
    default:
      return undefined;
  }
}

const WATCH_POLL_MS = 100;
const WATCH_MAX_SECONDS = 1800;

/**
 * A watch (`?watch=true`) as the API server streams it: one JSON `WatchEvent` per line
 * (`{"type":"ADDED"|"MODIFIED"|"DELETED","object":…}`), chunked, over the list's selectors. Without a
 * `resourceVersion` (or with `0`) every current object comes first as ADDED; with one, objects changed
 * since it come as MODIFIED; then any change of an object (spec or status) is a MODIFIED. The sandbox's world is advanced by reads, so the stream polls it every
 * 100 ms; it ends after `timeoutSeconds` (default and cap 1800 s), when the client goes, or on close.
 * With a Table `Accept` header each object is a one-row Table (column definitions in the first event).
 */
async function serveWatch(
  state: ServerState,
  req: IncomingMessage,
  res: ServerResponse,
  resource: string,
  ns: string | undefined,
  query: URLSearchParams,
): Promise<void> {
  const timeoutRaw = query.get("timeoutSeconds");
  const timeout = timeoutRaw === null ? WATCH_MAX_SECONDS : Number(timeoutRaw);
  if (!Number.isFinite(timeout) || timeout < 0) throw badRequest(`invalid timeoutSeconds: ${timeoutRaw}`);
  const sinceRaw = query.get("resourceVersion");
  const since = sinceRaw === null || sinceRaw === "" ? 0 : Number(sinceRaw);
  if (!Number.isFinite(since)) throw badRequest(`invalid resourceVersion: ${sinceRaw}`);
  const snapshot = (): Map<string, Obj> => {
    state.world.reconcile();
    const c = collection(state.world, resource, ns);
    const listed = list(state.world, c!.kind, c!.apiVersion, c!.items, query, c!.fields);
    const out = new Map<string, Obj>();
    for (const item of listed.items as Obj[]) {
      const m = (item.metadata ?? {}) as Obj;
      out.set(`${String(m.namespace ?? "")}/${String(m.name ?? "")}`, item);
    }
    return out;
  };
  const rv = (o: Obj) => Number(((o.metadata ?? {}) as Obj).resourceVersion ?? 0);
  res.writeHead(200, { "content-type": "application/json", "transfer-encoding": "chunked" });
  res.flushHeaders();
  // `kubectl get -w` asks for Tables: each event's object is then a one-row Table, the column
  // definitions in the first only, as the API server sends them.
  const table = wantsTable(req.headers.accept);
  let first = true;
  const send = (type: string, object: Obj) => {
    let out: Obj = object;
    if (table) {
      const t = toTable(object, query.get("includeObject"));
      if (t) {
        if (!first) t.columnDefinitions = [];
        out = t;
      }
      first = false;
    }
    res.write(`${JSON.stringify({ type, object: out })}\n`);
  };
  let seen = snapshot();
  for (const o of seen.values()) {
    if (since === 0) send("ADDED", o);
    else if (rv(o) > since) send("MODIFIED", o);
  }
  const deadline = Date.now() + timeout * 1000;
  let gone = false;
  req.on("close", () => {
    gone = true;
  });
  while (!gone && !res.destroyed && Date.now() < deadline) {
    await state.sleep(Math.min(WATCH_POLL_MS, Math.max(0, deadline - Date.now())));
    if (gone || res.destroyed) break;
    const now = snapshot();
    for (const [key, o] of now) {
      const before = seen.get(key);
      if (!before) send("ADDED", o);
      // Status (replicas, conditions, container states) is computed on read and moves without a new
      // resourceVersion, so a change is any change of the object, as the status writers make it upstream.
      else if (rv(before) !== rv(o) || JSON.stringify(before) !== JSON.stringify(o)) send("MODIFIED", o);
    }
    for (const [key, o] of seen) if (!now.has(key)) send("DELETED", o);
    seen = now;
  }
  res.end();
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

function dryRunOf(query: URLSearchParams): boolean {
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
function deleteDryRun(text: string): boolean {
  if (text.trim() === "") return false;
  const opts = parseJsonBody(text);
  if (opts.dryRun === undefined) return false;
  if (!Array.isArray(opts.dryRun)) throw badRequest("DeleteOptions.dryRun must be a list");
  return dryRunOf(new URLSearchParams(opts.dryRun.map((v) => ["dryRun", String(v)])));
}

function parseJsonBody(text: string): Obj {
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

async function serveProm(
  state: ServerState,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
): Promise<void> {
  let params = url.searchParams;
  if (req.method === "POST") {
    const body = await readBody(req);
    params = new URLSearchParams(body);
    for (const [k, v] of url.searchParams) if (!params.has(k)) params.set(k, v);
  } else if (req.method !== "GET") {
    sendJson(res, 405, { status: "error", errorType: "bad_data", error: "method not allowed" });
    return;
  }
  state.world.reconcile();
  const answer = answerQuery(
    state.world,
    params.get("query") ?? undefined,
    params.get("time") ?? undefined,
    Date.now(),
  );
  sendJson(res, answer.httpStatus, answer.body);
}

/**
 * The request handler: Prometheus at `/api/v1/query`; otherwise bearer-token authentication (401),
 * fault injection, RBAC (403), then the Kubernetes REST path.
 */
export function createHandler(state: ServerState): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    handle(state, req, res).catch((err: unknown) => {
      if (err instanceof StatusError) {
        if (!res.headersSent) sendStatus(res, err.status);
        else res.end();
        return;
      }
      log.error({ err }, "sandbox cluster request failed");
      if (!res.headersSent)
        sendStatus(res, new StatusError(500, `Internal error occurred: ${(err as Error).message}`).status);
      else res.end();
    });
  };
}

async function handle(state: ServerState, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", "http://sandbox");
  const method = req.method ?? "GET";
  if (url.pathname === "/api/v1/query") return serveProm(state, req, res, url);

  const auth = req.headers.authorization ?? "";
  const m = /^Bearer\s+(.+)$/i.exec(auth);
  const user = m ? state.users.get(m[1]!.trim()) : undefined;
  if (!user) throw new StatusError(401, "Unauthorized");

  const doc = method === "GET" ? discoveryDocument(url.pathname, req.headers.host ?? "") : undefined;
  if (doc) return sendJson(res, 200, doc);
  if (url.pathname === "/version") {
    sendJson(res, 200, {
      major: "1",
      minor: "31",
      gitVersion: "v1.31.0-backstop-sandbox",
      platform: "linux/amd64",
    });
    return;
  }
  const r = route(method, url.pathname, url.searchParams);
  if (!r)
    throw new StatusError(404, "the server could not find the requested resource", undefined, "NotFound");
  // client-go sends DeleteOptions (dryRun among them) in a DELETE's body, not in the query.
  const deleteBody = method === "DELETE" ? await readBody(req) : "";
  const dryRun = dryRunOf(url.searchParams) || deleteDryRun(deleteBody);
  log.debug(
    { user, verb: r.verb, resource: r.resource, namespace: r.namespace, name: r.name, dryRun },
    "request",
  );

  const fault = state.faults.next({
    verb: r.verb,
    resource: r.resource,
    namespace: r.namespace,
    name: r.name,
    user,
    dryRun,
  });
  if (fault?.hang_ms !== undefined) await state.sleep(fault.hang_ms);
  if (fault?.status !== undefined) {
    const message = fault.message ?? `injected fault: ${fault.status} on ${r.verb} ${r.resource}`;
    throw new StatusError(
      fault.status,
      message,
      r.name ? { name: r.name, group: r.group, kind: r.resource.split("/")[0]! } : undefined,
    );
  }

  const world = state.world;
  // Every authenticated user may ask about its own access (system:basic-user in a real cluster).
  if (r.resource !== "selfsubjectaccessreviews")
    authorize(user, { ...r, namespaceLabels: world.namespaceLabels(r.namespace) ?? {} });
  world.reconcile();
  const raw = method === "PATCH" || method === "PUT" || method === "POST" ? await readRawBody(req) : null;
  const protobuf = (req.headers["content-type"] ?? "").startsWith(PROTOBUF_CONTENT_TYPE);
  if (protobuf && r.resource !== "selfsubjectaccessreviews") {
    throw new StatusError(
      415,
      `the sandbox reads ${PROTOBUF_CONTENT_TYPE} only for selfsubjectaccessreviews: send application/json`,
      undefined,
      "UnsupportedMediaType",
    );
  }
  const body = raw?.toString("utf8") ?? "";
  const ns = r.namespace || undefined;
  const q = url.searchParams;
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

  switch (r.resource) {
    case "namespaces":
      if (r.verb === "list")
        return ok(list(world, LIST_KIND.namespaces!, "v1", world.listNamespaces(), q, META_FIELDS));
      if (r.verb === "get") return ok(world.getNamespace(r.name));
      return unsupported();
    case "pods":
      if (r.verb === "list") return ok(list(world, "PodList", "v1", world.listPods(ns), q, POD_FIELDS));
      if (r.verb === "get") return ok(world.getPod(r.namespace, r.name));
      if (r.verb === "delete") return ok(world.deletePod(r.namespace, r.name, user, dryRun));
      return unsupported();
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
      if (r.verb === "list") return ok(list(world, "EventList", "v1", world.listEvents(ns), q, EVENT_FIELDS));
      return unsupported();
    case "secrets":
    case "services":
    case "configmaps":
      if (r.verb === "list") return ok(list(world, LIST_KIND[r.resource]!, "v1", [], q, META_FIELDS));
      if (r.verb === "get")
        throw new StatusError(404, `${r.resource} "${r.name}" not found`, {
          name: r.name,
          group: "",
          kind: r.resource,
        });
      return unsupported();
    case "deployments":
      if (r.verb === "list")
        return ok(list(world, "DeploymentList", "apps/v1", world.listDeployments(ns), q, META_FIELDS));
      if (r.verb === "get") return ok(world.getDeployment(r.namespace, r.name));
      if (r.verb === "patch" || r.verb === "update") {
        return ok(
          world.writeDeployment(r.namespace, r.name, user, r.verb, "deployments", dryRun, patchOrPut),
        );
      }
      if (r.verb === "delete") return ok(world.deleteDeployment(r.namespace, r.name, user, dryRun));
      return unsupported();
    case "deployments/scale":
      if (r.verb === "get") return ok(world.getDeploymentScale(r.namespace, r.name));
      if (r.verb === "patch" || r.verb === "update") {
        return ok(world.writeDeploymentScale(r.namespace, r.name, user, r.verb, dryRun, patchOrPut));
      }
      return unsupported();
    case "deployments/status":
      if (r.verb === "get") return ok(world.getDeployment(r.namespace, r.name));
      return unsupported();
    case "replicasets":
      if (r.verb === "list")
        return ok(list(world, "ReplicaSetList", "apps/v1", world.listReplicaSets(ns), q, META_FIELDS));
      if (r.verb === "get") return ok(world.getReplicaSet(r.namespace, r.name));
      return unsupported();
    case "statefulsets":
      if (r.verb === "list")
        return ok(list(world, "StatefulSetList", "apps/v1", world.listStatefulSets(ns), q, META_FIELDS));
      if (r.verb === "get") return ok(world.getStatefulSet(r.namespace, r.name));
      if (r.verb === "patch" || r.verb === "update") {
        return ok(world.writeStatefulSet(r.namespace, r.name, user, r.verb, dryRun, patchOrPut));
      }
      if (r.verb === "delete") return ok(world.deleteStatefulSet(r.namespace, r.name, user, dryRun));
      return unsupported();
    default:
      throw new StatusError(404, "the server could not find the requested resource", undefined, "NotFound");
  }
}
