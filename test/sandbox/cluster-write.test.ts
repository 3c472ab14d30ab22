import {
  AppsV1Api,
  CoreV1Api,
  Observable,
  type ObservableMiddleware,
  PatchStrategy,
  type RequestContext,
  type ResponseContext,
  setHeaderOptions,
  type V1PodTemplateSpec,
} from "@kubernetes/client-node";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type SandboxCluster, startSandboxCluster } from "../../sandbox/cluster/index.js";
import { errorRatioQuery } from "../../src/contracts/promql.js";
import { fault, loadWorld } from "../fixtures/worlds.js";
import { apiError, SHA, statusBody } from "./helpers-cluster.js";

let cluster: SandboxCluster;
const merge = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);
const strategic = setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch);
const apps = (u: "readonly" | "writer" | "admin") => cluster.kubeConfig(u).makeApiClient(AppsV1Api);
const core = (u: "readonly" | "writer" | "admin") => cluster.kubeConfig(u).makeApiClient(CoreV1Api);

beforeAll(async () => {
  cluster = await startSandboxCluster({ scenario: loadWorld("cluster") });
});
beforeEach(() => {
  cluster.reset(loadWorld("cluster"));
});
afterAll(async () => {
  await cluster.close();
});

async function replicaSets(name: string) {
  const list = await apps("readonly").listNamespacedReplicaSet({
    namespace: "shop",
    labelSelector: `app=${name}`,
  });
  return list.items.map((r) => ({
    name: r.metadata!.name!,
    revision: r.metadata?.annotations?.["deployment.kubernetes.io/revision"],
    history: r.metadata?.annotations?.["deployment.kubernetes.io/revision-history"],
    replicas: r.spec?.replicas,
    image: r.spec?.template?.spec?.containers[0]?.image,
    template: r.spec!.template!,
  }));
}

async function podsOf(ns: string, selector: string) {
  return (await core("readonly").listNamespacedPod({ namespace: ns, labelSelector: selector })).items;
}

describe("sandbox cluster: RBAC", () => {
  it("answers a readonly patch with 403 Forbidden and the API server's message", async () => {
    const err = await apiError(() =>
      apps("readonly").patchNamespacedDeployment(
        { name: "checkout", namespace: "shop", body: { spec: { replicas: 4 } } },
        merge,
      ),
    );
    expect(err.code).toBe(403);
    expect(statusBody(err)).toEqual({
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message:
        'deployments.apps "checkout" is forbidden: User "system:serviceaccount:backstop:readonly" cannot patch resource "deployments" in API group "apps" in the namespace "shop"',
      reason: "Forbidden",
      details: { name: "checkout", group: "apps", kind: "deployments" },
      code: 403,
    });
    expect(cluster.mutations()).toEqual([]);
  });

  it("lets the writer patch deployments only outside protected namespaces", async () => {
    const err = await apiError(() =>
      apps("writer").patchNamespacedDeployment(
        { name: "vault", namespace: "data", body: { spec: { replicas: 2 } } },
        merge,
      ),
    );
    expect(err.code).toBe(403);
    expect(statusBody(err).message).toBe(
      'deployments.apps "vault" is forbidden: User "system:serviceaccount:backstop:writer" cannot patch resource "deployments" in API group "apps" in the namespace "data"',
    );
    const ok = await apps("writer").patchNamespacedDeployment(
      { name: "cart", namespace: "shop", body: { spec: { replicas: 3 } } },
      merge,
    );
    expect(ok.spec?.replicas).toBe(3);
  });

  it("denies the writer deletes, statefulset patches, secrets and cluster-scoped lists", async () => {
    const pods = await podsOf("shop", "app=cart");
    const del = await apiError(() =>
      core("writer").deleteNamespacedPod({ name: pods[0]!.metadata!.name!, namespace: "shop" }),
    );
    expect(del.code).toBe(403);
    expect(statusBody(del).message).toContain(
      'cannot delete resource "pods" in API group "" in the namespace "shop"',
    );
    const sts = await apiError(() =>
      apps("writer").patchNamespacedStatefulSet(
        { name: "prod-db", namespace: "data", body: { spec: { replicas: 1 } } },
        merge,
      ),
    );
    expect(sts.code).toBe(403);
    const ns = await apiError(() => core("writer").listNamespace());
    expect(statusBody(ns).message).toBe(
      'namespaces is forbidden: User "system:serviceaccount:backstop:writer" cannot list resource "namespaces" in API group "" at the cluster scope',
    );
    const secrets = await apiError(() => core("readonly").listNamespacedSecret({ namespace: "shop" }));
    expect(secrets.code).toBe(403);
    expect(await core("admin").listNamespacedSecret({ namespace: "shop" })).toMatchObject({ items: [] });
  });
});

