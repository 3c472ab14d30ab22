import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AppsV1Api, KubeConfig } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, parseDocument } from "yaml";
import { loadConfig, requireSlack } from "../../src/config.js";
import { parsePolicy } from "../../src/guardrails/policy.js";
import { resolveInPackage } from "../../src/paths.js";
import {
  containerViolations,
  type K8sObject,
  type PodSpec,
  type PolicyRule,
  parseEnvFile,
  parseYamlDocs,
  readRepoFile,
  readRoleViolations,
  writerRoleViolations,
} from "./checks.js";

const K8S_FILES = [
  "namespace.yaml",
  "serviceaccounts.yaml",
  "rbac-read.yaml",
  "rbac-write.yaml",
  "configmap.yaml",
  "mcp-infra.yaml",
  "worker.yaml",
  "bot.yaml",
  "secret.example.yaml",
];

const objects: K8sObject[] = K8S_FILES.flatMap((f) =>
  parseYamlDocs(readRepoFile("deploy", "kubernetes", f), f),
);

function find(kind: string, name: string): K8sObject {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`no ${kind} ${name} in deploy/kubernetes`);
  return o;
}

function podSpec(deploymentName: string): PodSpec & Record<string, unknown> {
  const d = find("Deployment", deploymentName) as K8sObject & {
    spec: { template: { spec: PodSpec & Record<string, unknown> } };
  };
  return d.spec.template.spec;
}

interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  profiles?: string[];
  user?: string;
  read_only?: boolean;
  cap_drop?: string[];
  env_file?: unknown;
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  volumes?: string[];
}

describe("manifest.yml (Slack app manifest)", () => {
  const m = parse(readRepoFile("manifest.yml")) as {
    _metadata: { major_version: number };
    display_information: { name: string; description: string; long_description: string };
    features: {
      bot_user: { display_name: string; always_online: boolean };
      slash_commands: { command: string; url: string; usage_hint: string; should_escape: boolean }[];
    };
    oauth_config: { scopes: { bot: string[] } };
    settings: {
      event_subscriptions: { request_url: string; bot_events: string[] };
      interactivity: { is_enabled: boolean; request_url: string };
      org_deploy_enabled: boolean;
      socket_mode_enabled: boolean;
      token_rotation_enabled: boolean;
    };
  };

  it("targets manifest schema 2 within Slack's length limits", () => {
    expect(m._metadata.major_version).toBe(2);
    // Limits from @slack/web-api's Manifest types (dist/types/request/manifest.d.ts).
    expect(m.display_information.name.length).toBeLessThanOrEqual(35);
    expect(m.display_information.description.length).toBeLessThanOrEqual(140);
    expect(m.display_information.long_description.length).toBeGreaterThanOrEqual(175);
    expect(m.display_information.long_description.length).toBeLessThanOrEqual(4000);
    expect(m.features.bot_user.display_name).toMatch(/^[a-z0-9._-]{1,80}$/);
    expect(m.features.bot_user.always_online).toBe(true);
  });

  it("declares /backstop with its usage hint, the events URL and no escaping", () => {
    expect(m.features.slash_commands).toHaveLength(1);
    const cmd = m.features.slash_commands[0]!;
    expect(cmd.command).toBe("/backstop");
    expect(cmd.usage_hint).toBe("triage <namespace>/<workload> [note] | status [run] | receipt <run> | help");
    expect(cmd.url).toBe("https://backstop.example.com/slack/events");
    expect(cmd.should_escape).toBe(false);
  });

  it("turns interactivity on, subscribes to app_mention and uses Socket Mode", () => {
    expect(m.settings.interactivity).toEqual({
      is_enabled: true,
      request_url: "https://backstop.example.com/slack/events",
    });
    expect(m.settings.event_subscriptions.bot_events).toEqual(["app_mention"]);
    expect(m.settings.socket_mode_enabled).toBe(true);
    expect(m.settings.org_deploy_enabled).toBe(false);
    expect(m.settings.token_rotation_enabled).toBe(false);
  });

  it("asks for exactly the bot scopes Backstop uses", () => {
    expect([...m.oauth_config.scopes.bot].sort()).toEqual(
      ["app_mentions:read", "chat:write", "commands", "files:write", "usergroups:read", "users:read"].sort(),
    );
  });
});

