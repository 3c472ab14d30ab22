import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { KubeConfig } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeK8sApis } from "../../mcp-infra/k8s.js";
import { resolveOwner } from "../../mcp-infra/owner.js";
import { isBackstopError } from "../../src/errors.js";

// resolve_owner's HPA and Job branches against a minimal Kubernetes API over real HTTP, through the
// real client-node clients (the sandbox cluster serves pods and ReplicaSets, not HPAs or Jobs).
const objects: Record<string, unknown> = {
  "/apis/autoscaling/v2/namespaces/shop/horizontalpodautoscalers/checkout-hpa": {
    apiVersion: "autoscaling/v2",
    kind: "HorizontalPodAutoscaler",
    metadata: { name: "checkout-hpa", namespace: "shop" },
    spec: {
      scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "checkout" },
      maxReplicas: 10,
    },
  },
  "/apis/batch/v1/namespaces/batch/jobs/nightly-report-29061440": {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: {
      name: "nightly-report-29061440",
      namespace: "batch",
      ownerReferences: [
        { apiVersion: "batch/v1", kind: "CronJob", name: "nightly-report", uid: "u1", controller: true },
      ],
    },
  },
  "/apis/batch/v1/namespaces/batch/jobs/db-migrate": {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name: "db-migrate", namespace: "batch" },
  },
};

let server: Server;
let kc: KubeConfig;

beforeAll(async () => {
  server = createServer((req, res) => {
    const body = objects[new URL(req.url ?? "/", "http://x").pathname];
    res.writeHead(body ? 200 : 404, { "content-type": "application/json" });
    res.end(
      JSON.stringify(
        body ?? { kind: "Status", apiVersion: "v1", status: "Failure", reason: "NotFound", code: 404 },
      ),
    );
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "c", server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: "u", token: "t" }],
    contexts: [{ name: "x", cluster: "c", user: "u" }],
    currentContext: "x",
  });
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
});

describe("resolveOwner", () => {
  it("an HPA resolves to its scaleTargetRef", async () => {
    const r = await resolveOwner(makeK8sApis(kc), "shop", "HorizontalPodAutoscaler", "checkout-hpa");
    expect(r).toMatchObject({ namespace: "shop", kind: "Deployment", name: "checkout" });
    expect(r.chain).toEqual([
      { kind: "HorizontalPodAutoscaler", name: "checkout-hpa" },
      { kind: "Deployment", name: "checkout" },
    ]);
  });
  it("a Job resolves to its CronJob, or to itself without one", async () => {
    const apis = makeK8sApis(kc);
    expect(await resolveOwner(apis, "batch", "Job", "nightly-report-29061440")).toMatchObject({
      kind: "CronJob",
      name: "nightly-report",
    });
    expect(await resolveOwner(apis, "batch", "Job", "db-migrate")).toMatchObject({
      kind: "Job",
      name: "db-migrate",
    });
  });
  it("an object that does not exist is infra.not_found", async () => {
    const err = await resolveOwner(makeK8sApis(kc), "shop", "HorizontalPodAutoscaler", "ghost").catch(
      (e: unknown) => e,
    );
    expect(isBackstopError(err, "infra.not_found")).toBe(true);
  });
});
