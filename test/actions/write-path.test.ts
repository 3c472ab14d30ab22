import { AppsV1Api, type V1Deployment, type V1ReplicaSet } from "@kubernetes/client-node";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type SandboxCluster, startSandboxCluster } from "../../sandbox/cluster/index.js";
import { idempotencyKey, LAST_ACTION_ANNOTATION, WritePath } from "../../src/actions/index.js";
import type { ActionRecord } from "../../src/contracts/events.js";
import { BackstopError } from "../../src/errors.js";
import { fault, loadWorld } from "../fixtures/worlds.js";
import { kubeConfigFor, startProxy } from "./fixtures.js";

let cluster: SandboxCluster;
let admin: AppsV1Api;

const FIXED = new Date("2025-01-02T03:04:05.678Z");

function writePath(
  user: "writer" | "readonly" | "admin" = "writer",
  extra: { recoveryTimeoutMs?: number } = {},
) {
  return new WritePath({
    kubeConfig: cluster.kubeConfig(user),
    pollIntervalMs: 25,
    recoveryTimeoutMs: extra.recoveryTimeoutMs ?? 5_000,
    requestTimeoutMs: 5_000,
    clock: () => FIXED,
  });
}

async function deployment(ns: string, name: string): Promise<V1Deployment> {
  return admin.readNamespacedDeployment({ namespace: ns, name });
}

async function replicaSets(ns: string, name: string): Promise<V1ReplicaSet[]> {
  const list = await admin.listNamespacedReplicaSet({ namespace: ns });
  return list.items.filter((rs) => rs.metadata?.ownerReferences?.some((o) => o.name === name));
}

function image(dep: V1Deployment): string | undefined {
  return dep.spec?.template?.spec?.containers?.[0]?.image;
}

/** Runs `fn`, expecting a BackstopError; returns it. */
async function backstopError(fn: () => Promise<unknown>): Promise<BackstopError> {
  try {
    await fn();
  } catch (err) {
    expect(err).toBeInstanceOf(BackstopError);
    return err as BackstopError;
  }
  throw new Error("expected a BackstopError");
}

const rollbackToGood: ActionRecord = {
  type: "rollback",
  namespace: "shop",
  kind: "Deployment",
  name: "checkout",
  to_sha: "a1b2c3d",
};

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

describe("idempotencyKey", () => {
  it("is stable per run and action, and differs across runs and actions", () => {
    const k = idempotencyKey("run-1", rollbackToGood);
    expect(k).toMatch(/^[0-9a-f]{64}$/);
    expect(idempotencyKey("run-1", { ...rollbackToGood })).toBe(k);
    expect(idempotencyKey("run-2", rollbackToGood)).not.toBe(k);
    expect(idempotencyKey("run-1", { ...rollbackToGood, to_sha: "e4f5a6b" })).not.toBe(k);
    expect(() => idempotencyKey("", rollbackToGood)).toThrow(BackstopError);
  });
});