describe("sandbox cluster: deployment writes and the controller", () => {
  it("rolls out a new template as a new ReplicaSet with the next revision, and pods roll over", async () => {
    const before = await replicaSets("checkout");
    // client-node's default patch Content-Type is application/json-patch+json.
    const d = await apps("writer").patchNamespacedDeployment({
      name: "checkout",
      namespace: "shop",
      body: [
        {
          op: "replace",
          path: "/spec/template/spec/containers/0/image",
          value: "ghcr.io/acme/checkout:1234567",
        },
      ],
    });
    expect(d.metadata?.generation).toBe(4);
    expect(d.metadata?.annotations?.["deployment.kubernetes.io/revision"]).toBe("4");
    await cluster.settle();
    const after = await replicaSets("checkout");
    expect(after).toHaveLength(before.length + 1);
    const fresh = after.find((r) => r.revision === "4")!;
    expect(fresh.image).toBe("ghcr.io/acme/checkout:1234567");
    expect(fresh.replicas).toBe(3);
    expect(after.filter((r) => r !== fresh).every((r) => r.replicas === 0)).toBe(true);
    const pods = await podsOf("shop", "app=checkout");
    expect(pods).toHaveLength(3);
    expect(pods.every((p) => p.metadata?.ownerReferences?.[0]?.name === fresh.name)).toBe(true);
    // An image in no scenario history cannot be pulled.
    const waiting = pods[0]?.status?.containerStatuses?.[0]?.state?.waiting?.reason;
    expect(["ErrImagePull", "ImagePullBackOff"]).toContain(waiting);
    expect(pods[0]?.status?.phase).toBe("Pending");
    const events = await core("readonly").listNamespacedEvent({
      namespace: "shop",
      fieldSelector: `involvedObject.name=${pods[0]!.metadata!.name!}`,
    });
    expect(
      events.items.some((e) => e.reason === "Failed" && e.message?.includes("Failed to pull image")),
    ).toBe(true);
    const m = cluster.mutations();
    expect(m).toHaveLength(1);
    expect(m[0]).toMatchObject({
      seq: 1,
      user: "writer",
      verb: "patch",
      resource: "deployments",
      namespace: "shop",
      name: "checkout",
      kind: "Deployment",
    });
    expect(m[0]?.summary).toContain("ghcr.io/acme/checkout:1234567");
  });

  it("rolls back by copying an old ReplicaSet's template: the same ReplicaSet is reused with the next revision", async () => {
    const before = await replicaSets("checkout");
    const good = before.find((r) => r.image === `ghcr.io/acme/checkout:${SHA.good}`)!;
    expect(good.revision).toBe("2");
    const template = structuredClone(good.template) as V1PodTemplateSpec;
    delete template.metadata?.labels?.["pod-template-hash"];
    await apps("writer").patchNamespacedDeployment({
      name: "checkout",
      namespace: "shop",
      body: [{ op: "replace", path: "/spec/template", value: template }],
    });
    await cluster.settle();
    const after = await replicaSets("checkout");
    expect(after).toHaveLength(before.length);
    const reused = after.find((r) => r.name === good.name)!;
    expect(reused.revision).toBe("4");
    expect(reused.history).toBe("2");
    expect(reused.replicas).toBe(3);
    const d = await apps("readonly").readNamespacedDeployment({ name: "checkout", namespace: "shop" });
    expect(d.metadata?.annotations?.["deployment.kubernetes.io/revision"]).toBe("4");
    expect(d.status).toMatchObject({ readyReplicas: 3, updatedReplicas: 3, availableReplicas: 3 });
    expect(d.status?.conditions?.find((c) => c.type === "Progressing")?.reason).toBe(
      "NewReplicaSetAvailable",
    );
    const ratio = await fetch(
      `${cluster.url}/api/v1/query?query=${encodeURIComponent(errorRatioQuery("shop", "checkout", "5m"))}`,
    );
    const body = (await ratio.json()) as { data: { result: Array<{ value: [number, string] }> } };
    expect(body.data.result[0]?.value[1]).toBe("0.002");
  });

  it("restarts with the restartedAt template annotation: a new ReplicaSet with the same image and new pods", async () => {
    const oldPods = new Set((await podsOf("shop", "app=cart")).map((p) => p.metadata?.name));
    const at = new Date().toISOString();
    await apps("writer").patchNamespacedDeployment(
      {
        name: "cart",
        namespace: "shop",
        body: {
          spec: { template: { metadata: { annotations: { "kubectl.kubernetes.io/restartedAt": at } } } },
        },
      },
      strategic,
    );
    await cluster.settle();
    const rs = await replicaSets("cart");
    expect(rs).toHaveLength(2);
    const [first, second] = rs;
    expect(first?.image).toBe(second?.image);
    expect(second).toMatchObject({ revision: "2", replicas: 2 });
    expect(second?.template.metadata?.annotations?.["kubectl.kubernetes.io/restartedAt"]).toBe(at);
    const pods = await podsOf("shop", "app=cart");
    expect(pods).toHaveLength(2);
    expect(pods.some((p) => oldPods.has(p.metadata?.name))).toBe(false);
    const events = await core("readonly").listNamespacedEvent({
      namespace: "shop",
      fieldSelector: "involvedObject.kind=Deployment,involvedObject.name=cart",
    });
    const down = new RegExp(`^Scaled down replica set ${first?.name} to 0 from [12]$`);
    expect(events.items.some((e) => down.test(e.message ?? ""))).toBe(true);
  });

  it("merges containers by name under a strategic merge patch", async () => {
    const d = await apps("writer").patchNamespacedDeployment(
      {
        name: "cart",
        namespace: "shop",
        body: {
          spec: {
            template: { spec: { containers: [{ name: "cart", image: "ghcr.io/acme/cart:c4c4c4c-2" }] } },
          },
        },
      },
      strategic,
    );
    const c = d.spec?.template.spec?.containers[0];
    expect(c?.image).toBe("ghcr.io/acme/cart:c4c4c4c-2");
    expect(c?.ports?.[0]?.containerPort).toBe(8080);
  });

  it("validates and returns a dryRun=All patch but persists nothing", async () => {
    const before = await apps("readonly").readNamespacedDeployment({ name: "checkout", namespace: "shop" });
    const dry = await apps("writer").patchNamespacedDeployment(
      { name: "checkout", namespace: "shop", body: { spec: { replicas: 5 } }, dryRun: "All" },
      merge,
    );
    expect(dry.spec?.replicas).toBe(5);
    const after = await apps("readonly").readNamespacedDeployment({ name: "checkout", namespace: "shop" });
    expect(after.spec?.replicas).toBe(3);
    expect(after.metadata?.resourceVersion).toBe(before.metadata?.resourceVersion);
    expect(after.metadata?.generation).toBe(before.metadata?.generation);
    expect(cluster.mutations()).toEqual([]);
    const invalid = await apiError(() =>
      apps("writer").patchNamespacedDeployment(
        { name: "checkout", namespace: "shop", body: { spec: { replicas: -2 } }, dryRun: "All" },
        merge,
      ),
    );
    expect(invalid.code).toBe(422);
  });

  it("answers 409 Conflict to a write with a stale resourceVersion", async () => {
    const d = await apps("writer").readNamespacedDeployment({ name: "cart", namespace: "shop" });
    await apps("writer").patchNamespacedDeployment(
      { name: "cart", namespace: "shop", body: { spec: { replicas: 4 } } },
      merge,
    );
    const err = await apiError(() =>
      apps("writer").patchNamespacedDeployment(
        {
          name: "cart",
          namespace: "shop",
          body: { metadata: { resourceVersion: d.metadata!.resourceVersion! }, spec: { replicas: 1 } },
        },
        merge,
      ),
    );
    expect(err.code).toBe(409);
    expect(statusBody(err)).toMatchObject({
      reason: "Conflict",
      message:
        'Operation cannot be fulfilled on deployments.apps "cart": the object has been modified; please apply your changes to the latest version and try again',
    });
    const stale = await apiError(() =>
      apps("admin").replaceNamespacedDeployment({ name: "cart", namespace: "shop", body: d }),
    );
    expect(stale.code).toBe(409);
    const fresh = await apps("admin").readNamespacedDeployment({ name: "cart", namespace: "shop" });
    fresh.spec!.replicas = 2;
    const replaced = await apps("admin").replaceNamespacedDeployment({
      name: "cart",
      namespace: "shop",
      body: fresh,
    });
    expect(replaced.spec?.replicas).toBe(2);
    expect(cluster.mutations().map((m) => m.verb)).toEqual(["patch", "update"]);
  });

  it("answers 422 Invalid to negative replicas and to a patch that does not apply, 415/400 to bad bodies", async () => {
    const neg = await apiError(() =>
      apps("writer").patchNamespacedDeployment({
        name: "checkout",
        namespace: "shop",
        body: [{ op: "replace", path: "/spec/replicas", value: -1 }],
      }),
    );
    expect(neg.code).toBe(422);
    expect(statusBody(neg)).toMatchObject({
      reason: "Invalid",
      message:
        'Deployment.apps "checkout" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0',
      details: {
        name: "checkout",
        group: "apps",
        kind: "Deployment",
        causes: [{ reason: "FieldValueInvalid", field: "spec.replicas" }],
      },
    });
    const missing = await apiError(() =>
      apps("writer").patchNamespacedDeployment({
        name: "checkout",
        namespace: "shop",
        body: [{ op: "replace", path: "/spec/template/spec/containers/7/image", value: "x" }],
      }),
    );
    expect(missing.code).toBe(422);
    const noImage = await apiError(() =>
      apps("writer").patchNamespacedDeployment({
        name: "checkout",
        namespace: "shop",
        body: [{ op: "remove", path: "/spec/template/spec/containers/0/image" }],
      }),
    );
    expect(statusBody(noImage).message).toContain("spec.template.spec.containers[0].image: Required value");
    const headers = { authorization: `Bearer ${cluster.tokens.writer}` };
    const url = `${cluster.url}/apis/apps/v1/namespaces/shop/deployments/checkout`;
    const garbage = await fetch(url, {
      method: "PATCH",
      headers: { ...headers, "content-type": "application/merge-patch+json" },
      body: "{not json",
    });
    expect(garbage.status).toBe(400);
    const apply = await fetch(url, {
      method: "PATCH",
      headers: { ...headers, "content-type": "application/apply-patch+yaml" },
      body: "spec: {}",
    });
    expect(apply.status).toBe(415);
    const badDry = await fetch(`${url}?dryRun=Some`, {
      method: "PATCH",
      headers: { ...headers, "content-type": "application/merge-patch+json" },
      body: "{}",
    });
    expect(badDry.status).toBe(400);
    expect(cluster.mutations()).toEqual([]);
  });

  it("gets and patches deployments/scale", async () => {
    const scale = await apps("writer").readNamespacedDeploymentScale({ name: "cart", namespace: "shop" });
    expect(scale).toMatchObject({
      kind: "Scale",
      spec: { replicas: 2 },
      status: { replicas: 2, selector: "app=cart,tier=web" },
    });
    const patched = await apps("writer").patchNamespacedDeploymentScale(
      { name: "cart", namespace: "shop", body: { spec: { replicas: 4 } } },
      merge,
    );
    expect(patched.spec?.replicas).toBe(4);
    expect(await podsOf("shop", "app=cart")).toHaveLength(4);
    const neg = await apiError(() =>
      apps("writer").patchNamespacedDeploymentScale(
        { name: "cart", namespace: "shop", body: { spec: { replicas: -1 } } },
        merge,
      ),
    );
    expect(neg.code).toBe(422);
    expect(statusBody(neg).message).toContain('Scale.autoscaling "cart" is invalid: spec.replicas');
    expect(cluster.mutations()).toMatchObject([{ resource: "deployments/scale", summary: "replicas 2 → 4" }]);
    const none = await apiError(() =>
      apps("writer").readNamespacedDeploymentScale({ name: "ghost", namespace: "shop" }),
    );
    expect(none.code).toBe(404);
  });

  it("does not log a no-op patch", async () => {
    await apps("writer").patchNamespacedDeployment(
      { name: "cart", namespace: "shop", body: { spec: { replicas: 2 } } },
      merge,
    );
    expect(cluster.mutations()).toEqual([]);
  });
});

