import type { IncomingMessage, ServerResponse } from "node:http";
import { sameJson } from "../../src/contracts/canonical.js";
import { collection, list } from "./collections.js";
import type { ServerState } from "./state.js";
import { badRequest } from "./status.js";
import { toTable, wantsTable } from "./table.js";
import type { Obj } from "./world.js";

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
export async function serveWatch(
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
      else if (rv(before) !== rv(o) || !sameJson(before, o)) send("MODIFIED", o);
    }
    for (const [key, o] of seen) if (!now.has(key)) send("DELETED", o);
    seen = now;
  }
  res.end();
}