describe("rollback", () => {
  it("resolves a deploy SHA to its revision, and null for an unknown SHA", async () => {
    const wp = writePath();
    expect(await wp.resolveRollback("shop", "checkout", "a1b2c3d")).toEqual({
      revision: 1,
      image: "ghcr.io/acme/checkout:a1b2c3d",
    });
    expect(await wp.resolveRollback("shop", "checkout", "deadbeef")).toBeNull();
  });

  it("rolls back by SHA reusing the old ReplicaSet, and recovers", async () => {
    const wp = writePath();
    const before = await replicaSets("shop", "checkout");
    const key = idempotencyKey("run-rb", rollbackToGood);
    const res = await wp.execute(rollbackToGood, key);
    expect(res).toEqual({ executed: true, alreadyApplied: false, revision: 1 });

    const dep = await deployment("shop", "checkout");
    expect(image(dep)).toBe("ghcr.io/acme/checkout:a1b2c3d");
    expect(dep.metadata?.annotations?.[LAST_ACTION_ANNOTATION]).toBe(key);
    expect(dep.spec?.template?.metadata?.labels?.["pod-template-hash"]).toBeUndefined();

    const after = await replicaSets("shop", "checkout");
    expect(after.length).toBe(before.length);
    const good = after.find((rs) => rs.spec?.template?.spec?.containers?.[0]?.image?.endsWith(":a1b2c3d"));
    expect(good?.metadata?.annotations?.["deployment.kubernetes.io/revision"]).toBe("3");

    const recovery = await wp.waitForRecovery("shop", "checkout");
    expect(recovery.ok).toBe(true);
    expect(recovery).toMatchObject({ ready: 2, desired: 2 });
    expect(cluster.mutations().filter((m) => m.verb === "patch")).toHaveLength(1);
  });

  it("rolls back to an explicit revision and to the previous one", async () => {
    const wp = writePath();
    const res = await wp.execute({ ...rollbackToGood, to_sha: undefined, to_revision: 1 }, "k-rev");
    expect(res.revision).toBe(1);
    expect(image(await deployment("shop", "checkout"))).toBe("ghcr.io/acme/checkout:a1b2c3d");
    await cluster.settle();
    const back = await wp.execute(
      { type: "rollback", namespace: "shop", kind: "Deployment", name: "cart" },
      "k-prev",
    );
    expect(back.executed).toBe(true);
    expect(image(await deployment("shop", "cart"))).toBe("ghcr.io/acme/cart:c0ffee1");
  });

  it("refuses an unknown SHA or revision without writing", async () => {
    const wp = writePath();
    const err = await backstopError(() => wp.execute({ ...rollbackToGood, to_sha: "deadbeef" }, "k1"));
    expect(err.code).toBe("action.revision_not_found");
    const err2 = await backstopError(() =>
      wp.execute({ ...rollbackToGood, to_sha: undefined, to_revision: 9 }, "k2"),
    );
    expect(err2.code).toBe("action.revision_not_found");
    expect(cluster.mutations()).toHaveLength(0);
  });

  it("skips a rollback to the template already running", async () => {
    const wp = writePath();
    const res = await wp.execute({ ...rollbackToGood, to_sha: "e4f5a6b" }, "k-same");
    expect(res).toEqual({ executed: false, alreadyApplied: true, revision: 2 });
    expect(cluster.mutations()).toHaveLength(0);
  });
});

describe("restart and scale", () => {
  it("restart sets restartedAt (RFC 3339) and creates a new revision", async () => {
    const wp = writePath();
    await cluster.settle();
    const before = await replicaSets("shop", "cart");
    const res = await wp.execute(
      { type: "restart", namespace: "shop", kind: "Deployment", name: "cart" },
      "k-rs",
    );
    expect(res).toEqual({ executed: true, alreadyApplied: false, revision: null });
    const dep = await deployment("shop", "cart");
    expect(dep.spec?.template?.metadata?.annotations?.["kubectl.kubernetes.io/restartedAt"]).toBe(
      "2025-01-02T03:04:05Z",
    );
    expect(dep.metadata?.annotations?.["deployment.kubernetes.io/revision"]).toBe("3");
    expect((await replicaSets("shop", "cart")).length).toBe(before.length + 1);
    expect((await wp.waitForRecovery("shop", "cart")).ok).toBe(true);
  });

  it("scales within 1..2×current and refuses anything else", async () => {
    const wp = writePath();
    const scale = (replicas: number | undefined): ActionRecord => ({
      type: "scale",
      namespace: "shop",
      kind: "Deployment",
      name: "cart",
      ...(replicas === undefined ? {} : { replicas }),
    });
    for (const n of [0, 5, -1, undefined]) {
      const err = await backstopError(() => wp.execute(scale(n), `k-bad-${n}`));
      expect(err.code).toBe("action.out_of_bounds");
    }
    expect(cluster.mutations()).toHaveLength(0);
    expect(await wp.execute(scale(4), "k-4")).toMatchObject({ executed: true });
    expect((await deployment("shop", "cart")).spec?.replicas).toBe(4);
    const recovery = await wp.waitForRecovery("shop", "cart");
    expect(recovery).toMatchObject({ ok: true, desired: 4, ready: 4 });
  });
});

describe("closed set", () => {
  it("refuses other kinds, delete, scope and malformed actions", async () => {
    const wp = writePath();
    const sts = await backstopError(() =>
      wp.execute({ type: "restart", namespace: "data", kind: "StatefulSet", name: "postgres" }, "k"),
    );
    expect(sts.code).toBe("action.unsupported_kind");
    const del = await backstopError(() =>
      wp.execute({ type: "delete", namespace: "shop", kind: "Deployment", name: "cart" }, "k"),
    );
    expect(del.code).toBe("action.unsupported_type");
    const scoped = { ...rollbackToGood, scope: "all" } as ActionRecord;
    expect((await backstopError(() => wp.execute(scoped, "k"))).code).toBe("action.invalid");
    const bad = { ...rollbackToGood, name: "Not A Name" };
    expect((await backstopError(() => wp.execute(bad, "k"))).code).toBe("action.invalid");
    expect((await backstopError(() => wp.execute(rollbackToGood, ""))).code).toBe("action.invalid");
    expect(
      await wp.dryRun({ type: "restart", namespace: "data", kind: "StatefulSet", name: "postgres" }),
    ).toEqual({
      ok: false,
      error: expect.stringContaining("action.unsupported_kind"),
    });
    expect(cluster.mutations()).toHaveLength(0);
  });
});

