import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  type AlertmanagerAlert,
  AlertmanagerWebhookSchema,
  boundAnnotations,
  INTAKE_LIMITS,
  labelsOverLimit,
  parseRfc3339,
  TRUNCATED_ANNOTATION,
  TRUNCATION_MARKER,
} from "../../src/contracts/alertmanager.js";
import { isDnsLabel, isDnsSubdomain } from "../../src/contracts/k8s-names.js";
import { resolveAlertTarget, resolveRunTarget } from "../../src/pipeline/target.js";

const DIR = join(import.meta.dirname, "../fixtures/alertmanager");

/** What each kubernetes-mixin alert (groups kubernetes-apps and kubernetes-resources) is about. */
const EXPECTED: Record<string, { namespace: string; workload: string; kind?: string } | null> = {
  KubePodCrashLooping: { namespace: "shop", workload: "checkout-7d9f8b6c5d-x2x9k", kind: "Pod" },
  KubePodNotReady: { namespace: "shop", workload: "cart-5b7c9d8f6-q4w8e", kind: "Pod" },
  KubeDeploymentGenerationMismatch: { namespace: "shop", workload: "checkout", kind: "Deployment" },
  KubeDeploymentReplicasMismatch: { namespace: "shop", workload: "checkout", kind: "Deployment" },
  KubeDeploymentRolloutStuck: { namespace: "shop", workload: "checkout", kind: "Deployment" },
  KubeStatefulSetReplicasMismatch: { namespace: "data", workload: "postgres", kind: "StatefulSet" },
  KubeStatefulSetGenerationMismatch: { namespace: "data", workload: "postgres", kind: "StatefulSet" },
  KubeStatefulSetUpdateNotRolledOut: { namespace: "data", workload: "postgres", kind: "StatefulSet" },
  KubeDaemonSetRolloutStuck: { namespace: "logging", workload: "fluent-bit", kind: "DaemonSet" },
  KubeContainerWaiting: { namespace: "shop", workload: "search-6f9d7c8b5-m2n4p", kind: "Pod" },
  KubeDaemonSetNotScheduled: { namespace: "logging", workload: "fluent-bit", kind: "DaemonSet" },
  KubeDaemonSetMisScheduled: { namespace: "logging", workload: "fluent-bit", kind: "DaemonSet" },
  KubeJobNotCompleted: { namespace: "batch", workload: "nightly-report-29061440", kind: "Job" },
  KubeJobFailed: { namespace: "batch", workload: "db-migrate", kind: "Job" },
  KubeHpaReplicasMismatch: { namespace: "shop", workload: "checkout", kind: "HorizontalPodAutoscaler" },
  KubeHpaMaxedOut: { namespace: "shop", workload: "checkout-hpa", kind: "HorizontalPodAutoscaler" },
  KubePdbNotEnoughHealthyPods: null,
  KubeCPUOvercommit: null,
  KubeMemoryOvercommit: null,
  KubeCPUQuotaOvercommit: null,
  KubeMemoryQuotaOvercommit: null,
  KubeQuotaAlmostFull: null,
  KubeQuotaFullyUsed: null,
  KubeQuotaExceeded: null,
  CPUThrottlingHigh: { namespace: "shop", workload: "checkout-7d9f8b6c5d-x2x9k", kind: "Pod" },
};

function fixture(name: string): AlertmanagerAlert {
  const raw = JSON.parse(readFileSync(join(DIR, `${name}.json`), "utf8"));
  return AlertmanagerWebhookSchema.parse(raw).alerts[0]!;
}

