import { CoreV1Api, Watch } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type SandboxCluster, startSandboxCluster } from "../../sandbox/cluster/index.js";
import { humanDuration } from "../../sandbox/cluster/table.js";
import { loadWorld } from "../fixtures/worlds.js";

/**
 * What kubectl needs from the sandbox API server, at the wire (these run without a kubectl binary):
 * discovery, server-side tables, watches, SelfSubjectAccessReview (JSON and protobuf), DeleteOptions
 * dry-run, over the HTTPS listener with the generated CA.
 */

let cluster: SandboxCluster;
beforeAll(async () => {
  cluster = await startSandboxCluster({ scenario: loadWorld("cluster", { rollout_seconds: 0.3 }) });
});
afterAll(async () => {
  await cluster?.close();
});

const get = (
  path: string,
  headers: Record<string, string> = {},
  user: "readonly" | "writer" | "admin" = "readonly",
) =>
  fetch(`${cluster.url}${path}`, {
    headers: { authorization: `Bearer ${cluster.tokens[user]}`, ...headers },
  });

/** Protobuf wire helpers: a length-delimited field and the `k8s\0` + runtime.Unknown envelope. */
function field(n: number, value: Buffer | string): Buffer {
  const v = typeof value === "string" ? Buffer.from(value) : value;
  const varint = (x: number) => {
    const out: number[] = [];
    while (x > 0x7f) {
      out.push((x & 0x7f) | 0x80);
      x >>>= 7;
    }
    out.push(x);
    return Buffer.from(out);
  };
  return Buffer.concat([varint((n << 3) | 2), varint(v.length), v]);
}
function ssarProtobuf(attrs: Record<string, string>): Buffer {
  const order = ["namespace", "verb", "group", "version", "resource", "subresource", "name"];
  const ra = Buffer.concat(
    order.flatMap((k, i) => (attrs[k] !== undefined ? [field(i + 1, attrs[k]!)] : [])),
  );
  const review = field(2, field(1, ra));
  const typeMeta = Buffer.concat([field(1, "authorization.k8s.io/v1"), field(2, "SelfSubjectAccessReview")]);
  return Buffer.concat([Buffer.from("k8s\0"), field(1, typeMeta), field(2, review)]);
}