describe("dry-run", () => {
  it("changes nothing on success", async () => {
    const wp = writePath();
    const before = await deployment("shop", "checkout");
    expect(await wp.dryRun(rollbackToGood)).toEqual({ ok: true, error: null });
    expect(
      await wp.dryRun({ type: "scale", namespace: "shop", kind: "Deployment", name: "cart", replicas: 3 }),
    ).toEqual({
      ok: true,
      error: null,
    });
    const after = await deployment("shop", "checkout");
    expect(after.metadata?.resourceVersion).toBe(before.metadata?.resourceVersion);
    expect(image(after)).toBe("ghcr.io/acme/checkout:e4f5a6b");
    expect(cluster.mutations()).toHaveLength(0);
  });

  it("surfaces RBAC, protection and server errors as values", async () => {
    const ro = await writePath("readonly").dryRun(rollbackToGood);
    expect(ro.ok).toBe(false);
    expect(ro.error).toContain("forbidden");
    const prot = await writePath().dryRun({
      type: "restart",
      namespace: "payments",
      kind: "Deployment",
      name: "ledger",
    });
    expect(prot.ok).toBe(false);
    expect(prot.error).toContain("forbidden");
    const missing = await writePath().dryRun({
      type: "restart",
      namespace: "shop",
      kind: "Deployment",
      name: "nope",
    });
    expect(missing).toEqual({ ok: false, error: expect.stringContaining("nope") });

    cluster.reset(
      loadWorld("write-path", {
        faults: [fault.status("patch", "deployments", 500, { dry_run: true, message: "etcd unavailable" })],
      }),
    );
    const res = await writePath().dryRun(rollbackToGood);
    expect(res).toEqual({ ok: false, error: expect.stringContaining("etcd unavailable") });
    expect(cluster.mutations()).toHaveLength(0);
  });
});

describe("idempotency", () => {
  it("executes once per key: a retried job does not act twice", async () => {
    const wp = writePath();
    const action: ActionRecord = { type: "restart", namespace: "shop", kind: "Deployment", name: "cart" };
    const key = idempotencyKey("run-idem", action);
    expect(await wp.execute(action, key)).toMatchObject({ executed: true, alreadyApplied: false });
    const rv = (await deployment("shop", "cart")).metadata?.resourceVersion;
    expect(await wp.execute(action, key)).toEqual({ executed: false, alreadyApplied: true, revision: null });
    // a second WritePath (a new worker process) sees the same key on the Deployment
    expect(await writePath().execute(action, key)).toMatchObject({ executed: false, alreadyApplied: true });
    expect((await deployment("shop", "cart")).metadata?.resourceVersion).toBe(rv);
    expect(cluster.mutations().filter((m) => m.verb === "patch")).toHaveLength(1);
    // another run is another key: it acts
    expect(await wp.execute(action, idempotencyKey("run-other", action))).toMatchObject({ executed: true });
  });
});