describe("resolveAlertTarget on kubernetes-mixin alerts", () => {
  it("has a fixture for every alert of the kubernetes-apps and kubernetes-resources groups", () => {
    const files = readdirSync(DIR)
      .filter((f) => f.endsWith(".json"))
      .map((f) => f.replace(/\.json$/, ""))
      .sort();
    expect(files).toEqual(Object.keys(EXPECTED).sort());
  });

  for (const [name, expected] of Object.entries(EXPECTED)) {
    it(`${name} → ${expected ? `${expected.kind} ${expected.namespace}/${expected.workload}` : "no workload"}`, () => {
      const r = resolveAlertTarget(fixture(name));
      if (expected === null) {
        expect(r.status).toBe("none");
      } else {
        expect(r).toMatchObject({ status: "target", target: expected });
      }
      // Never the exporter's own pod.
      if (r.status === "target") expect(r.target.workload).not.toContain("kube-state-metrics");
    });
  }

  it("with honor_labels: false, takes exported_namespace/exported_pod over the exporter's", () => {
    const a = fixture("KubePodCrashLooping");
    const labels = {
      ...a.labels,
      namespace: "monitoring",
      pod: "kube-state-metrics-6d4f8c9b7-xk2lp",
      exported_namespace: "shop",
      exported_pod: "checkout-7d9f8b6c5d-x2x9k",
    };
    expect(resolveAlertTarget({ ...a, labels })).toMatchObject({
      status: "target",
      target: { namespace: "shop", workload: "checkout-7d9f8b6c5d-x2x9k", kind: "Pod" },
      via: "exported_pod",
    });
    const job = fixture("KubeJobFailed");
    expect(
      resolveAlertTarget({
        ...job,
        labels: { ...job.labels, namespace: "monitoring", exported_namespace: "batch" },
      }),
    ).toMatchObject({
      status: "target",
      target: { namespace: "batch", workload: "db-migrate", kind: "Job" },
    });
  });

  it("a kube-state-metrics series not about pods never targets its `pod`, even without the job label", () => {
    const a = fixture("KubeQuotaExceeded");
    expect(resolveAlertTarget(a).status).toBe("none");
    const custom: AlertmanagerAlert = {
      ...a,
      labels: {
        alertname: "MyKsmAlert",
        namespace: "shop",
        pod: "kube-state-metrics-abc",
        service: "kube-state-metrics",
      },
      generatorURL: "",
    };
    expect(resolveAlertTarget(custom).status).toBe("none");
    // The same kube_pod_* expression in a custom rule: the pod is the subject.
    const podAlert: AlertmanagerAlert = {
      ...custom,
      labels: { ...custom.labels, pod: "api-7f8d9c6b5-abcde" },
      generatorURL: `http://p/graph?g0.expr=${encodeURIComponent('kube_pod_status_ready{condition="false"} == 1')}`,
    };
    expect(resolveAlertTarget(podAlert)).toMatchObject({
      target: { workload: "api-7f8d9c6b5-abcde", kind: "Pod" },
    });
  });

  it("a `workload` label with workload_type, and without", () => {
    const base = fixture("KubeDeploymentRolloutStuck");
    const { deployment: _d, ...rest } = base.labels;
    expect(
      resolveAlertTarget({ ...base, labels: { ...rest, workload: "api", workload_type: "daemonset" } }),
    ).toMatchObject({ target: { workload: "api", kind: "DaemonSet" } });
    const r = resolveAlertTarget({ ...base, labels: { ...rest, workload: "api" } });
    expect(r).toMatchObject({ status: "target", target: { namespace: "shop", workload: "api" } });
    expect(r.status === "target" ? r.target.kind : "none").toBeUndefined();
  });

  it("refuses namespaces and names that are not Kubernetes names, naming the reason", () => {
    const base = fixture("KubeDeploymentRolloutStuck");
    for (const ns of ["../../etc", "*", "Shop", "a".repeat(64), "", "shop\u0000"]) {
      const r = resolveAlertTarget({ ...base, labels: { ...base.labels, namespace: ns } });
      expect(r.status, ns).toBe("invalid");
      if (r.status === "invalid") expect(r.reason).toContain("namespace");
    }
    for (const name of ["../checkout", "check out", "CHECKOUT", "-x", "a".repeat(254)]) {
      const r = resolveAlertTarget({ ...base, labels: { ...base.labels, deployment: name } });
      expect(r.status, name).toBe("invalid");
    }
    const sts = fixture("KubeStatefulSetReplicasMismatch");
    expect(resolveAlertTarget({ ...sts, labels: { ...sts.labels, statefulset: "pg.main" } }).status).toBe(
      "invalid",
    );
  });
});

describe("Kubernetes names", () => {
  it("DNS labels and subdomains", () => {
    expect(isDnsLabel("shop")).toBe(true);
    expect(isDnsLabel("a".repeat(63))).toBe(true);
    expect(isDnsLabel("a".repeat(64))).toBe(false);
    expect(isDnsLabel("a.b")).toBe(false);
    expect(isDnsSubdomain("a.b-c.d")).toBe(true);
    expect(isDnsSubdomain("a..b")).toBe(false);
    expect(isDnsSubdomain(`${"a".repeat(64)}.b`)).toBe(false);
  });
});