describe("the sandbox API server, as kubectl talks to it", () => {
  it("serves discovery: versions, groups and resources with verbs and short names", async () => {
    const api = (await (await get("/api")).json()) as { kind: string; versions: string[] };
    expect(api).toMatchObject({ kind: "APIVersions", versions: ["v1"] });
    const groups = (await (await get("/apis")).json()) as { groups: { name: string }[] };
    expect(groups.groups.map((g) => g.name).sort()).toEqual(["apps", "authorization.k8s.io"]);
    const apps = (await (await get("/apis/apps/v1")).json()) as {
      resources: { name: string; shortNames?: string[]; verbs: string[]; namespaced: boolean }[];
    };
    const deploy = apps.resources.find((r) => r.name === "deployments")!;
    expect(deploy.shortNames).toEqual(["deploy"]);
    expect(deploy.verbs).toEqual(expect.arrayContaining(["get", "list", "watch", "patch"]));
    const core = (await (await get("/api/v1")).json()) as {
      resources: { name: string; namespaced: boolean }[];
    };
    expect(core.resources.find((r) => r.name === "namespaces")?.namespaced).toBe(false);
    expect(core.resources.some((r) => r.name === "pods/log")).toBe(true);
    expect((await get("/apis/apps/v2")).status).toBe(404);
    expect((await get("/apis/batch/v1")).status).toBe(404);
    expect((await fetch(`${cluster.url}/api`)).status).toBe(401);
  });

  it("answers a meta.k8s.io/v1 Table when asked, with the real printers' columns", async () => {
    const accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";
    const pods = (await (await get("/api/v1/namespaces/shop/pods", { accept })).json()) as {
      kind: string;
      columnDefinitions: { name: string }[];
      rows: { cells: unknown[]; object: { kind: string; metadata: { name: string } } }[];
    };
    expect(pods.kind).toBe("Table");
    expect(pods.columnDefinitions.map((c) => c.name).slice(0, 5)).toEqual([
      "Name",
      "Ready",
      "Status",
      "Restarts",
      "Age",
    ]);
    const plain = await cluster.kubeConfig("readonly").makeApiClient(CoreV1Api).listNamespacedPod({
      namespace: "shop",
    });
    expect(pods.rows.map((r) => r.cells[0])).toEqual(plain.items.map((p) => p.metadata!.name));
    expect(pods.rows[0]!.object.kind).toBe("PartialObjectMetadata");
    const crashing = plain.items.find((p) => p.status?.containerStatuses?.[0]?.state?.waiting?.reason);
    const row = pods.rows.find((r) => r.cells[0] === crashing!.metadata!.name)!;
    expect(row.cells[2]).toBe(crashing!.status!.containerStatuses![0]!.state!.waiting!.reason);

    const one = (await (await get("/apis/apps/v1/namespaces/shop/deployments/cart", { accept })).json()) as {
      rows: { cells: unknown[] }[];
    };
    expect(one.rows).toHaveLength(1);
    expect(one.rows[0]!.cells.slice(0, 4)).toEqual(["cart", "2/2", 2, 2]);
    // Without the Table Accept header the plain list comes back, as before.
    expect(((await (await get("/api/v1/namespaces/shop/pods")).json()) as { kind: string }).kind).toBe(
      "PodList",
    );
  });

  it("formats ages as kubectl does (HumanDuration)", () => {
    expect(humanDuration(45_000)).toBe("45s");
    expect(humanDuration(200_000)).toBe("3m20s");
    expect(humanDuration(25 * 60_000)).toBe("25m");
    expect(humanDuration((5 * 60 + 10) * 60_000)).toBe("5h10m");
    expect(humanDuration(30 * 3600_000)).toBe("30h");
    expect(humanDuration((2 * 24 + 4) * 3600_000)).toBe("2d4h");
    expect(humanDuration(60 * 86400_000)).toBe("60d");
    expect(humanDuration(-5000)).toBe("<invalid>");
  });

  it("streams a watch that client-node's Watch reads: the rollout's status changes arrive as MODIFIED", async () => {
    const events: { type: string; ready: number; updated: number }[] = [];
    const watch = new Watch(cluster.kubeConfig("readonly"));
    let done: () => void = () => {};
    const finished = new Promise<void>((r) => {
      done = r;
    });
    const req = await watch.watch(
      "/apis/apps/v1/namespaces/shop/deployments",
      { fieldSelector: "metadata.name=cart" },
      (
        type,
        obj: { status?: { readyReplicas?: number; updatedReplicas?: number }; spec?: { replicas?: number } },
      ) => {
        events.push({
          type,
          ready: obj.status?.readyReplicas ?? 0,
          updated: obj.status?.updatedReplicas ?? 0,
        });
        if (type === "MODIFIED" && obj.status?.updatedReplicas === 2 && obj.status?.readyReplicas === 2)
          done();
      },
      () => done(),
    );
    // A restart makes a new ReplicaSet and a rollout the watch follows.
    const patched = await fetch(`${cluster.url}/apis/apps/v1/namespaces/shop/deployments/cart`, {
      method: "PATCH",
      headers: {
        authorization: `Bearer ${cluster.tokens.writer}`,
        "content-type": "application/strategic-merge-patch+json",
      },
      body: JSON.stringify({
        spec: {
          template: {
            metadata: { annotations: { "kubectl.kubernetes.io/restartedAt": new Date().toISOString() } },
          },
        },
      }),
    });
    expect(patched.status).toBe(200);
    await finished;
    req.abort();
    expect(events[0]!.type).toBe("ADDED");
    expect(events.filter((e) => e.type === "MODIFIED").length).toBeGreaterThanOrEqual(1);
  });

  it("answers SelfSubjectAccessReview in JSON and protobuf from the same RBAC rules; other protobuf bodies get 415", async () => {
    const review = (user: "readonly" | "writer", body: Uint8Array | string, type: string) =>
      fetch(`${cluster.url}/apis/authorization.k8s.io/v1/selfsubjectaccessreviews`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${cluster.tokens[user]}`,
          "content-type": type,
          accept: "application/json",
        },
        body: typeof body === "string" ? body : new Uint8Array(body),
      });
    const json = (attrs: object) =>
      JSON.stringify({
        kind: "SelfSubjectAccessReview",
        apiVersion: "authorization.k8s.io/v1",
        spec: { resourceAttributes: attrs },
      });
    const allowed = async (res: Response) => {
      expect(res.status).toBe(201);
      return ((await res.json()) as { status: { allowed: boolean } }).status.allowed;
    };
    expect(
      await allowed(
        await review(
          "writer",
          json({ verb: "patch", group: "apps", resource: "deployments", namespace: "shop" }),
          "application/json",
        ),
      ),
    ).toBe(true);
    expect(
      await allowed(
        await review(
          "writer",
          json({ verb: "patch", group: "apps", resource: "deployments", namespace: "data" }),
          "application/json",
        ),
      ),
    ).toBe(false);
    expect(
      await allowed(
        await review(
          "readonly",
          json({ verb: "get", resource: "pods", subresource: "log", namespace: "shop" }),
          "application/json",
        ),
      ),
    ).toBe(true);
    const pb = "application/vnd.kubernetes.protobuf";
    expect(
      await allowed(
        await review("readonly", ssarProtobuf({ verb: "list", resource: "pods", namespace: "shop" }), pb),
      ),
    ).toBe(true);
    expect(
      await allowed(
        await review("readonly", ssarProtobuf({ verb: "delete", resource: "pods", namespace: "shop" }), pb),
      ),
    ).toBe(false);

    const bad = await review("readonly", "{}", "application/json");
    expect(bad.status).toBe(400);
    const garbage = await review("readonly", Buffer.from("k8s\0\xff\xff"), pb);
    expect(garbage.status).toBe(400);
    const patch = await fetch(`${cluster.url}/apis/apps/v1/namespaces/shop/deployments/cart`, {
      method: "PATCH",
      headers: { authorization: `Bearer ${cluster.tokens.writer}`, "content-type": pb },
      body: new Uint8Array(Buffer.from("k8s\0")),
    });
    expect(patch.status).toBe(415);
  });

  it("takes dryRun from a DELETE's DeleteOptions body, as client-go sends it", async () => {
    const before = cluster.mutations().length;
    const del = (body: string) =>
      fetch(`${cluster.url}/apis/apps/v1/namespaces/shop/deployments/api`, {
        method: "DELETE",
        headers: { authorization: `Bearer ${cluster.tokens.admin}`, "content-type": "application/json" },
        body,
      });
    const dry = await del(
      JSON.stringify({
        kind: "DeleteOptions",
        apiVersion: "v1",
        dryRun: ["All"],
        propagationPolicy: "Background",
      }),
    );
    expect(dry.status).toBe(200);
    expect(cluster.mutations().length).toBe(before);
    expect((await get("/apis/apps/v1/namespaces/shop/deployments/api")).status).toBe(200);
    expect((await del(JSON.stringify({ dryRun: ["Some"] }))).status).toBe(400);
    expect((await del(JSON.stringify({ dryRun: "All" }))).status).toBe(400);
    expect((await del("{nope")).status).toBe(400);
    expect(cluster.mutations().length).toBe(before);
  });

  it("serves the same API over TLS with the CA in the kubeconfig", async () => {
    const list = await cluster.kubeConfig("readonly").makeApiClient(CoreV1Api).listNamespace();
    expect(cluster.kubeConfig("readonly").getCurrentCluster()?.server).toBe(cluster.httpsUrl);
    expect(cluster.kubeConfig("readonly").getCurrentCluster()?.caData).toBe(
      Buffer.from(cluster.caPem).toString("base64"),
    );
    expect(list.items.map((n) => n.metadata!.name).sort()).toEqual(["data", "shop"]);
    await expect(fetch(`${cluster.httpsUrl}/version`)).rejects.toThrow();
  });
});
