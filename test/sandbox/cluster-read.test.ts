import { AppsV1Api, CoreV1Api } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type SandboxCluster, startSandboxCluster } from "../../sandbox/cluster/index.js";
import {
  errorRatioQuery,
  maxUnavailableQuery,
  p99LatencyQuery,
  restartsQuery,
} from "../../src/contracts/promql.js";
import { loadWorld } from "../fixtures/worlds.js";
import { apiError, SHA, statusBody } from "./helpers-cluster.js";

let cluster: SandboxCluster;
let apps: AppsV1Api;
let core: CoreV1Api;

beforeAll(async () => {
  cluster = await startSandboxCluster({ scenario: loadWorld("cluster") });
  apps = cluster.kubeConfig("readonly").makeApiClient(AppsV1Api);
  core = cluster.kubeConfig("readonly").makeApiClient(CoreV1Api);
});
afterAll(async () => {
  await cluster.close();
});

interface PromBody {
  status: string;
  errorType?: string;
  data: { resultType: string; result: Array<{ metric: Record<string, string>; value: [number, string] }> };
}

async function prom(query: string, time?: number, method: "GET" | "POST" = "GET") {
  const params = new URLSearchParams({ query, ...(time === undefined ? {} : { time: String(time) }) });
  const res =
    method === "GET"
      ? await fetch(`${cluster.url}/api/v1/query?${params}`)
      : await fetch(`${cluster.url}/api/v1/query`, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: params.toString(),
        });
  return { status: res.status, body: (await res.json()) as PromBody };
}