describe("RFC 3339 timestamps", () => {
  it("accepts RFC 3339 date-times, Alertmanager's zero time included", () => {
    expect(parseRfc3339("2026-11-21T11:43:27.058Z")).toBe(Date.parse("2026-11-21T11:43:27.058Z"));
    expect(parseRfc3339("2026-11-21T12:43:27+01:00")).toBe(Date.parse("2026-11-21T11:43:27Z"));
    expect(parseRfc3339("2024-02-29T00:00:00Z")).not.toBeNull();
    expect(parseRfc3339("2026-11-21T11:43:27.123456789Z")).not.toBeNull();
    expect(parseRfc3339("0001-01-01T00:00:00Z")).toBe(Date.parse("0001-01-01T00:00:00Z"));
    expect(parseRfc3339("2016-12-31T23:59:60Z")).toBe(Date.parse("2016-12-31T23:59:59.999Z"));
  });
  it("refuses impossible dates, times and other formats", () => {
    for (const s of [
      "2025-02-30T25:61:00Z",
      "2025-02-29T00:00:00Z",
      "2025-13-01T00:00:00Z",
      "2025-01-01T24:00:00Z",
      "2025-01-01T00:60:00Z",
      "not-a-timestamp",
      "2025-01-01",
      "2025-01-01 10:00:00Z",
      "2025-01-01T10:00:00",
      "2025-01-01T10:00:00+25:00",
      "1700000000",
    ]) {
      expect(parseRfc3339(s), s).toBeNull();
    }
  });
});

describe("intake bounds", () => {
  it("labels over the count or bytes are refused with the reason", () => {
    const many = Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`l${i}`, "v"]));
    expect(labelsOverLimit(many)).toContain("10000 labels");
    expect(labelsOverLimit({ a: "x".repeat(INTAKE_LIMITS.labelValueBytes + 1) })).toContain("longer than");
    expect(labelsOverLimit({ alertname: "A", namespace: "shop" })).toBeNull();
  });
  it("annotations are cut with a marker and counted", () => {
    const long = "é".repeat(INTAKE_LIMITS.annotationValueBytes);
    const many = Object.fromEntries(
      Array.from({ length: 100 }, (_, i) => [`a${String(i).padStart(3, "0")}`, "v"]),
    );
    const out = boundAnnotations({ description: long, ...many });
    expect(Buffer.byteLength(out.description!, "utf8")).toBeLessThanOrEqual(
      INTAKE_LIMITS.annotationValueBytes,
    );
    expect(out.description!.endsWith(TRUNCATION_MARKER)).toBe(true);
    expect(Object.keys(out).length).toBe(INTAKE_LIMITS.annotations + 1);
    expect(out[TRUNCATED_ANNOTATION]).toMatch(/1 value\(s\) cut.*annotation\(s\) dropped/);
    const small = { summary: "ok" };
    expect(boundAnnotations(small)).toBe(small);
  });
  it("an annotation name over the byte bound is cut and named, even when nothing else is", () => {
    const name = "n".repeat(INTAKE_LIMITS.labelNameBytes + 10);
    const out = boundAnnotations({ summary: "ok", [name]: "v" });
    for (const k of Object.keys(out))
      expect(Buffer.byteLength(k, "utf8")).toBeLessThanOrEqual(INTAKE_LIMITS.labelNameBytes);
    expect(out.summary).toBe("ok");
    expect(out[TRUNCATED_ANNOTATION]).toMatch(/1 name\(s\) cut/);
  });
});

describe("resolveRunTarget", () => {
  const owner = (kind: string, name: string) => ({
    resolveOwner: async () => ({ kind, name }),
  });
  it("a pod's Deployment is looked up by name; a DaemonSet keeps its kind; others pass through", async () => {
    const pod = { namespace: "shop", workload: "checkout-7d9f8b6c5d-x2x9k", kind: "Pod" as const };
    expect(await resolveRunTarget(pod, owner("Deployment", "checkout"))).toEqual({
      namespace: "shop",
      workload: "checkout",
    });
    expect(await resolveRunTarget(pod, owner("DaemonSet", "agent"))).toEqual({
      namespace: "shop",
      workload: "agent",
      kind: "DaemonSet",
    });
    const direct = { namespace: "shop", workload: "checkout", kind: "Deployment" as const };
    expect(await resolveRunTarget(direct, owner("StatefulSet", "x"))).toBe(direct);
    expect(await resolveRunTarget(pod, {})).toBe(pod);
  });
  it("a failed lookup leaves the target as named and reports the error", async () => {
    const hpa = { namespace: "shop", workload: "checkout-hpa", kind: "HorizontalPodAutoscaler" as const };
    const errors: unknown[] = [];
    const failing = {
      resolveOwner: async () => {
        throw new Error("forbidden");
      },
    };
    expect(await resolveRunTarget(hpa, failing, (e) => errors.push(e))).toBe(hpa);
    expect(errors).toHaveLength(1);
  });
});
