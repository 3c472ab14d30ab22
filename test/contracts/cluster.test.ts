import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { ClusterWriters, loadKubeConfig } from "../../src/actions/clusters.js";
import { WritePath } from "../../src/actions/write-path.js";
import { loadConfig } from "../../src/config.js";
import { parseClusterTargetRef, SINGLE_CLUSTER, selectCluster } from "../../src/contracts/cluster.js";
import { BackstopError } from "../../src/errors.js";
import { RunContext } from "../../src/pipeline/context.js";

const TWO = { names: ["prod-eu1", "prod-us1"], label: "cluster" };

function kubeconfigFile(contexts: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), "bs-kc-"));
  const file = join(dir, "config");
  const doc = {
    apiVersion: "v1",
    kind: "Config",
    clusters: contexts.map((c) => ({ name: c, cluster: { server: `https://${c}.invalid:6443` } })),
    users: [{ name: "u", user: { token: "t" } }],
    contexts: contexts.map((c) => ({ name: c, context: { cluster: c, user: "u" } })),
    "current-context": contexts[0],
  };
  writeFileSync(file, JSON.stringify(doc));
  return file;
}

describe("selectCluster", () => {
  it("selects a configured cluster named by the label", () => {
    expect(selectCluster({ cluster: "prod-us1", alertname: "X" }, TWO)).toEqual({ cluster: "prod-us1" });
  });

  it("refuses any other cluster, saying which it came from and which are served", () => {
    const r = selectCluster({ cluster: "prod-eu-west-1" }, TWO);
    expect(r).toMatchObject({ refused: true, from: "prod-eu-west-1" });
    if ("reason" in r) {
      expect(r.reason).toContain("prod-eu-west-1");
      expect(r.reason).toContain("prod-eu1, prod-us1");
    }
    // Case matters, as in Prometheus label values; an empty value is no cluster of ours either.
    expect(selectCluster({ cluster: "PROD-EU1" }, TWO)).toMatchObject({ refused: true });
    expect(selectCluster({ cluster: "" }, TWO)).toMatchObject({ refused: true, from: "" });
    expect(selectCluster({ cluster: "elsewhere" }, SINGLE_CLUSTER)).toMatchObject({ refused: true });
  });

  it("accepts an alert without the label only where exactly one cluster is configured", () => {
    expect(selectCluster({ alertname: "X" }, SINGLE_CLUSTER)).toEqual({ cluster: "default" });
    const r = selectCluster({ alertname: "X" }, TWO);
    expect(r).toMatchObject({ refused: true, from: null });
    if ("reason" in r) expect(r.reason).toContain("no `cluster` label");
  });

  it("reads the configured label, not `cluster`", () => {
    const roster = { names: ["eu"], label: "k8s_cluster" };
    expect(selectCluster({ k8s_cluster: "eu" }, roster)).toEqual({ cluster: "eu" });
    expect(selectCluster({ cluster: "us", k8s_cluster: "eu" }, roster)).toEqual({ cluster: "eu" });
    expect(selectCluster({ k8s_cluster: "us" }, roster)).toMatchObject({ refused: true, from: "us" });
  });
});

describe("parseClusterTargetRef", () => {
  it("takes an optional cluster with one configured, and requires it with two", () => {
    expect(parseClusterTargetRef("shop/checkout", SINGLE_CLUSTER)).toEqual({
      cluster: "default",
      namespace: "shop",
      workload: "checkout",
    });
    expect(parseClusterTargetRef("default/shop/checkout", SINGLE_CLUSTER).cluster).toBe("default");
    expect(parseClusterTargetRef("prod-us1/shop/checkout", TWO)).toEqual({
      cluster: "prod-us1",
      namespace: "shop",
      workload: "checkout",
    });
    expect(() => parseClusterTargetRef("shop/checkout", TWO)).toThrow(/serves 2 clusters/);
  });

  it("refuses unknown clusters and malformed refs with a clear error", () => {
    const code = (ref: string, roster = TWO) => {
      try {
        parseClusterTargetRef(ref, roster);
        return "ok";
      } catch (err) {
        return (err as BackstopError).code;
      }
    };
    expect(code("prod-ap1/shop/checkout")).toBe("cluster.unknown");
    expect(code("shop/checkout", TWO)).toBe("cluster.required");
    expect(code("shop")).toBe("target.invalid");
    expect(code("a/b/c/d")).toBe("target.invalid");
    expect(code("prod-eu1/Shop/checkout")).toBe("target.invalid");
  });
});