describe("sandbox cluster: reads with client-node", () => {
  it("lists namespaces with their labels", async () => {
    const list = await core.listNamespace();
    const names = list.items.map((n) => n.metadata?.name);
    expect(names).toEqual(["shop", "data"]);
    expect(list.items[1]?.metadata?.labels?.["backstop.dev/protected"]).toBe("true");
  });

  it("lists deployments per namespace, across namespaces and by label selector; gets one", async () => {
    const shop = await apps.listNamespacedDeployment({ namespace: "shop" });
    expect(shop.items.map((d) => d.metadata?.name).sort()).toEqual([
      "api",
      "cart",
      "checkout",
      "search",
      "worker",
    ]);
    const all = await apps.listDeploymentForAllNamespaces();
    expect(all.items).toHaveLength(6);
    const web = await apps.listNamespacedDeployment({ namespace: "shop", labelSelector: "tier=web" });
    expect(web.items.map((d) => d.metadata?.name)).toEqual(["cart"]);
    const notWeb = await apps.listNamespacedDeployment({
      namespace: "shop",
      labelSelector: "app in (cart,api),tier!=web",
    });
    expect(notWeb.items.map((d) => d.metadata?.name)).toEqual(["api"]);

    const d = await apps.readNamespacedDeployment({ name: "checkout", namespace: "shop" });
    expect(d.metadata?.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(Number(d.metadata?.resourceVersion)).toBeGreaterThan(0);
    expect(d.metadata?.generation).toBe(3);
    expect(d.metadata?.creationTimestamp).toBeInstanceOf(Date);
    expect(d.metadata?.annotations?.["deployment.kubernetes.io/revision"]).toBe("3");
    expect(d.spec?.template.spec?.containers[0]?.image).toBe(`ghcr.io/acme/checkout:${SHA.bad}`);
    expect(d.status?.readyReplicas).toBe(0);
    expect(d.status?.unavailableReplicas).toBe(3);
    const available = d.status?.conditions?.find((c) => c.type === "Available");
    expect(available?.status).toBe("False");
    expect(available?.reason).toBe("MinimumReplicasUnavailable");

    const cart = await apps.readNamespacedDeployment({ name: "cart", namespace: "shop" });
    expect(cart.status?.readyReplicas).toBe(2);
    expect(cart.status?.conditions?.find((c) => c.type === "Progressing")?.reason).toBe(
      "NewReplicaSetAvailable",
    );
  });

  it("answers 404 NotFound with a Status body for a missing deployment", async () => {
    const err = await apiError(() => apps.readNamespacedDeployment({ name: "nope", namespace: "shop" }));
    expect(err.code).toBe(404);
    expect(statusBody(err)).toMatchObject({
      kind: "Status",
      status: "Failure",
      reason: "NotFound",
      message: 'deployments.apps "nope" not found',
      details: { name: "nope", group: "apps", kind: "deployments" },
      code: 404,
    });
  });

  it("answers 401 without a known bearer token", async () => {
    const res = await fetch(`${cluster.url}/api/v1/namespaces`, {
      headers: { authorization: "Bearer wrong" },
    });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ kind: "Status", reason: "Unauthorized", code: 401 });
    const none = await fetch(`${cluster.url}/apis/apps/v1/deployments`);
    expect(none.status).toBe(401);
  });

  it("lists replicasets with revisions, owner references, pod-template-hash and the full template", async () => {
    const rs = await apps.listNamespacedReplicaSet({ namespace: "shop", labelSelector: "app=checkout" });
    expect(rs.items).toHaveLength(3);
    const byRev = new Map(
      rs.items.map((r) => [r.metadata?.annotations?.["deployment.kubernetes.io/revision"], r]),
    );
    const r2 = byRev.get("2")!;
    const hash = r2.metadata?.labels?.["pod-template-hash"];
    expect(hash).toMatch(/^[bcdfghjklmnpqrstvwxz2456789]+$/);
    expect(r2.metadata?.name).toBe(`checkout-${hash}`);
    expect(r2.spec?.replicas).toBe(0);
    expect(r2.spec?.template?.spec?.containers[0]?.image).toBe(`ghcr.io/acme/checkout:${SHA.good}`);
    const owner = r2.metadata?.ownerReferences?.[0];
    expect(owner).toMatchObject({ kind: "Deployment", name: "checkout", controller: true });
    const d = await apps.readNamespacedDeployment({ name: "checkout", namespace: "shop" });
    expect(owner?.uid).toBe(d.metadata?.uid);
    expect(byRev.get("3")?.spec?.replicas).toBe(3);
    expect(byRev.get("1")?.metadata?.creationTimestamp?.getTime()).toBeLessThan(
      r2.metadata!.creationTimestamp!.getTime(),
    );
  });

  it("lists and gets statefulsets with ordinal pods", async () => {
    const list = await apps.listStatefulSetForAllNamespaces();
    expect(list.items.map((s) => s.metadata?.name)).toEqual(["prod-db"]);
    const s = await apps.readNamespacedStatefulSet({ name: "prod-db", namespace: "data" });
    expect(s.status?.readyReplicas).toBe(2);
    const pods = await core.listNamespacedPod({ namespace: "data", labelSelector: "app=prod-db" });
    expect(pods.items.map((p) => p.metadata?.name).sort()).toEqual(["prod-db-0", "prod-db-1"]);
    expect(pods.items[0]?.metadata?.ownerReferences?.[0]?.kind).toBe("StatefulSet");
  });

  it("shows a crashlooping pod as CrashLoopBackOff with restarts, exit code and its profile's logs", async () => {
    const pods = await core.listNamespacedPod({ namespace: "shop", labelSelector: "app=checkout" });
    expect(pods.items).toHaveLength(3);
    const pod = pods.items[0]!;
    expect(pod.metadata?.ownerReferences?.[0]?.kind).toBe("ReplicaSet");
    expect(pod.metadata?.name?.startsWith(`${pod.metadata?.ownerReferences?.[0]?.name}-`)).toBe(true);
    const cs = pod.status?.containerStatuses?.[0];
    expect(cs?.ready).toBe(false);
    expect(cs?.state?.waiting?.reason).toBe("CrashLoopBackOff");
    expect(cs?.restartCount).toBeGreaterThan(0);
    expect(cs?.lastState?.terminated).toMatchObject({ reason: "Error", exitCode: 2 });

    const log = await core.readNamespacedPodLog({
      name: pod.metadata!.name!,
      namespace: "shop",
      tailLines: 2,
    });
    expect(log).toBe("panic: nil pointer dereference in PriceCalculator\nexit status 2\n");
    const prev = await core.readNamespacedPodLog({
      name: pod.metadata!.name!,
      namespace: "shop",
      container: "checkout",
      previous: true,
      timestamps: true,
    });
    const lines = prev.trim().split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z starting checkout$/);

    const one = await core.readNamespacedPod({ name: pod.metadata!.name!, namespace: "shop" });
    expect(one.metadata?.uid).toBe(pod.metadata?.uid);
  });

  it("shows an OOM-killed pod with exit code 137", async () => {
    const pods = await core.listNamespacedPod({ namespace: "shop", labelSelector: "app=worker" });
    const cs = pods.items[0]?.status?.containerStatuses?.[0];
    expect(cs?.lastState?.terminated).toMatchObject({ reason: "OOMKilled", exitCode: 137 });
    // 10 minutes at 6 restarts per 10 minutes, plus the first crash.
    expect(cs?.restartCount).toBe(7);
  });

  it("rejects logs for an unknown container and previous logs of a healthy container with 400", async () => {
    const pods = await core.listNamespacedPod({ namespace: "shop", labelSelector: "app=cart" });
    const name = pods.items[0]!.metadata!.name!;
    const e1 = await apiError(() =>
      core.readNamespacedPodLog({ name, namespace: "shop", container: "nope" }),
    );
    expect(e1.code).toBe(400);
    const e2 = await apiError(() => core.readNamespacedPodLog({ name, namespace: "shop", previous: true }));
    expect(e2.code).toBe(400);
    expect(statusBody(e2).message).toContain("previous terminated container");
  });

  it("lists pods across namespaces", async () => {
    const all = await core.listPodForAllNamespaces();
    expect(all.items.length).toBe(3 + 2 + 2 + 1 + 1 + 1 + 2);
  });

  it("lists events filtered by involvedObject fields", async () => {
    const pods = await core.listNamespacedPod({ namespace: "shop", labelSelector: "app=checkout" });
    const pod = pods.items[0]!.metadata!.name!;
    const ev = await core.listNamespacedEvent({
      namespace: "shop",
      fieldSelector: `involvedObject.name=${pod},involvedObject.kind=Pod`,
    });
    expect(ev.items.length).toBeGreaterThan(0);
    expect(ev.items.every((e) => e.involvedObject.name === pod)).toBe(true);
    const backoff = ev.items.find((e) => e.reason === "BackOff");
    expect(backoff?.type).toBe("Warning");
    expect(backoff?.message).toContain(`Back-off restarting failed container checkout in pod ${pod}`);
    expect(backoff?.count).toBeGreaterThan(1);
    expect(backoff?.lastTimestamp).toBeInstanceOf(Date);

    const dep = await core.listNamespacedEvent({
      namespace: "shop",
      fieldSelector: "involvedObject.kind=Deployment,involvedObject.name=checkout",
    });
    const scaling = dep.items.filter((e) => e.reason === "ScalingReplicaSet").map((e) => e.message);
    expect(scaling.some((m) => /^Scaled up replica set checkout-[a-z0-9]+ to 3$/.test(m ?? ""))).toBe(true);
  });

  it("rejects a malformed label selector with 400", async () => {
    const err = await apiError(() =>
      core.listNamespacedPod({ namespace: "shop", labelSelector: "app in (cart" }),
    );
    expect(err.code).toBe(400);
    expect(statusBody(err).reason).toBe("BadRequest");
  });

  it("rejects an unknown field selector with 400", async () => {
    const err = await apiError(() =>
      core.listNamespacedEvent({ namespace: "shop", fieldSelector: "spec.foo=bar" }),
    );
    expect(err.code).toBe(400);
    expect(statusBody(err).message).toContain('"spec.foo" is not a known field selector');
  });

  it("answers each PromQL form of src/contracts/promql.ts in Prometheus' format", async () => {
    const now = Date.now() / 1000;
    const checkout = await prom(errorRatioQuery("shop", "checkout", "15m"));
    expect(checkout.status).toBe(200);
    expect(checkout.body.status).toBe("success");
    expect(checkout.body.data.resultType).toBe("vector");
    expect(checkout.body.data.result[0]?.value[1]).toBe("1");
    expect(typeof checkout.body.data.result[0]?.value[0]).toBe("number");
    expect((await prom(errorRatioQuery("shop", "search", "15m"))).body.data.result[0]?.value[1]).toBe("0.35");
    expect(
      (await prom(errorRatioQuery("shop", "cart", "15m"), undefined, "POST")).body.data.result[0]?.value[1],
    ).toBe("0.001");

    expect((await prom(p99LatencyQuery("shop", "api", "15m"))).body.data.result[0]?.value[1]).toBe("4");
    expect((await prom(p99LatencyQuery("shop", "cart", "15m"))).body.data.result[0]?.value[1]).toBe("0.08");
    expect((await prom(p99LatencyQuery("shop", "checkout", "15m"))).body.data.result).toEqual([]);

    const restarts = Number(
      (await prom(restartsQuery("shop", "checkout", "15m"))).body.data.result[0]?.value[1],
    );
    expect(restarts).toBeGreaterThan(0);
    expect(Number((await prom(restartsQuery("shop", "cart", "15m"))).body.data.result[0]?.value[1])).toBe(0);

    // The good revision was live from 120 to 20 minutes ago; the bad one since.
    const goodTime = now - 30 * 60;
    const good = await prom(maxUnavailableQuery("shop", "checkout", "5m"), goodTime);
    expect(good.body.data.result[0]?.value).toEqual([Math.round(goodTime * 1000) / 1000, "0"]);
    expect(good.body.data.result[0]?.metric).toEqual({ namespace: "shop", deployment: "checkout" });
    const bad = await prom(maxUnavailableQuery("shop", "checkout", "5m"));
    expect(bad.body.data.result[0]?.value[1]).toBe("3");
  });

  it("answers 400 bad_data for an unknown query or bad time", async () => {
    const res = await prom('up{job="x"}');
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ status: "error", errorType: "bad_data" });
    const badTime = await fetch(
      `${cluster.url}/api/v1/query?query=${encodeURIComponent(restartsQuery("shop", "x", "5m"))}&time=yesterday`,
    );
    expect(badTime.status).toBe(400);
  });

  it("gives a kubeconfig YAML that client-node loads", async () => {
    const { KubeConfig } = await import("@kubernetes/client-node");
    const kc = new KubeConfig();
    kc.loadFromString(cluster.kubeconfigYaml("readonly"));
    expect(kc.getCurrentCluster()?.server).toBe(cluster.httpsUrl);
    const list = await kc.makeApiClient(CoreV1Api).listNamespace();
    expect(list.items).toHaveLength(2);
  });

  it("snapshots workloads for a UI", () => {
    const snap = cluster.snapshot();
    const checkout = snap.workloads.find((w) => w.name === "checkout");
    expect(checkout).toMatchObject({
      kind: "Deployment",
      revision: 3,
      sha: SHA.bad,
      health: "failing",
      protected: false,
    });
    expect(checkout?.replicas).toEqual({ desired: 3, ready: 0, updated: 3, available: 0 });
    expect(snap.workloads.find((w) => w.name === "prod-db")).toMatchObject({
      kind: "StatefulSet",
      protected: true,
      health: "healthy",
    });
    expect(snap.namespaces.find((n) => n.name === "data")?.protected).toBe(true);
  });
});
