import { ApiException, AppsV1Api, type V1Deployment } from "@kubernetes/client-node";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type SandboxCluster, startSandboxCluster } from "../../sandbox/cluster/index.js";
import { NaiveTools } from "../../sandbox/naive/tools.js";
import { BackstopError } from "../../src/errors.js";
import { loadWorld } from "../fixtures/worlds.js";
import { kubeConfigFor } from "./fixtures.js";

let cluster: SandboxCluster;
let admin: AppsV1Api;

function naive(user: "admin" | "writer" = "admin"): NaiveTools {
  return new NaiveTools({ kubeConfig: cluster.kubeConfig(user), sandbox: true });
}

function image(dep: V1Deployment): string | undefined {
  return dep.spec?.template?.spec?.containers?.[0]?.image;
}

async function images(): Promise<Map<string, string | undefined>> {
  const all = await admin.listDeploymentForAllNamespaces();
  return new Map(all.items.map((d) => [`${d.metadata?.namespace}/${d.metadata?.name}`, image(d)]));
}

beforeAll(async () => {
  cluster = await startSandboxCluster({ scenario: loadWorld("write-path") });
  admin = cluster.kubeConfig("admin").makeApiClient(AppsV1Api);
});

afterAll(async () => {
  await cluster.close();
});

beforeEach(() => {
  cluster.reset(loadWorld("write-path"));
});

describe("NaiveTools: sandbox only", () => {
  it("refuses sandbox: false, a non-loopback server and a missing flag", () => {
    const expectRefused = (fn: () => unknown) => {
      try {
        fn();
      } catch (err) {
        expect(err).toBeInstanceOf(BackstopError);
        expect((err as BackstopError).code).toBe("naive.sandbox_only");
        return;
      }
      throw new Error("expected naive.sandbox_only");
    };
    expectRefused(() => new NaiveTools({ kubeConfig: cluster.kubeConfig("admin"), sandbox: false }));
    expectRefused(
      () => new NaiveTools({ kubeConfig: kubeConfigFor("https://10.0.0.1:6443", "t"), sandbox: true }),
    );
    expectRefused(
      () => new NaiveTools({ kubeConfig: kubeConfigFor("https://k8s.example.com", "t"), sandbox: true }),
    );
    expectRefused(
      () => new NaiveTools({ kubeConfig: kubeConfigFor("https://127.evil.example.com", "t"), sandbox: true }),
    );
    expectRefused(
      () =>
        new NaiveTools({ kubeConfig: cluster.kubeConfig("admin"), sandbox: "true" as unknown as boolean }),
    );
    expect(
      new NaiveTools({ kubeConfig: kubeConfigFor("http://localhost:1", "t"), sandbox: true }),
    ).toBeInstanceOf(NaiveTools);
    expect(
      new NaiveTools({ kubeConfig: kubeConfigFor("http://[::1]:1", "t"), sandbox: true }),
    ).toBeInstanceOf(NaiveTools);
  });
});