describe("sandbox cluster: admin deletes, statefulsets and the mutation log", () => {
  it("restarts a statefulset by template annotation and rolls its ordinal pods", async () => {
    const before = new Map(
      (await podsOf("data", "app=prod-db")).map((p) => [p.metadata?.name, p.metadata?.uid]),
    );
    const s = await apps("admin").patchNamespacedStatefulSet(
      {
        name: "prod-db",
        namespace: "data",
        body: {
          spec: {
            template: {
              metadata: { annotations: { "kubectl.kubernetes.io/restartedAt": "2025-01-01T00:00:00Z" } },
            },
          },
        },
      },
      strategic,
    );
    expect(s.metadata?.generation).toBe(2);
    await cluster.settle();
    const after = await apps("readonly").readNamespacedStatefulSet({ name: "prod-db", namespace: "data" });
    expect(after.status?.currentRevision).toBe(after.status?.updateRevision);
    expect(after.status?.updatedReplicas).toBe(2);
    const pods = await podsOf("data", "app=prod-db");
    expect(pods.map((p) => p.metadata?.name).sort()).toEqual(["prod-db-0", "prod-db-1"]);
    for (const p of pods) {
      expect(p.metadata?.uid).not.toBe(before.get(p.metadata?.name));
      expect(p.metadata?.labels?.["controller-revision-hash"]).toBe(after.status?.updateRevision);
    }
  });

  it("logs every state-changing write with its user, in order", async () => {
    const pods = await podsOf("shop", "app=cart");
    const victim = pods[0]!.metadata!.name!;
    await core("admin").deleteNamespacedPod({ name: victim, namespace: "shop", dryRun: "All" });
    await core("admin").deleteNamespacedPod({ name: victim, namespace: "shop" });
    const replaced = await podsOf("shop", "app=cart");
    expect(replaced).toHaveLength(2);
    expect(replaced.map((p) => p.metadata?.name)).not.toContain(victim);
    const killing = await core("readonly").listNamespacedEvent({
      namespace: "shop",
      fieldSelector: `involvedObject.name=${victim},reason=Killing`,
    });
    expect(killing.items[0]?.message).toBe("Stopping container cart");
    await apps("admin").deleteNamespacedDeployment({ name: "search", namespace: "shop" });
    await apps("admin").deleteNamespacedStatefulSet({ name: "prod-db", namespace: "data" });
    expect(await podsOf("shop", "app=search")).toHaveLength(0);
    expect(await podsOf("data", "app=prod-db")).toHaveLength(0);
    const gone = await apiError(() =>
      apps("readonly").readNamespacedDeployment({ name: "search", namespace: "shop" }),
    );
    expect(gone.code).toBe(404);
    const m = cluster.mutations();
    expect(m.map((x) => [x.seq, x.user, x.verb, x.kind, x.namespace, x.name])).toEqual([
      [1, "admin", "delete", "Pod", "shop", victim],
      [2, "admin", "delete", "Deployment", "shop", "search"],
      [3, "admin", "delete", "StatefulSet", "data", "prod-db"],
    ]);
    expect(Number.isNaN(Date.parse(m[0]!.at))).toBe(false);
    cluster.reset(loadWorld("cluster"));
    expect(cluster.mutations()).toEqual([]);
    expect(await podsOf("shop", "app=search")).toHaveLength(2);
  });
});

