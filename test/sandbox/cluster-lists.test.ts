import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EVENT_FIELDS, list, META_FIELDS, POD_FIELDS } from "../../sandbox/cluster/collections.js";
import { type SandboxCluster, startSandboxCluster } from "../../sandbox/cluster/index.js";
import { OwnedMap } from "../../sandbox/cluster/world/owned.js";
import { World } from "../../sandbox/cluster/world.js";
import { loadWorld } from "../fixtures/worlds.js";

/*
 * The sandbox cluster answers a selective list by building only what can match (events of one object,
 * pods of one label selector) and reconciles only when something changed: the answers must be exactly
 * those of filtering everything. And its API server keeps connections alive as kube-apiserver does.
 */

const T0 = Date.parse("2026-01-01T00:00:00Z");

function world(rolloutSeconds = 0): { w: World; at: (ms: number) => void } {
  let now = T0;
  const w = new World(loadWorld("cluster", { rollout_seconds: rolloutSeconds }), () => now);
  now = T0 + 7 * 60_000;
  return { w, at: (ms) => (now = T0 + ms) };
}

/** A list with the selectors handed to the world (as served) and the same list filtering all objects. */
function both(
  w: World,
  kind: string,
  ns: string | undefined,
  query: string,
): { selective: unknown; full: unknown } {
  const q = new URLSearchParams(query);
  if (kind === "EventList") {
    return {
      selective: list(w, kind, "v1", (sel) => w.listEvents(ns, sel.fields), q, EVENT_FIELDS),
      full: list(w, kind, "v1", w.listEvents(ns), q, EVENT_FIELDS),
    };
  }
  if (kind === "PodList") {
    return {
      selective: list(w, kind, "v1", (sel) => w.listPods(ns, sel.labels), q, POD_FIELDS),
      full: list(w, kind, "v1", w.listPods(ns), q, POD_FIELDS),
    };
  }
  return {
    selective: list(w, kind, "apps/v1", (sel) => w.listReplicaSets(ns, sel.labels), q, META_FIELDS),
    full: list(w, kind, "apps/v1", w.listReplicaSets(ns), q, META_FIELDS),
  };
}

function names(items: unknown): string[] {
  return ((items as { items: Array<{ metadata: { name: string } }> }).items ?? []).map(
    (i) => i.metadata.name,
  );
}

describe("sandbox cluster: selective lists answer what filtering everything answers", () => {
  it("events by involved object, namespace, kind, reason and negations", () => {
    const { w } = world();
    const pods = names({ items: w.listPods("shop") });
    const queries = [
      ...pods.map((p) => `fieldSelector=involvedObject.name=${p}`),
      "fieldSelector=involvedObject.name=checkout",
      "fieldSelector=involvedObject.name=checkout,involvedObject.kind=Deployment",
      `fieldSelector=involvedObject.name=${pods[0]},involvedObject.kind=Pod,type=Warning`,
      `fieldSelector=involvedObject.name==${pods[1]}`,
      `fieldSelector=involvedObject.name!=${pods[0]}`,
      "fieldSelector=involvedObject.kind=Pod,reason=BackOff",
      "fieldSelector=involvedObject.namespace=data",
      "fieldSelector=metadata.namespace!=shop",
      "fieldSelector=involvedObject.fieldPath=spec.containers{checkout}",
      "fieldSelector=involvedObject.apiVersion=apps/v1&limit=2",
      "fieldSelector=involvedObject.name=nothing-here",
      "fieldSelector=source=kubelet",
      "",
    ];
    let nonEmpty = 0;
    for (const ns of ["shop", "data", undefined]) {
      for (const query of queries) {
        const { selective, full } = both(w, "EventList", ns, query);
        expect(selective, `${ns} ${query}`).toEqual(full);
        if (names(full).length > 0) nonEmpty++;
      }
    }
    expect(nonEmpty).toBeGreaterThan(20);
  });

  it("pods and ReplicaSets by label selector", () => {
    const { w } = world();
    const queries = [
      "labelSelector=app=checkout",
      "labelSelector=app!=checkout",
      "labelSelector=app in (checkout,cart),!nothing",
      "labelSelector=app notin (checkout)&limit=3",
      "labelSelector=app",
      "labelSelector=!app",
      "labelSelector=app=checkout&fieldSelector=metadata.name!=x",
      "",
    ];
    for (const ns of ["shop", undefined]) {
      for (const query of queries) {
        for (const kind of ["PodList", "ReplicaSetList"]) {
          const { selective, full } = both(w, kind, ns, query);
          expect(selective, `${kind} ${ns} ${query}`).toEqual(full);
        }
      }
    }
    expect(names(both(w, "PodList", "shop", "labelSelector=app=checkout").selective).length).toBe(3);
  });

  it("keeps answering a world that changes: deletes, scales and a rollout over time", () => {
    const { w, at } = world(60);
    w.reconcile();
    const checkoutPods = () =>
      names({ items: w.listPods("shop", [{ key: "app", op: "=", values: ["checkout"] }]) });
    const before = checkoutPods();
    w.deletePod("shop", before[0]!, "admin", false);
    w.reconcile();
    expect(checkoutPods()).toHaveLength(before.length);
    expect(checkoutPods()).not.toContain(before[0]);
    w.writeDeploymentScale("shop", "checkout", "writer", "patch", false, (s) => ({
      ...s,
      spec: { replicas: 5 },
    }));
    w.reconcile();
    expect(checkoutPods()).toHaveLength(5);
    const image = (
      w.getDeployment("shop", "cart").spec as { template: { spec: { containers: Array<{ image: string }> } } }
    ).template.spec.containers[0]!.image;
    w.writeDeployment("shop", "cart", "writer", "patch", "deployments", false, (d) => {
      const next = structuredClone(d) as {
        spec: { template: { spec: { containers: Array<{ image: string }> } } };
      };
      next.spec.template.spec.containers[0]!.image = `${image}-next`;
      return next as never;
    });
    const rolling = () =>
      (
        w.listReplicaSets("shop", [{ key: "app", op: "=", values: ["cart"] }]) as Array<{
          spec: { replicas: number; template: { spec: { containers: Array<{ image: string }> } } };
        }>
      ).map((r) => [r.spec.template.spec.containers[0]!.image, r.spec.replicas]);
    at(7 * 60_000 + 30_000);
    w.reconcile();
    const midway = rolling().find(([i]) => i === `${image}-next`)?.[1];
    at(7 * 60_000 + 61_000);
    w.reconcile();
    expect(w.rolling()).toBe(false);
    const done = rolling().find(([i]) => i === `${image}-next`)?.[1];
    expect(Number(midway)).toBeLessThan(Number(done));
    for (const query of ["fieldSelector=involvedObject.name=cart", "fieldSelector=involvedObject.kind=Pod"]) {
      const { selective, full } = both(w, "EventList", "shop", query);
      expect(selective).toEqual(full);
    }
  });
});