describe("RBAC (deploy/kubernetes)", () => {
  it("the writer role grants only get/list/patch, and patch only on deployments and deployments/scale", () => {
    const role = find("ClusterRole", "backstop-write") as K8sObject & { rules: PolicyRule[] };
    expect(writerRoleViolations(role.rules)).toEqual([]);
    const patched = role.rules.filter((r) => r.verbs?.includes("patch")).flatMap((r) => r.resources ?? []);
    expect(patched.sort()).toEqual(["deployments", "deployments/scale"]);
    const all = role.rules.flatMap((r) => r.resources ?? []);
    expect(all).not.toContain("statefulsets");
    expect(role.rules.flatMap((r) => r.verbs ?? [])).not.toContain("delete");
  });

  it("the writer checker catches delete, statefulsets, wildcards and patch on ReplicaSets", () => {
    expect(
      writerRoleViolations([{ apiGroups: ["apps"], resources: ["deployments"], verbs: ["delete"] }]),
    ).toEqual(["rule 0: verb delete"]);
    expect(
      writerRoleViolations([{ apiGroups: ["apps"], resources: ["statefulsets"], verbs: ["patch"] }]),
    ).toEqual(["rule 0: resource statefulsets", "rule 0: patch on statefulsets"]);
    expect(
      writerRoleViolations([{ apiGroups: ["*"], resources: ["*"], verbs: ["*"] }]).length,
    ).toBeGreaterThan(2);
    expect(
      writerRoleViolations([{ apiGroups: ["apps"], resources: ["replicasets"], verbs: ["patch"] }]),
    ).toEqual(["rule 0: patch on replicasets"]);
  });

  it("the writer role is bound per namespace, never by a ClusterRoleBinding", () => {
    const crbs = objects.filter((o) => o.kind === "ClusterRoleBinding") as (K8sObject & {
      roleRef: { name: string };
      subjects: { name: string }[];
    })[];
    expect(crbs.length).toBeGreaterThan(0);
    for (const b of crbs) {
      expect(b.roleRef.name).not.toBe("backstop-write");
      expect(b.subjects.map((s) => s.name)).not.toContain("backstop-writer");
    }
    // The commented example RoleBinding for `shop` is valid once uncommented.
    const text = readRepoFile("deploy", "kubernetes", "rbac-write.yaml");
    const all = text.split("\n");
    const example = all
      .slice(all.indexOf("# ---") + 1)
      .map((l) => l.slice(2))
      .join("\n");
    const rb = parse(example) as K8sObject & { roleRef: { kind: string; name: string }; subjects: unknown[] };
    expect(rb.kind).toBe("RoleBinding");
    expect(rb.metadata.namespace).toBe("shop");
    expect(rb.roleRef).toMatchObject({ kind: "ClusterRole", name: "backstop-write" });
    expect(rb.subjects).toEqual([{ kind: "ServiceAccount", name: "backstop-writer", namespace: "backstop" }]);
  });

  it("the read role has no write verb, no secrets, no configmaps, and is bound to backstop-infra only", () => {
    const role = find("ClusterRole", "backstop-read") as K8sObject & { rules: PolicyRule[] };
    expect(readRoleViolations(role.rules)).toEqual([]);
    const resources = role.rules.flatMap((r) => r.resources ?? []);
    for (const r of [
      "namespaces",
      "pods",
      "pods/log",
      "events",
      "deployments",
      "replicasets",
      "statefulsets",
    ]) {
      expect(resources).toContain(r);
    }
    const binding = find("ClusterRoleBinding", "backstop-read") as K8sObject & {
      subjects: { kind: string; name: string; namespace: string }[];
    };
    expect(binding.subjects).toEqual([
      { kind: "ServiceAccount", name: "backstop-infra", namespace: "backstop" },
    ]);
  });

  it("the read checker catches secrets, configmaps, write verbs and exec", () => {
    expect(readRoleViolations([{ apiGroups: [""], resources: ["secrets"], verbs: ["get"] }])).toEqual([
      "rule 0: resource secrets",
    ]);
    expect(
      readRoleViolations([{ apiGroups: [""], resources: ["configmaps"], verbs: ["list"] }]),
    ).toHaveLength(1);
    expect(
      readRoleViolations([{ apiGroups: ["apps"], resources: ["deployments"], verbs: ["patch"] }]),
    ).toEqual(["rule 0: verb patch"]);
    expect(readRoleViolations([{ apiGroups: [""], resources: ["pods/exec"], verbs: ["get"] }])).toEqual([
      "rule 0: subresource pods/exec",
    ]);
  });
});