describe("failures", () => {
  it("a readonly credential cannot act: 403 → action.failed, changed false", async () => {
    const err = await backstopError(() => writePath("readonly").execute(rollbackToGood, "k-ro"));
    expect(err.code).toBe("action.failed");
    expect(err.details).toMatchObject({ status: 403, changed: false });
    expect(image(await deployment("shop", "checkout"))).toBe("ghcr.io/acme/checkout:e4f5a6b");
    expect(cluster.mutations()).toHaveLength(0);
  });

  it("a 500 on the real patch → action.failed, changed false, cluster unchanged", async () => {
    cluster.reset(
      loadWorld("write-path", { faults: [fault.status("patch", "deployments", 500, { dry_run: false })] }),
    );
    const wp = writePath();
    const before = await deployment("shop", "checkout");
    expect(await wp.dryRun(rollbackToGood)).toEqual({ ok: true, error: null });
    const err = await backstopError(() => wp.execute(rollbackToGood, "k-500"));
    expect(err.code).toBe("action.failed");
    expect(err.details).toMatchObject({ status: 500, changed: false, uncertain: false });
    const after = await deployment("shop", "checkout");
    expect(after.metadata?.resourceVersion).toBe(before.metadata?.resourceVersion);
    expect(image(after)).toBe("ghcr.io/acme/checkout:e4f5a6b");
    expect(cluster.mutations()).toHaveLength(0);
  });

  it("a timeout → action.failed with status null", async () => {
    cluster.reset(
      loadWorld("write-path", { faults: [fault.hang("patch", "deployments", 800, { dry_run: false })] }),
    );
    const wp = new WritePath({ kubeConfig: cluster.kubeConfig("writer"), requestTimeoutMs: 200 });
    const err = await backstopError(() => wp.execute(rollbackToGood, "k-hang"));
    expect(err.code).toBe("action.failed");
    expect(err.details).toMatchObject({ status: null, kind: "timeout", uncertain: true });
    expect(typeof err.details?.changed).toBe("boolean");
    // drain: let the hung request finish on the server before the next test resets the world
    await new Promise((resolve) => setTimeout(resolve, 900));
    // the job is retried with the same key: whether or not the hung PATCH landed, exactly one write results
    const retry = await writePath().execute(rollbackToGood, "k-hang");
    expect(retry.executed || retry.alreadyApplied).toBe(true);
    expect(cluster.mutations().filter((m) => m.verb === "patch" && m.user === "writer")).toHaveLength(1);
    expect(image(await deployment("shop", "checkout"))).toBe("ghcr.io/acme/checkout:a1b2c3d");
  });

  it("connection refused → action.failed, changed false", async () => {
    const wp = new WritePath({
      kubeConfig: kubeConfigFor("http://127.0.0.1:1", "x"),
      requestTimeoutMs: 1_000,
    });
    const err = await backstopError(() => wp.execute(rollbackToGood, "k-conn"));
    expect(err.code).toBe("action.failed");
    expect(err.details).toMatchObject({ status: null, changed: false });
    expect(await wp.dryRun(rollbackToGood)).toMatchObject({ ok: false });
  });

  it("a concurrent change (real 409 on the stale resourceVersion) is retried once with a fresh read", async () => {
    let injected = 0;
    const proxy = await startProxy(cluster.url, async (req) => {
      if (req.method === "PATCH" && !req.url?.includes("dryRun") && injected === 0) {
        injected++;
        await admin.patchNamespacedDeployment({
          namespace: "shop",
          name: "checkout",
          body: [{ op: "add", path: "/metadata/labels/team", value: "payments" }],
        });
      }
    });
    try {
      const wp = new WritePath({
        kubeConfig: kubeConfigFor(proxy.url, cluster.tokens.writer),
        pollIntervalMs: 25,
      });
      const res = await wp.execute(rollbackToGood, "k-409");
      expect(res).toMatchObject({ executed: true, revision: 1 });
      expect(injected).toBe(1);
      const dep = await deployment("shop", "checkout");
      expect(dep.metadata?.labels?.team).toBe("payments");
      expect(image(dep)).toBe("ghcr.io/acme/checkout:a1b2c3d");
      const writes = cluster.mutations().filter((m) => m.verb === "patch");
      expect(writes.map((m) => m.user)).toEqual(["admin", "writer"]);
    } finally {
      await proxy.close();
    }
  });

  it("a second 409 is not retried again: action.failed with status 409", async () => {
    cluster.reset(
      loadWorld("write-path", {
        faults: [fault.status("patch", "deployments", 409, { dry_run: false, times: 2 })],
      }),
    );
    const err = await backstopError(() => writePath().execute(rollbackToGood, "k-409x2"));
    expect(err.code).toBe("action.failed");
    expect(err.details).toMatchObject({ status: 409, changed: false });
    expect(cluster.mutations()).toHaveLength(0);
  });

  it("a single injected 409 is retried and then succeeds", async () => {
    cluster.reset(
      loadWorld("write-path", {
        faults: [fault.status("patch", "deployments", 409, { dry_run: false, times: 1 })],
      }),
    );
    expect(await writePath().execute(rollbackToGood, "k-409x1")).toMatchObject({ executed: true });
    expect(cluster.mutations()).toHaveLength(1);
  });
});

describe("recovery", () => {
  it("times out (ok false) when the target is crashlooping", async () => {
    const wp = writePath();
    await cluster.settle();
    const res = await wp.waitForRecovery("shop", "checkout", { timeoutMs: 400 });
    expect(res.ok).toBe(false);
    expect(res.desired).toBe(2);
    expect(res.ready).toBeLessThan(2);
    expect(res.waited_ms).toBeGreaterThanOrEqual(400);
  });

  it("returns ok false for a missing Deployment instead of throwing", async () => {
    const res = await writePath().waitForRecovery("shop", "nope", { timeoutMs: 100 });
    expect(res.ok).toBe(false);
  });
});
