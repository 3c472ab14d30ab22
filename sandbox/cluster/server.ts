import type { IncomingMessage, ServerResponse } from "node:http";
import { childLogger } from "../../src/log.js";
import { BodyTooLargeError, readBody as readLimited, sendJson } from "../http.js";
import { discoveryDocument } from "./discovery.js";
import { answerQuery } from "./prometheus.js";
import { PROTOBUF_CONTENT_TYPE } from "./protobuf.js";
import { authorize } from "./rbac.js";
import { serveResource } from "./resources.js";
import { deleteDryRun, dryRunOf, route } from "./routing.js";
import type { ServerState } from "./state.js";
import { type K8sStatus, StatusError } from "./status.js";

export type { ServerState } from "./state.js";

/*
 * The sandbox cluster's HTTP front: Prometheus, authentication, discovery, routing, fault injection
 * and RBAC here; the resources in `resources.ts`, watches in `watch.ts`, lists in `collections.ts`,
 * path routing in `routing.ts`. Errors answer as a Kubernetes `Status` (`status.ts`).
 */

const log = childLogger("sandbox.cluster");

/** Largest request body the sandbox reads, bytes (1 MiB). */
const MAX_BODY = 1024 * 1024;

function sendStatus(res: ServerResponse, status: K8sStatus): void {
  sendJson(res, status.code, status, status.code === 429 ? { "retry-after": "1" } : {});
}

/**
 * A request body, at most {@link MAX_BODY} bytes (the shared reader drains the rest).
 * @throws StatusError 413 when it is larger, so it answers as a Kubernetes `Status`.
 */
async function readRawBody(req: IncomingMessage): Promise<Buffer> {
  try {
    return await readLimited(req, MAX_BODY);
  } catch (err) {
    if (err instanceof BodyTooLargeError)
      throw new StatusError(413, `Request entity too large: limit is ${MAX_BODY}`);
    throw err;
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  return (await readRawBody(req)).toString("utf8");
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
  return serveResource({
    state,
    req,
    res,
    r,
    user,
    dryRun,
    raw,
    protobuf,
    query: url.searchParams,
  });
}