describe("sandbox cluster: fault injection", () => {
  it("answers the injected 503 after `after` passes, then succeeds", async () => {
    cluster.reset(
      loadWorld("cluster", {
        faults: [
          fault.status("patch", "deployments", 503, {
            namespace: "shop",
            after: 1,
            times: 1,
            dry_run: false,
          }),
        ],
      }),
    );
    const body = { spec: { replicas: 3 } };
    await apps("writer").patchNamespacedDeployment({ name: "cart", namespace: "shop", body }, merge);
    // A dry-run does not match `dry_run: false`.
    await apps("writer").patchNamespacedDeployment(
      { name: "cart", namespace: "shop", body, dryRun: "All" },
      merge,
    );
    const err = await apiError(() =>
      apps("writer").patchNamespacedDeployment(
        { name: "cart", namespace: "shop", body: { spec: { replicas: 4 } } },
        merge,
      ),
    );
    expect(err.code).toBe(503);
    expect(statusBody(err)).toMatchObject({ kind: "Status", reason: "ServiceUnavailable", code: 503 });
    const ok = await apps("writer").patchNamespacedDeployment(
      { name: "cart", namespace: "shop", body: { spec: { replicas: 4 } } },
      merge,
    );
    expect(ok.spec?.replicas).toBe(4);
    expect(cluster.mutations().map((m) => m.summary)).toEqual(["replicas 2 → 3", "replicas 3 → 4"]);
  });

  it("answers 429 with Retry-After", async () => {
    cluster.reset(
      loadWorld("cluster", { faults: [fault.status("list", "pods", 429, { token: "readonly" })] }),
    );
    const res = await fetch(`${cluster.url}/api/v1/namespaces/shop/pods`, {
      headers: { authorization: `Bearer ${cluster.tokens.readonly}` },
    });
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBe("1");
    expect(await res.json()).toMatchObject({ reason: "TooManyRequests" });
    expect((await podsOf("shop", "app=cart")).length).toBe(2);
  });

  it("hangs a matching request: a client with a shorter timeout aborts, the next request answers", async () => {
    cluster.reset(
      loadWorld("cluster", { faults: [fault.hang("get", "deployments", 1500, { name: "cart" })] }),
    );
    const abortAfter = (ms: number): ObservableMiddleware => ({
      pre: (ctx: RequestContext) => {
        ctx.setSignal(AbortSignal.timeout(ms));
        return new Observable(Promise.resolve(ctx));
      },
      post: (ctx: ResponseContext) => new Observable(Promise.resolve(ctx)),
    });
    const opts = { middleware: [abortAfter(100)], middlewareMergeStrategy: "append" as const };
    await expect(
      apps("readonly").readNamespacedDeployment({ name: "cart", namespace: "shop" }, opts),
    ).rejects.toThrow();
    const d = await apps("readonly").readNamespacedDeployment({ name: "cart", namespace: "shop" }, opts);
    expect(d.metadata?.name).toBe("cart");
  });

  it("rejects an invalid scenario on reset", () => {
    expect(() =>
      cluster.reset({
        ...loadWorld("cluster"),
        cluster: { rollout_seconds: 1, namespaces: [], workloads: [], events: [] },
      }),
    ).toThrow(/invalid scenario/);
  });
});