describe("OwnedMap", () => {
  it("lists an owner's objects in map order through sets, replacements and deletes", () => {
    const m = new OwnedMap<{ ownerUid: string; n: number }>();
    m.set("a", { ownerUid: "x", n: 1 }).set("b", { ownerUid: "y", n: 2 }).set("c", { ownerUid: "x", n: 3 });
    m.set("a", { ownerUid: "x", n: 4 });
    expect(m.owned("x").map((o) => o.n)).toEqual([4, 3]);
    m.set("b", { ownerUid: "x", n: 5 });
    expect(m.owned("x").map((o) => o.n)).toEqual([4, 5, 3]);
    expect(m.owned("y")).toEqual([]);
    m.delete("a");
    m.set("a", { ownerUid: "x", n: 6 });
    expect(m.owned("x").map((o) => o.n)).toEqual([5, 3, 6]);
    for (const uid of ["x", "y"])
      expect(m.owned(uid)).toEqual([...m.values()].filter((o) => o.ownerUid === uid));
    m.clear();
    expect(m.owned("x")).toEqual([]);
  });
});

describe("sandbox cluster: keep-alive", () => {
  let cluster: SandboxCluster;
  beforeAll(async () => {
    cluster = await startSandboxCluster({ scenario: loadWorld("cluster") });
  });
  afterAll(async () => {
    await cluster.close();
  });

  it("answers requests on one connection, over HTTP and TLS, announcing a 90 s idle timeout", async () => {
    const get = (url: string, agent: HttpAgent) =>
      new Promise<{ res: IncomingMessage; reused: boolean }>((resolve, reject) => {
        const req = (url.startsWith("https") ? httpsRequest : httpRequest)(
          `${url}/api/v1/namespaces`,
          { agent, headers: { authorization: `Bearer ${cluster.tokens.readonly}` } },
          (res) => {
            res.resume();
            res.on("end", () => resolve({ res, reused: req.reusedSocket }));
          },
        );
        req.on("error", reject);
        req.end();
      });
    for (const url of [cluster.url, cluster.httpsUrl]) {
      const agent = url.startsWith("https")
        ? new HttpsAgent({ keepAlive: true, maxSockets: 1, ca: cluster.caPem })
        : new HttpAgent({ keepAlive: true, maxSockets: 1 });
      const first = await get(url, agent);
      const second = await get(url, agent);
      agent.destroy();
      expect(first.res.statusCode).toBe(200);
      expect(first.res.headers.connection).toBe("keep-alive");
      expect(first.res.headers["keep-alive"]).toBe("timeout=90");
      expect(second.reused).toBe(true);
    }
  });
});