describe("cluster configuration", () => {
  it("keeps a single-cluster install on today's variables, named BACKSTOP_CLUSTER_NAME", () => {
    const c = loadConfig({
      BACKSTOP_WRITER_KUBECONFIG: "/w.yaml",
      BACKSTOP_PROMETHEUS_URL: "http://prom:9090",
    });
    expect(c.clusters).toEqual([
      {
        name: "default",
        kubeconfig: undefined,
        context: undefined,
        writerKubeconfig: "/w.yaml",
        writerContext: undefined,
        prometheusUrl: "http://prom:9090",
      },
    ]);
    expect(c.clusterRoster).toEqual({ names: ["default"], label: "cluster" });
    expect(loadConfig({ BACKSTOP_CLUSTER_NAME: "prod-eu1" }).clusterRoster.names).toEqual(["prod-eu1"]);
  });

  it("reads BACKSTOP_CLUSTERS as JSON or from a file, with the label from BACKSTOP_CLUSTER_LABEL", () => {
    const list = [
      {
        name: "prod-eu1",
        kubeconfig: "/r.yaml",
        context: "eu-ro",
        writer_kubeconfig: "/w.yaml",
        writer_context: "eu-w",
      },
      { name: "prod-us1", prometheus_url: "http://prom-us:9090" },
    ];
    const c = loadConfig({ BACKSTOP_CLUSTERS: JSON.stringify(list), BACKSTOP_CLUSTER_LABEL: "k8s_cluster" });
    expect(c.clusterRoster).toEqual({ names: ["prod-eu1", "prod-us1"], label: "k8s_cluster" });
    expect(c.clusters[0]).toMatchObject({
      context: "eu-ro",
      writerKubeconfig: "/w.yaml",
      writerContext: "eu-w",
    });
    const file = join(mkdtempSync(join(tmpdir(), "bs-clusters-")), "clusters.json");
    writeFileSync(file, JSON.stringify(list));
    expect(loadConfig({ BACKSTOP_CLUSTERS: file }).clusters.map((x) => x.name)).toEqual([
      "prod-eu1",
      "prod-us1",
    ]);
  });

  it("refuses bad cluster lists with an error naming the problem", () => {
    const bad = (env: Record<string, string>, msg: RegExp) => {
      expect(() => loadConfig(env)).toThrow(BackstopError);
      expect(() => loadConfig(env)).toThrow(msg);
    };
    bad({ BACKSTOP_CLUSTERS: "[]" }, /at least one cluster/);
    bad({ BACKSTOP_CLUSTERS: '[{"name":"a"},{"name":"a"}]' }, /duplicate cluster name "a"/);
    bad({ BACKSTOP_CLUSTERS: '[{"name":"eu/1"}]' }, /BACKSTOP_CLUSTERS\[0\.name\]/);
    bad({ BACKSTOP_CLUSTERS: '[{"name":"eu","kubecfg":"/x"}]' }, /kubecfg/);
    bad({ BACKSTOP_CLUSTERS: '[{"name":"eu","prometheus_url":"not a url"}]' }, /prometheus_url/);
    bad({ BACKSTOP_CLUSTERS: "[{" }, /not valid JSON/);
    bad({ BACKSTOP_CLUSTERS: "/nonexistent/clusters.json" }, /cannot read/);
    bad({ BACKSTOP_CLUSTERS: '[{"name":"eu"}]', BACKSTOP_CLUSTER_NAME: "eu" }, /ambiguous/);
    bad({ BACKSTOP_CLUSTER_LABEL: "cluster-name" }, /Prometheus label name/);
    bad({ BACKSTOP_CLUSTER_NAME: "a:b" }, /cluster name/);
  });
});

describe("per-cluster credentials", () => {
  it("loads each cluster's context, and refuses a context the file does not have", () => {
    const file = kubeconfigFile(["eu-w", "us-w"]);
    expect(loadKubeConfig(file, "us-w", "x").getCurrentCluster()?.server).toBe("https://us-w.invalid:6443");
    expect(() => loadKubeConfig(file, "ap-w", "cluster ap (writer)")).toThrow(
      /no context "ap-w".*eu-w, us-w/,
    );
    expect(() => loadKubeConfig("/nonexistent/kubeconfig", undefined, "x")).toThrow(BackstopError);
  });

  it("gives each cluster its own writer and no other", () => {
    const file = kubeconfigFile(["eu-w", "us-w"]);
    const common = { kubeconfig: undefined, context: undefined, prometheusUrl: undefined };
    const writers = ClusterWriters.fromConfig([
      { ...common, name: "prod-eu1", writerKubeconfig: file, writerContext: "eu-w" },
      { ...common, name: "prod-us1", writerKubeconfig: file, writerContext: "us-w" },
    ]);
    expect(writers.get("prod-us1").cluster).toBe("prod-us1");
    expect(() => writers.get("prod-ap1")).toThrow(/no writer for cluster "prod-ap1"/);
    expect(() => writers.get(undefined)).toThrow(/must name its cluster/);
    expect(() =>
      ClusterWriters.fromConfig([
        { ...common, name: "eu", writerKubeconfig: undefined, writerContext: undefined },
      ]),
    ).toThrow(/no writer kubeconfig for cluster\(s\) eu/);
  });

  it("a write path refuses an action addressed to another cluster before any request", async () => {
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfigFile(["eu-w"]));
    const w = new WritePath({ kubeConfig: kc, cluster: "prod-eu1", requestTimeoutMs: 200 });
    const action = {
      cluster: "prod-us1",
      type: "restart" as const,
      namespace: "shop",
      kind: "Deployment",
      name: "x",
    };
    await expect(w.execute(action, "k")).rejects.toMatchObject({ code: "action.wrong_cluster" });
    expect(await w.dryRun(action)).toMatchObject({
      ok: false,
      error: expect.stringContaining("action.wrong_cluster"),
    });
  });
});

describe("receipt events carry the run's cluster", () => {
  it("stamps every event that names a workload or an action, and nothing else", async () => {
    const ctx = new RunContext("run-x", [], undefined, undefined, "prod-us1");
    const action = { type: "restart" as const, namespace: "shop", kind: "Deployment", name: "checkout" };
    await ctx.emit("run.started", {
      run_id: "run-x",
      agent: "backstop",
      trigger: "alert",
      namespace: "shop",
      workload: "checkout",
      alertname: null,
      scenario: null,
      note: null,
    });
    await ctx.emit("action.executed", { action, idempotency_key: "k", revision: null });
    await ctx.emit("redaction.applied", { counts: {}, total: 0 });
    const [started, executed, redaction] = ctx.recorder.events();
    expect((started!.data as { cluster?: string }).cluster).toBe("prod-us1");
    expect(executed!.data).toMatchObject({
      cluster: "prod-us1",
      action: { cluster: "prod-us1", name: "checkout" },
    });
    expect(redaction!.data).not.toHaveProperty("cluster");
    expect(action).not.toHaveProperty("cluster");
  });
});