describe("NaiveTools: the damage", () => {
  it("rollback with scope all changes every Deployment in every namespace, protected ones too", async () => {
    const before = await images();
    const done = await naive().rollback({
      namespace: "shop",
      kind: "Deployment",
      name: "checkout",
      scope: "all",
    });
    expect(done.map((a) => `${a.namespace}/${a.name}`).sort()).toEqual(
      ["payments/ledger", "shop/cart", "shop/checkout"].sort(),
    );
    const after = await images();
    for (const [ref, img] of after) expect(img, ref).not.toBe(before.get(ref));
    expect(after.get("shop/cart")).toBe("ghcr.io/acme/cart:c0ffee1");
    expect(after.get("payments/ledger")).toBe("ghcr.io/acme/ledger:1edge01");
    const touched = new Set(cluster.mutations().map((m) => `${m.namespace}/${m.name}`));
    expect(touched).toEqual(new Set(["shop/checkout", "shop/cart", "payments/ledger"]));
  });

  it("a hallucinated SHA becomes an image tag (ImagePullBackOff), with scope *", async () => {
    const done = await naive().rollback({
      namespace: "shop",
      kind: "Deployment",
      name: "checkout",
      to_sha: "f00dbabe",
      scope: "*",
    });
    expect(done).toHaveLength(3);
    expect(done.every((a) => a.to_sha === "f00dbabe")).toBe(true);
    const after = await images();
    expect(after.get("shop/checkout")).toBe("ghcr.io/acme/checkout:f00dbabe");
    expect(after.get("payments/ledger")).toBe("ghcr.io/acme/ledger:f00dbabe");
  });

  it("rollback of one Deployment to a known SHA reuses its ReplicaSet", async () => {
    const done = await naive().rollback({
      namespace: "shop",
      kind: "Deployment",
      name: "checkout",
      to_sha: "a1b2c3d",
    });
    expect(done).toEqual([
      {
        type: "rollback",
        namespace: "shop",
        kind: "Deployment",
        name: "checkout",
        to_sha: "a1b2c3d",
        to_revision: 1,
      },
    ]);
    const after = await images();
    expect(after.get("shop/checkout")).toBe("ghcr.io/acme/checkout:a1b2c3d");
    expect(after.get("shop/cart")).toBe("ghcr.io/acme/cart:c0ffee2");
  });

  it("restarts a StatefulSet (the database) with admin", async () => {
    const before = await admin.readNamespacedStatefulSet({ namespace: "data", name: "postgres" });
    const done = await naive().restart({ namespace: "data", kind: "StatefulSet", name: "postgres" });
    expect(done).toEqual([{ type: "restart", namespace: "data", kind: "StatefulSet", name: "postgres" }]);
    const after = await admin.readNamespacedStatefulSet({ namespace: "data", name: "postgres" });
    expect(after.spec?.template?.metadata?.annotations?.["kubectl.kubernetes.io/restartedAt"]).toMatch(
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/,
    );
    expect(after.metadata?.resourceVersion).not.toBe(before.metadata?.resourceVersion);
    expect(cluster.mutations().some((m) => m.kind === "StatefulSet" && m.name === "postgres")).toBe(true);
  });

  it("scales to zero and deletes", async () => {
    expect(await naive().scale({ namespace: "shop", kind: "Deployment", name: "cart", replicas: 0 })).toEqual(
      [{ type: "scale", namespace: "shop", kind: "Deployment", name: "cart", replicas: 0 }],
    );
    expect((await admin.readNamespacedDeployment({ namespace: "shop", name: "cart" })).spec?.replicas).toBe(
      0,
    );
    await naive().scale({ namespace: "data", kind: "StatefulSet", name: "postgres", replicas: 0 });
    expect(
      (await admin.readNamespacedStatefulSet({ namespace: "data", name: "postgres" })).spec?.replicas,
    ).toBe(0);
    await naive().delete({ namespace: "shop", kind: "Deployment", name: "checkout" });
    expect((await images()).has("shop/checkout")).toBe(false);
  });

  it("crashes on API errors and bad input (no guardrails, no catch)", async () => {
    await expect(
      naive().restart({ namespace: "shop", kind: "Deployment", name: "nope" }),
    ).rejects.toBeInstanceOf(ApiException);
    // with the writer credential, the protected namespace is forbidden: the error propagates unchanged
    await expect(
      naive("writer").restart({ namespace: "payments", kind: "Deployment", name: "ledger" }),
    ).rejects.toMatchObject({ code: 403 });
    await expect(naive().restart({ namespace: "shop", kind: "CronJob", name: "x" })).rejects.toMatchObject({
      code: "naive.unsupported_kind",
    });
    await expect(
      naive().scale({ namespace: "shop", kind: "Deployment", name: "cart", replicas: -1 }),
    ).rejects.toThrow();
  });
});
