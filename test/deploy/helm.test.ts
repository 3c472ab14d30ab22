import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { loadConfig, requireSlack } from "../../src/config.js";
import { parsePolicy } from "../../src/guardrails/policy.js";
import { resolveInPackage } from "../../src/paths.js";
import {
  containerViolations,
  type K8sObject,
  type PodSpec,
  type PolicyRule,
  parseYamlDocs,
  readRepoFile,
  readRoleViolations,
  writerRoleViolations,
} from "./checks.js";
import { findHelm } from "./helm-binary.js";
import { schemaViolations } from "./k8s-schema.js";

// The Helm chart, rendered and linted by a real helm binary, each object checked against the
// Kubernetes schemas, and the chart held to the same rules as the kustomize manifests.
const CHART = resolveInPackage("deploy", "helm", "backstop");
const helm = findHelm();
if (helm.path === null && process.env.CI === "true") {
  throw new Error(`CI needs a helm binary: ${"reason" in helm ? helm.reason : ""}`);
}
const noHelm = helm.path === null ? `no helm binary (${"reason" in helm ? helm.reason : ""}); skipped` : "";

function run(args: string[]): string {
  return execFileSync(helm.path as string, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** `helm template` with `values` (a values file), in namespace `backstop`; the rendered objects. */
function render(values: Record<string, unknown> = {}, release = "rel"): K8sObject[] {
  const dir = mkdtempSync(join(tmpdir(), "backstop-helm-"));
  const file = join(dir, "values.yaml");
  writeFileSync(file, stringify(values));
  return parseYamlDocs(
    run(["template", release, CHART, "--namespace", "backstop", "-f", file]),
    "helm template",
  );
}

/** The error helm prints when rendering fails. */
function renderError(values: Record<string, unknown>): string {
  try {
    render(values);
  } catch (err) {
    return String((err as { stderr?: string }).stderr ?? err);
  }
  throw new Error("helm template did not fail");
}

const FULL = {
  writer: { namespaces: ["shop", "payments"] },
  serviceMonitor: { enabled: true, labels: { release: "prometheus" } },
  slack: { mode: "http", approvers: ["U01", "U02"], approverGroup: "S0ONCALL" },
  bot: { ingress: { enabled: true, className: "nginx" } },
  worker: { replicas: 4 },
  redis: { persistence: { enabled: true, size: "5Gi" } },
  networkPolicy: { metricsFrom: { "kubernetes.io/metadata.name": "monitoring" } },
  tracing: { otlpEndpoint: "http://otel-collector.monitoring.svc:4318" },
  models: {
    targets: [
      { name: "a", base_url: "https://gw.example/v1", model: "m1", tier: 1, api_key_env: "GW_KEY" },
      { name: "b", base_url: "https://gw.example/v1", model: "m2", tier: 2, api_key_env: "GW_KEY" },
    ],
    judge: { name: "j", base_url: "https://gw.example/v1", model: "small", tier: 1, api_key_env: "GW_KEY" },
    apiKeyEnv: ["GW_KEY"],
  },
};

const find = (objs: K8sObject[], kind: string, name: string): K8sObject => {
  const o = objs.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`no ${kind} ${name}`);
  return o;
};
type Container = {
  name: string;
  ports?: { name: string; containerPort: number }[];
  readinessProbe?: { httpGet?: { path: string; port: string } };
  livenessProbe?: { httpGet?: { path: string; port: string } };
  envFrom?: { configMapRef: { name: string } }[];
  env?: {
    name: string;
    value?: string;
    valueFrom?: { secretKeyRef?: { name: string; key: string; optional?: boolean } };
  }[];
};
const pod = (o: K8sObject) =>
  (o as unknown as { spec: { replicas?: number; template: { spec: PodSpec & Record<string, unknown> } } })
    .spec;
const container = (o: K8sObject) => (pod(o).template.spec.containers as unknown as Container[])[0]!;

/** The environment a container gets: its ConfigMaps, literal values, and a placeholder for each Secret key. */
function envOf(objs: K8sObject[], d: K8sObject): Record<string, string> {
  const c = container(d);
  const env: Record<string, string> = {};
  for (const f of c.envFrom ?? []) {
    Object.assign(
      env,
      (find(objs, "ConfigMap", f.configMapRef.name) as unknown as { data: Record<string, string> }).data,
    );
  }
  for (const e of c.env ?? []) {
    if (e.value !== undefined) env[e.name] = e.value;
    else if (e.valueFrom?.secretKeyRef)
      env[e.name] =
        e.name === "REDIS_URL" ? "redis://redis.example:6379" : `secret-${e.name}-0123456789abcdef`;
  }
  return env;
}

describe.skipIf(noHelm !== "")(`Helm chart deploy/helm/backstop${noHelm ? `: ${noHelm}` : ""}`, () => {
  it("passes helm lint --strict, with the default values and with every option on", () => {
    expect(run(["lint", "--strict", CHART])).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
    const dir = mkdtempSync(join(tmpdir(), "backstop-helm-lint-"));
    writeFileSync(join(dir, "v.yaml"), stringify(FULL));
    expect(run(["lint", "--strict", CHART, "-f", join(dir, "v.yaml")])).toMatch(/0 chart\(s\) failed/);
  });

  it("every rendered object is valid against the Kubernetes schemas", () => {
    for (const values of [{}, FULL, { redis: { bundled: false }, networkPolicy: { enabled: false } }]) {
      const objs = render(values);
      expect(objs.length).toBeGreaterThan(10);
      expect(objs.flatMap(schemaViolations)).toEqual([]);
    }
  });

  it("the schema check catches what it claims to", () => {
    expect(
      schemaViolations({ apiVersion: "apps/v1beta1", kind: "Deployment", metadata: { name: "x" } })[0],
    ).toMatch(/no schema/);
    const bad = render()
      .filter((o) => o.kind === "Deployment")
      .map((o) => structuredClone(o));
    (
      pod(bad[0]!).template.spec.containers as unknown as { ports: { containerPort: unknown }[] }[]
    )[0]!.ports = [{ containerPort: "http" }];
    expect(schemaViolations(bad[0]!).join()).toMatch(/containerPort/);
    const noSelector = structuredClone(bad[1]!) as K8sObject & { spec: Record<string, unknown> };
    delete noSelector.spec.selector;
    expect(schemaViolations(noSelector).join()).toMatch(/selector/);
  });

  it("renders the bot, the worker (replicas), mcp-infra and a bundled Redis, all hardened with probes", () => {
    const objs = render(FULL);
    const bot = find(objs, "Deployment", "rel-backstop-bot");
    const worker = find(objs, "Deployment", "rel-backstop-worker");
    const mcp = find(objs, "Deployment", "rel-backstop-mcp-infra");
    const redis = find(objs, "StatefulSet", "rel-backstop-redis");
    expect(pod(worker).replicas).toBe(4);
    for (const o of [bot, worker, mcp, redis])
      expect(containerViolations(pod(o).template.spec), o.metadata.name).toEqual([]);
    // Probes: HTTP on a port the container declares.
    const probes = (o: K8sObject) => {
      const c = container(o);
      const names = (c.ports ?? []).map((p) => p.name);
      expect(names).toContain(c.readinessProbe?.httpGet?.port);
      expect(names).toContain(c.livenessProbe?.httpGet?.port);
      return [c.readinessProbe?.httpGet?.path, c.livenessProbe?.httpGet?.path];
    };
    expect(probes(bot)).toEqual(["/readyz", "/healthz"]);
    expect(probes(worker)).toEqual(["/readyz", "/healthz"]);
    expect(probes(mcp)).toEqual(["/healthz", "/healthz"]);
    // Resource requests on every container.
    for (const o of [bot, worker, mcp, redis]) {
      expect(
        (container(o) as unknown as { resources: { requests: object } }).resources.requests,
      ).toMatchObject({
        cpu: expect.any(String),
        memory: expect.any(String),
      });
    }
    // Redis: AOF, noeviction, persistence as asked.
    const args = (container(redis) as unknown as { args: string[] }).args.join(" ");
    expect(args).toContain("--appendonly yes");
    expect(args).toContain("--maxmemory-policy noeviction");
    expect(
      (redis as unknown as { spec: { volumeClaimTemplates: unknown[] } }).spec.volumeClaimTemplates,
    ).toHaveLength(1);
  });

  it("the bot and the worker start with what the chart gives them (config parsed as at start)", () => {
    for (const values of [{}, FULL]) {
      const objs = render(values);
      for (const name of ["rel-backstop-bot", "rel-backstop-worker"]) {
        const config = loadConfig(envOf(objs, find(objs, "Deployment", name)));
        expect(() => requireSlack(config), name).not.toThrow();
        expect(config.mcp.infraUrl).toBe("http://rel-backstop-mcp-infra:8790/mcp");
        expect(config.redisUrl).toBe("redis://rel-backstop-redis:6379");
      }
      const worker = loadConfig(envOf(objs, find(objs, "Deployment", "rel-backstop-worker")));
      expect(worker.models.targets.length).toBeGreaterThan(0);
      for (const t of worker.models.targets) expect(t.apiKey, t.name).toBeDefined();
      expect(worker.observability.metricsPort).toBe(9464);
      expect(worker.approvals.timeoutMs).toBe(1_800_000);
      // The mcp-infra Service serves the port the URL names; the Redis Service exists.
      const svc = find(objs, "Service", "rel-backstop-mcp-infra") as unknown as {
        spec: { ports: { port: number }[] };
      };
      expect(svc.spec.ports[0]!.port).toBe(8790);
      find(objs, "Service", "rel-backstop-redis");
    }
    const full = render(FULL);
    const w = loadConfig(envOf(full, find(full, "Deployment", "rel-backstop-worker")));
    expect(w.models.judge?.model).toBe("small");
    expect(w.observability.tracesUrl).toBe("http://otel-collector.monitoring.svc:4318/v1/traces");
    expect(w.approvals).toMatchObject({ users: ["U01", "U02"], usergroup: "S0ONCALL" });
  });

  it("secrets only come from existing Secrets; the bot holds no model key, writer credential or signing key", () => {
    for (const values of [{}, FULL, { redis: { bundled: false }, secrets: { existingSecret: "mine" } }]) {
      const objs = render(values);
      expect(objs.filter((o) => o.kind === "Secret")).toEqual([]);
      const expected =
        (values as { secrets?: { existingSecret: string } }).secrets?.existingSecret ?? "backstop-secrets";
      for (const d of objs.filter((o) => o.kind === "Deployment")) {
        for (const e of container(d).env ?? []) {
          if (e.valueFrom?.secretKeyRef)
            expect(e.valueFrom.secretKeyRef.name, `${d.metadata.name} ${e.name}`).toBe(expected);
        }
      }
      const bot = envOf(objs, find(objs, "Deployment", "rel-backstop-bot"));
      for (const k of [
        "BACKSTOP_WRITER_KUBECONFIG",
        "BACKSTOP_RECEIPT_KEY_FILE",
        "OPENAI_API_KEY",
        "GW_KEY",
      ]) {
        expect(bot[k], k).toBeUndefined();
      }
    }
    // External Redis: no StatefulSet, REDIS_URL from the Secret.
    const ext = render({ redis: { bundled: false } });
    expect(ext.some((o) => o.kind === "StatefulSet")).toBe(false);
    const redisUrl = container(find(ext, "Deployment", "rel-backstop-worker")).env?.find(
      (e) => e.name === "REDIS_URL",
    );
    expect(redisUrl?.valueFrom?.secretKeyRef).toMatchObject({ name: "backstop-secrets", key: "REDIS_URL" });
  });

  it("RBAC mirrors the kustomize manifests: read-only cluster-wide for mcp-infra, the narrow writer per namespace", () => {
    const objs = render(FULL);
    const kust = [
      ...parseYamlDocs(readRepoFile("deploy", "kubernetes", "rbac-read.yaml"), "read"),
      ...parseYamlDocs(readRepoFile("deploy", "kubernetes", "rbac-write.yaml"), "write"),
    ];
    const rules = (o: K8sObject) => (o as unknown as { rules: PolicyRule[] }).rules;
    const read = rules(find(objs, "ClusterRole", "rel-backstop-read"));
    const write = rules(find(objs, "ClusterRole", "rel-backstop-write"));
    expect(readRoleViolations(read)).toEqual([]);
    expect(writerRoleViolations(write)).toEqual([]);
    expect(read).toEqual(rules(find(kust, "ClusterRole", "backstop-read")));
    expect(write).toEqual(rules(find(kust, "ClusterRole", "backstop-write")));
    expect(find(objs, "ClusterRoleBinding", "rel-backstop-read")).toMatchObject({
      roleRef: { kind: "ClusterRole", name: "rel-backstop-read" },
      subjects: [{ kind: "ServiceAccount", name: "rel-backstop-infra", namespace: "backstop" }],
    });
    // The writer is never bound cluster-wide; one RoleBinding per opted-in namespace.
    const bindings = objs.filter((o) => o.kind === "RoleBinding");
    expect(bindings.map((b) => b.metadata.namespace).sort()).toEqual(["payments", "shop"]);
    for (const b of bindings) {
      expect(b).toMatchObject({
        roleRef: { kind: "ClusterRole", name: "rel-backstop-write" },
        subjects: [{ kind: "ServiceAccount", name: "rel-backstop-writer", namespace: "backstop" }],
      });
    }
    expect(objs.filter((o) => o.kind === "ClusterRoleBinding").map((o) => o.metadata.name)).toEqual([
      "rel-backstop-read",
    ]);
    // Identities: mcp-infra reads with a mounted token, the worker writes through a projected one, the bot has none.
    expect(pod(find(objs, "Deployment", "rel-backstop-mcp-infra")).template.spec).toMatchObject({
      serviceAccountName: "rel-backstop-infra",
      automountServiceAccountToken: true,
    });
    expect(pod(find(objs, "Deployment", "rel-backstop-worker")).template.spec).toMatchObject({
      serviceAccountName: "rel-backstop-writer",
      automountServiceAccountToken: false,
    });
    expect(pod(find(objs, "Deployment", "rel-backstop-bot")).template.spec).toMatchObject({
      serviceAccountName: "rel-backstop-bot",
      automountServiceAccountToken: false,
    });
    // The policy protects the release's own namespace, and parses as the worker will parse it.
    const policy = parsePolicy(
      (find(objs, "ConfigMap", "rel-backstop-policy") as unknown as { data: Record<string, string> }).data[
        "policy.yaml"
      ]!,
    );
    expect(policy.protected.namespaces).toContain("backstop");
  });

  it("NetworkPolicies: mcp-infra and the bundled Redis only from the bot and the worker; the workers only on their metrics port", () => {
    const objs = render(FULL);
    type NP = {
      spec: {
        ingress: {
          from?: { podSelector?: { matchLabels: Record<string, string> }; namespaceSelector?: object }[];
          ports: { port: number }[];
        }[];
      };
    };
    const from = (name: string) =>
      (find(objs, "NetworkPolicy", name) as unknown as NP).spec.ingress[0]!.from!.map(
        (f) => f.podSelector?.matchLabels["app.kubernetes.io/component"],
      ).sort();
    expect(from("rel-backstop-mcp-infra")).toEqual(["bot", "worker"]);
    expect(from("rel-backstop-redis")).toEqual(["bot", "worker"]);
    const worker = (find(objs, "NetworkPolicy", "rel-backstop-worker") as unknown as NP).spec.ingress[0]!;
    expect(worker.ports).toEqual([{ port: 9464, protocol: "TCP" }]);
    expect(worker.from?.[0]?.namespaceSelector).toEqual({
      matchLabels: { "kubernetes.io/metadata.name": "monitoring" },
    });
    expect(render({ networkPolicy: { enabled: false } }).some((o) => o.kind === "NetworkPolicy")).toBe(false);
  });

  it("the ServiceMonitor (optional) scrapes /metrics on ports the bot's and the workers' Services name", () => {
    expect(render().some((o) => o.kind === "ServiceMonitor")).toBe(false);
    const objs = render(FULL);
    const sm = find(objs, "ServiceMonitor", "rel-backstop") as unknown as {
      metadata: { labels: Record<string, string> };
      spec: { endpoints: { port: string; path: string }[] };
    };
    expect(sm.metadata.labels.release).toBe("prometheus");
    const svcPorts = ["rel-backstop-bot", "rel-backstop-worker"].flatMap((n) =>
      (find(objs, "Service", n) as unknown as { spec: { ports: { name: string }[] } }).spec.ports.map(
        (p) => p.name,
      ),
    );
    for (const e of sm.spec.endpoints) {
      expect(svcPorts).toContain(e.port);
      expect(e.path).toBe("/metrics");
    }
    // The Ingress (HTTP mode) exposes /slack/events only.
    const ing = find(objs, "Ingress", "rel-backstop-slack") as unknown as {
      spec: { rules: { http: { paths: { path: string }[] } }[] };
    };
    expect(ing.spec.rules.flatMap((r) => r.http.paths.map((p) => p.path))).toEqual(["/slack/events"]);
    expect(render({ bot: { ingress: { enabled: true } } }).some((o) => o.kind === "Ingress")).toBe(false); // socket mode
  });

  it("refuses bad values with a clear message", () => {
    expect(renderError({ slack: { mode: "carrier-pigeon" } })).toMatch(/slack.mode must be socket or http/);
    expect(renderError({ models: { targets: [] } })).toMatch(/models.targets needs at least one/);
    expect(renderError({ slack: { approvers: [], approverGroup: "" } })).toMatch(
      /approvers or slack.approverGroup is required/,
    );
    expect(renderError({ writer: { namespaces: ["backstop"] } })).toMatch(
      /must not include the release namespace/,
    );
  });
});