describe("workloads (deploy/kubernetes)", () => {
  const deployments = objects.filter((o) => o.kind === "Deployment");

  it("has the bot, the worker and mcp-infra", () => {
    expect(deployments.map((d) => d.metadata.name).sort()).toEqual([
      "backstop-bot",
      "backstop-mcp-infra",
      "backstop-worker",
    ]);
    for (const o of objects.filter((x) => x.kind !== "ClusterRole" && x.kind !== "ClusterRoleBinding")) {
      if (o.kind !== "Namespace")
        expect(o.metadata.namespace, `${o.kind} ${o.metadata.name}`).toBe("backstop");
    }
  });

  it("every container runs as non-root with a read-only root filesystem, no capabilities, limits and probes", () => {
    for (const d of deployments) {
      expect(containerViolations(podSpec(d.metadata.name)), d.metadata.name).toEqual([]);
    }
  });

  it("the container checker catches root, a writable filesystem, kept capabilities and missing limits", () => {
    const bad: PodSpec = {
      containers: [{ name: "c", securityContext: { runAsUser: 0, capabilities: { add: ["NET_ADMIN"] } } }],
    };
    const v = containerViolations(bad);
    expect(v).toEqual(
      expect.arrayContaining([
        "c: runAsNonRoot is not true",
        "c: runAsUser 0",
        "c: root filesystem is writable",
        "c: allowPrivilegeEscalation is not false",
        "c: capabilities not dropped",
        "c: capabilities added",
        "c: no seccomp profile",
        "c: no cpu/memory requests",
        "c: no memory limit",
        "c: no readiness probe",
      ]),
    );
    expect(containerViolations({ containers: [] })).toEqual(["pod: no containers"]);
  });

  it("each part runs under its own ServiceAccount; only mcp-infra has the default token mounted", () => {
    expect(podSpec("backstop-mcp-infra")).toMatchObject({
      serviceAccountName: "backstop-infra",
      automountServiceAccountToken: true,
    });
    expect(podSpec("backstop-worker")).toMatchObject({
      serviceAccountName: "backstop-writer",
      automountServiceAccountToken: false,
    });
    expect(podSpec("backstop-bot")).toMatchObject({
      serviceAccountName: "backstop-bot",
      automountServiceAccountToken: false,
    });
  });

  it("mcp-infra serves on 8790 behind a Service, reachable only from the worker and the bot's readiness check", () => {
    const c = (podSpec("backstop-mcp-infra").containers ?? [])[0] as unknown as { args: string[] };
    expect(c.args).toEqual(["mcp-infra", "--host", "0.0.0.0", "--port", "8790"]);
    const svc = find("Service", "backstop-mcp-infra") as K8sObject & { spec: { ports: { port: number }[] } };
    expect(svc.spec.ports[0]?.port).toBe(8790);
    const np = find("NetworkPolicy", "backstop-mcp-infra") as K8sObject & {
      spec: { ingress: { from: { podSelector: { matchLabels: Record<string, string> } }[] }[] };
    };
    expect(
      np.spec.ingress[0]?.from.map((f) => f.podSelector.matchLabels["app.kubernetes.io/component"]).sort(),
    ).toEqual(["bot", "worker"]);
    const config = find("ConfigMap", "backstop-config") as K8sObject & { data: Record<string, string> };
    expect(config.data.BACKSTOP_INFRA_MCP_URL).toBe("http://backstop-mcp-infra.backstop.svc:8790/mcp");
  });

  it("the bot's Service and Ingress route only /slack/events from outside", () => {
    const ing = find("Ingress", "backstop-slack") as K8sObject & {
      spec: { rules: { http: { paths: { path: string; backend: { service: { name: string } } }[] } }[] };
    };
    const paths = ing.spec.rules.flatMap((r) => r.http.paths);
    expect(paths.map((p) => p.path)).toEqual(["/slack/events"]);
    expect(paths[0]?.backend.service.name).toBe("backstop-bot");
  });

  /** The environment a container gets: envFrom ConfigMaps, then env (value, ConfigMap and Secret refs). */
  function containerEnv(deploymentName: string): Record<string, string> {
    type Ref = { name: string; key: string; optional?: boolean };
    const c = (podSpec(deploymentName).containers ?? [])[0] as unknown as {
      envFrom?: { configMapRef: { name: string } }[];
      env?: { name: string; value?: string; valueFrom?: { configMapKeyRef?: Ref; secretKeyRef?: Ref } }[];
    };
    const data = (kind: string, name: string): Record<string, string> => {
      const o = find(kind, name) as K8sObject & {
        data?: Record<string, string>;
        stringData?: Record<string, string>;
      };
      return o.data ?? o.stringData ?? {};
    };
    const env: Record<string, string> = {};
    for (const f of c.envFrom ?? []) Object.assign(env, data("ConfigMap", f.configMapRef.name));
    for (const e of c.env ?? []) {
      const cm = e.valueFrom?.configMapKeyRef;
      const sec = e.valueFrom?.secretKeyRef;
      const ref = cm ?? sec;
      const value = e.value ?? (ref ? data(cm ? "ConfigMap" : "Secret", ref.name)[ref.key] : undefined);
      if (value === undefined && !ref?.optional)
        throw new Error(`${deploymentName}: ${e.name} resolves to nothing`);
      if (value !== undefined) env[e.name] = value;
    }
    return env;
  }

  it("the bot and the worker get every setting they check at start", () => {
    for (const name of ["backstop-bot", "backstop-worker"]) {
      const config = loadConfig(containerEnv(name));
      expect(() => requireSlack(config), name).not.toThrow();
      expect(config.redisUrl).toMatch(/^redis:\/\//);
    }
    const worker = loadConfig(containerEnv("backstop-worker"));
    expect(worker.models.targets.length).toBeGreaterThan(0);
    expect(worker.mcp.infraUrl).toBe("http://backstop-mcp-infra.backstop.svc:8790/mcp");
    expect(worker.writerKubeconfig).toBe("/etc/backstop/writer/kubeconfig");
    expect(worker.policyFile).toBe("/etc/backstop/policy/policy.yaml");
    expect(worker.receipts.keyFile).toBe("/etc/backstop/keys/receipt-ed25519.pem");
    // The bot holds neither the writer credential nor the signing key nor a model key.
    const bot = containerEnv("backstop-bot");
    for (const k of ["BACKSTOP_WRITER_KUBECONFIG", "BACKSTOP_RECEIPT_KEY_FILE", "OPENAI_API_KEY"]) {
      expect(bot[k], k).toBeUndefined();
    }
    // mcp-infra holds no Slack or model secret at all.
    expect(Object.keys(containerEnv("backstop-mcp-infra")).sort()).toEqual([
      "BACKSTOP_PROMETHEUS_URL",
      "LOG_LEVEL",
    ]);
  });

  it("the Secret example holds placeholders, not values", () => {
    for (const s of objects.filter((o) => o.kind === "Secret") as (K8sObject & {
      stringData: Record<string, string>;
    })[]) {
      for (const [k, v] of Object.entries(s.stringData)) {
        if (k === "REDIS_URL") expect(v).toMatch(/^redis:\/\/[^@]*$/);
        else expect(v, k).toMatch(/^REPLACE_ME/);
      }
    }
  });

  it("the policy ConfigMap is a valid policy that also protects Backstop's namespace", () => {
    const cm = find("ConfigMap", "backstop-policy") as K8sObject & { data: Record<string, string> };
    const policy = parsePolicy(cm.data["policy.yaml"]!, "backstop-policy");
    expect(policy.protected.namespaces).toContain("backstop");
    expect(policy.protect_statefulsets).toBe(true);
    // A typo fails closed instead of silently weakening the policy.
    expect(() => parsePolicy(`${cm.data["policy.yaml"]}\nprotect_statefulset: false\n`)).toThrow();
  });
});

describe("the worker's writer credential", () => {
  let server: Server;
  let baseUrl = "";
  const seen: IncomingHttpHeaders[] = [];
  let dir = "";

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "backstop-deploy-"));
    server = createServer((req, res) => {
      seen.push(req.headers);
      res.setHeader("content-type", "application/json");
      res.end(
        JSON.stringify({
          apiVersion: "apps/v1",
          kind: "Deployment",
          metadata: { name: "checkout", namespace: "shop", resourceVersion: "7" },
          spec: { replicas: 2 },
        }),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  it("mounts the kubeconfig, the projected token and the CA where the kubeconfig and env say", () => {
    const pod = podSpec("backstop-worker") as unknown as {
      volumes: {
        name: string;
        configMap?: { name: string };
        projected?: { sources: { serviceAccountToken?: { path: string }; configMap?: { name: string } }[] };
      }[];
      containers: {
        env: { name: string; value?: string }[];
        volumeMounts: { name: string; mountPath: string }[];
      }[];
    };
    const c = pod.containers[0]!;
    const mountOf = (vol: string) => c.volumeMounts.find((m) => m.name === vol)?.mountPath;
    const kcVolume = pod.volumes.find((v) => v.configMap?.name === "backstop-writer-kubeconfig");
    expect(kcVolume).toBeDefined();
    const env = Object.fromEntries(c.env.map((e) => [e.name, e.value]));
    expect(env.BACKSTOP_WRITER_KUBECONFIG).toBe(`${mountOf(kcVolume!.name)}/kubeconfig`);

    const projected = pod.volumes.find((v) => v.projected)!;
    const tokenPath = `${mountOf(projected.name)}/${projected.projected!.sources.find((s) => s.serviceAccountToken)!.serviceAccountToken!.path}`;
    expect(projected.projected!.sources.some((s) => s.configMap?.name === "kube-root-ca.crt")).toBe(true);

    const cm = find("ConfigMap", "backstop-writer-kubeconfig") as K8sObject & {
      data: { kubeconfig: string };
    };
    const kc = parse(cm.data.kubeconfig) as {
      clusters: { cluster: { server: string; "certificate-authority": string } }[];
      users: { user: { "auth-provider": { config: { tokenFile: string } } } }[];
    };
    expect(kc.users[0]?.user["auth-provider"].config.tokenFile).toBe(tokenPath);
    expect(kc.clusters[0]?.cluster["certificate-authority"]).toBe(`${mountOf(projected.name)}/ca.crt`);
    expect(kc.clusters[0]?.cluster.server).toBe("https://kubernetes.default.svc");
  });

  it("client-node authenticates with the projected token through that kubeconfig", async () => {
    const cm = find("ConfigMap", "backstop-writer-kubeconfig") as K8sObject & {
      data: { kubeconfig: string };
    };
    const tokenFile = join(dir, "token");
    writeFileSync(tokenFile, "projected-token-abc");
    // Same kubeconfig, pointed at a loopback API server and a temporary token file.
    const doc = parseDocument(cm.data.kubeconfig);
    doc.setIn(["clusters", 0, "cluster", "server"], baseUrl);
    doc.deleteIn(["clusters", 0, "cluster", "certificate-authority"]);
    doc.setIn(["clusters", 0, "cluster", "insecure-skip-tls-verify"], true); // plain HTTP on loopback
    doc.setIn(["users", 0, "user", "auth-provider", "config", "tokenFile"], tokenFile);
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromString(doc.toString());
    const apps = kubeConfig.makeApiClient(AppsV1Api);
    const dep = await apps.readNamespacedDeployment({ namespace: "shop", name: "checkout" });
    expect(dep.metadata?.resourceVersion).toBe("7");
    expect(seen.at(-1)?.authorization).toBe("Bearer projected-token-abc");
  });

  it("a kubeconfig whose token file is missing fails the request instead of going anonymous", async () => {
    const cm = find("ConfigMap", "backstop-writer-kubeconfig") as K8sObject & {
      data: { kubeconfig: string };
    };
    const doc = parseDocument(cm.data.kubeconfig);
    doc.setIn(["clusters", 0, "cluster", "server"], baseUrl);
    doc.deleteIn(["clusters", 0, "cluster", "certificate-authority"]);
    doc.setIn(["clusters", 0, "cluster", "insecure-skip-tls-verify"], true); // plain HTTP on loopback
    doc.setIn(["users", 0, "user", "auth-provider", "config", "tokenFile"], join(dir, "missing"));
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromString(doc.toString());
    const before = seen.length;
    await expect(
      kubeConfig.makeApiClient(AppsV1Api).readNamespacedDeployment({ namespace: "shop", name: "checkout" }),
    ).rejects.toThrow(/ENOENT/);
    expect(seen.length).toBe(before);
  });
});

describe("docker-compose.yml", () => {
  const compose = parseDocument(readRepoFile("docker-compose.yml"), { merge: true }).toJS() as {
    services: Record<string, ComposeService>;
    volumes: Record<string, unknown>;
  };
  const s = compose.services;

  it("runs Redis with AOF on, noeviction, a volume and a redis-cli ping healthcheck", () => {
    const redis = s.redis!;
    expect(redis.image).toMatch(/^redis:7/);
    const cmd = redis.command!.join(" ");
    expect(cmd).toContain("--appendonly yes");
    expect(cmd).toContain("--maxmemory-policy noeviction");
    expect(redis.volumes).toEqual(["redis-data:/data"]);
    expect(redis.healthcheck!.test).toEqual(["CMD", "redis-cli", "ping"]);
    expect(redis.profiles).toBeUndefined();
  });

  it("builds bot, worker and mcp-infra from deploy/Dockerfile, hardened, in the live profile", () => {
    expect(s.bot!.command).toEqual(["serve"]);
    expect(s.worker!.command).toEqual(["worker"]);
    expect(s["mcp-infra"]!.command).toEqual(["mcp-infra", "--host", "0.0.0.0", "--port", "8790"]);
    for (const name of ["bot", "worker", "mcp-infra", "sandbox"]) {
      const svc = s[name]!;
      // The demo has its own image: the production one is built without sandbox/.
      const dockerfile = name === "sandbox" ? "deploy/sandbox.Dockerfile" : "deploy/Dockerfile";
      expect(svc.build, name).toEqual({ context: ".", dockerfile });
      expect(svc.user, name).toBe("1000:1000");
      expect(svc.read_only, name).toBe(true);
      expect(svc.cap_drop, name).toEqual(["ALL"]);
    }
    for (const name of ["bot", "worker", "mcp-infra"]) expect(s[name]!.profiles, name).toEqual(["live"]);
    expect(s.bot!.depends_on!.redis).toEqual({ condition: "service_healthy" });
    expect(s.worker!.depends_on!.redis).toEqual({ condition: "service_healthy" });
    expect(s.worker!.environment!.BACKSTOP_INFRA_MCP_URL).toBe("http://mcp-infra:8790/mcp");
  });

  it("keeps secrets away from mcp-infra and the writer credential away from everyone but the worker", () => {
    expect(s["mcp-infra"]!.env_file).toBeUndefined();
    const mounts = (name: string) => (s[name]!.volumes ?? []).join("\n");
    expect(mounts("worker")).toContain("writer.kubeconfig");
    for (const name of ["bot", "mcp-infra", "sandbox"]) expect(mounts(name), name).not.toContain("writer");
  });

  it("has a sandbox profile with the demo alone, needing no .env", () => {
    const inSandbox = Object.entries(s).filter(([, v]) => v.profiles?.includes("sandbox"));
    expect(inSandbox.map(([k]) => k)).toEqual(["sandbox"]);
    expect(s.sandbox!.command?.[0]).toBe("demo");
    // The console listens on all interfaces inside the container, published on the host's loopback only.
    expect(s.sandbox!.command).toEqual(["demo", "--host", "0.0.0.0", "--port", "8787"]);
    expect((s.sandbox as { ports?: string[] }).ports).toEqual(["127.0.0.1:8787:8787"]);
    expect(s.sandbox!.env_file).toBeUndefined();
    expect(s.sandbox!.depends_on).toEqual({ redis: { condition: "service_healthy" } });
  });
});

describe("deploy/.env.example", () => {
  const env = parseEnvFile(readRepoFile("deploy", ".env.example"));

  it("is a configuration src/config.ts accepts", () => {
    const config = loadConfig({ ...env });
    expect(config.slack.mode).toBe("socket");
    expect(config.redisUrl).toBe("redis://redis:6379");
    expect(config.worker.concurrency).toBe(2);
    expect(config.approvals.users).toEqual(["U0123456789", "U0987654321"]);
    expect(config.models.targets[0]?.name).toBe("primary");
    expect(config.slack.port).toBe(3000);
  });

  it("documents every variable the compose file and the Kubernetes manifests set", () => {
    const compose = parse(readRepoFile("docker-compose.yml")) as { services: Record<string, ComposeService> };
    const names = new Set<string>();
    for (const svc of Object.values(compose.services))
      for (const k of Object.keys(svc.environment ?? {})) names.add(k);
    const config = find("ConfigMap", "backstop-config") as K8sObject & { data: Record<string, string> };
    for (const k of Object.keys(config.data)) names.add(k);
    for (const d of objects.filter((o) => o.kind === "Deployment")) {
      for (const c of podSpec(d.metadata.name).containers as unknown as { env?: { name: string }[] }[]) {
        for (const e of c.env ?? []) names.add(e.name);
      }
    }
    const text = readRepoFile("deploy", ".env.example");
    names.delete("HOME"); // the process's own, not Backstop configuration
    for (const n of names) expect(text, n).toMatch(new RegExp(`^(# )?${n}=`, "m"));
  });

  it("an empty URL is a bad value, which is why unset variables are commented out", () => {
    expect(() => loadConfig({ ...env, BACKSTOP_PROMETHEUS_URL: "" })).toThrow(/BACKSTOP_PROMETHEUS_URL/);
    expect(() => parseEnvFile("NOT A LINE")).toThrow(/expected KEY=VALUE/);
  });
});

describe("deploy/Dockerfile and .dockerignore", () => {
  const dockerfile = readRepoFile("deploy", "Dockerfile");
  const lines = dockerfile.split("\n").filter((l) => l.trim() !== "" && !l.startsWith("#"));

  it("is multi-stage on node bookworm-slim, runs as a non-root user with the backstop entrypoint", () => {
    expect(dockerfile).toMatch(/^ARG NODE_VERSION=(20|22)$/m);
    const froms = lines.filter((l) => l.startsWith("FROM "));
    const base = "FROM node:$" + "{NODE_VERSION}-bookworm-slim";
    expect(froms).toEqual([`${base} AS build`, `${base} AS runtime`]);
    expect(dockerfile).toMatch(/^RUN npm ci\b/m);
    // The product build: no sandbox, no console (`npm run build` would compile both).
    expect(lines.join("\n")).toMatch(/^RUN npm run build:product\b/m);
    expect(lines.join("\n")).not.toMatch(/npm run build(?!:product)/);
    expect(readRepoFile("tsconfig.product.json")).not.toContain("sandbox");
    expect(dockerfile).toContain("npm prune --omit=dev");
    const user = lines.filter((l) => l.startsWith("USER ")).at(-1);
    expect(user).toMatch(/^USER (node|1000(:1000)?)$/);
    expect(lines.at(-2)).toBe('ENTRYPOINT ["node", "bin/backstop.js"]');
    expect(lines.at(-1)).toBe('CMD ["serve"]');
  });

  it("copies into the runtime image only paths that exist or the build produces", () => {
    const copied = lines
      .filter((l) => l.startsWith("COPY --from=build"))
      .flatMap((l) => l.split(/\s+/).slice(2, -1))
      .map((p) => p.replace(/^\/app\//, ""));
    expect(copied).toEqual(
      expect.arrayContaining(["dist", "node_modules", "bin", "scenarios", "prompts", "policy"]),
    );
    const built = new Set(["dist", "node_modules"]);
    for (const p of copied) {
      if (!built.has(p)) expect(existsSync(resolveInPackage(p)), p).toBe(true);
    }
  });

  it(".dockerignore keeps local state and credentials out, but not the sources", () => {
    const ignored = readRepoFile(".dockerignore")
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l !== "" && !l.startsWith("#"));
    for (const p of ["node_modules", "dist", ".git", ".backstop", "test-results", ".env", "sandbox"])
      expect(ignored).toContain(p);
    for (const p of ["src", "scenarios", "prompts", "policy", "bin", "package.json", "package-lock.json"]) {
      expect(ignored).not.toContain(p);
    }
  });

  it("the demo image (deploy/sandbox.Dockerfile) builds everything, with an ignore file that keeps sandbox/", () => {
    const sandboxfile = readRepoFile("deploy", "sandbox.Dockerfile");
    expect(sandboxfile).toMatch(/^RUN npm run build \\$/m);
    expect(sandboxfile).toMatch(/^CMD \["demo", "--host", "0.0.0.0", "--port", "8787"\]$/m);
    const ignored = readRepoFile("deploy", "sandbox.Dockerfile.dockerignore")
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l !== "" && !l.startsWith("#"));
    for (const p of ["node_modules", "dist", ".git", ".env", "*.pem"]) expect(ignored).toContain(p);
    expect(ignored).not.toContain("sandbox");
  });
});
