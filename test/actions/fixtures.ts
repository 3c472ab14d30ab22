import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";
import { KubeConfig } from "@kubernetes/client-node";
import { type Scenario, ScenarioSchema } from "../../scenarios/schema.js";

/** The diagnosis every fixture scenario uses as ground truth (the write path never reads it). */
const truthDiagnosis = {
  hypothesis: "deploy e4f5a6b of checkout crashes on start",
  suspected_resource: "shop/Deployment/checkout",
  suspected_deploy_sha: "e4f5a6b",
  confidence: 0.9,
  evidence: ["CrashLoopBackOff"],
  recommended_action: {
    type: "rollback",
    namespace: "shop",
    kind: "Deployment",
    name: "checkout",
    to_sha: "a1b2c3d",
  },
};

/**
 * A small world: `shop/checkout` (2 replicas, bad deploy e4f5a6b crashlooping on top of good a1b2c3d),
 * `shop/cart` (healthy, two revisions), `payments/ledger` in a protected namespace, `data/postgres`
 * (a StatefulSet). Rollouts take 0.2 s.
 */
export function scenario(faults: unknown[] = [], overrides: Record<string, unknown> = {}): Scenario {
  return ScenarioSchema.parse({
    name: "actions-test",
    title: "write path test world",
    description: "a bad deploy of checkout",
    fires: "write path",
    cluster: {
      rollout_seconds: 0.2,
      namespaces: [
        { name: "shop" },
        { name: "payments", labels: { "backstop.dev/protected": "true" } },
        { name: "data" },
      ],
      workloads: [
        {
          kind: "Deployment",
          namespace: "shop",
          name: "checkout",
          replicas: 2,
          image: "ghcr.io/acme/checkout",
          history: [
            { sha: "a1b2c3d", minutes_ago: 120, health: { state: "healthy" } },
            { sha: "e4f5a6b", minutes_ago: 10, health: { state: "crashloop", logs: ["panic: nil map"] } },
          ],
        },
        {
          kind: "Deployment",
          namespace: "shop",
          name: "cart",
          replicas: 2,
          image: "ghcr.io/acme/cart",
          history: [
            { sha: "c0ffee1", minutes_ago: 300, health: { state: "healthy" } },
            { sha: "c0ffee2", minutes_ago: 200, health: { state: "healthy" } },
          ],
        },
        {
          kind: "Deployment",
          namespace: "payments",
          name: "ledger",
          replicas: 1,
          image: "ghcr.io/acme/ledger",
          history: [
            { sha: "1edge01", minutes_ago: 500, health: { state: "healthy" } },
            { sha: "1edge02", minutes_ago: 400, health: { state: "healthy" } },
          ],
        },
        {
          kind: "StatefulSet",
          namespace: "data",
          name: "postgres",
          replicas: 1,
          image: "docker.io/library/postgres",
          history: [{ sha: "16.4", minutes_ago: 1000, health: { state: "healthy" } }],
        },
      ],
    },
    faults: { cluster: faults },
    onset_minutes_ago: 10,
    alert: {
      version: "4",
      groupKey: '{}:{alertname="CheckoutDown"}',
      status: "firing",
      receiver: "backstop",
      alerts: [
        {
          status: "firing",
          labels: { alertname: "CheckoutDown", namespace: "shop", deployment: "checkout" },
          fingerprint: "abc123",
        },
      ],
    },
    truth: { bad_sha: "e4f5a6b", diagnosis: truthDiagnosis },
    models: {
      chain: [{ name: "primary", model: "m1", tier: 1, input_usd_per_mtok: 1, output_usd_per_mtok: 1 }],
      judge: { name: "judge", model: "j1", tier: 1, input_usd_per_mtok: 1, output_usd_per_mtok: 1 },
    },
    expect: { backstop: { outcome: "resolved" }, naive: { outcome: "damaged" } },
    ...overrides,
  });
}

/** A kubeconfig for `server` with a bearer token (what the sandbox hands out, built by hand). */
export function kubeConfigFor(server: string, token: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "c", server, skipTLSVerify: true }],
    users: [{ name: "u", token }],
    contexts: [{ name: "ctx", cluster: "c", user: "u" }],
    currentContext: "ctx",
  });
  return kc;
}

/**
 * A plain HTTP proxy on 127.0.0.1:0 in front of `target`. `beforeForward` runs (awaited) before a
 * request is passed on — the place to make a concurrent change between a client's read and its write.
 */
export async function startProxy(
  target: string,
  beforeForward: (req: IncomingMessage) => Promise<void>,
): Promise<{ url: string; close: () => Promise<void> }> {
  const t = new URL(target);
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      void beforeForward(req)
        .then(() => {
          const up = httpRequest(
            { host: t.hostname, port: t.port, method: req.method, path: req.url, headers: req.headers },
            (upRes) => {
              res.writeHead(upRes.statusCode ?? 502, upRes.headers);
              upRes.pipe(res);
            },
          );
          up.on("error", (err) => {
            res.writeHead(502);
            res.end(String(err));
          });
          up.end(Buffer.concat(chunks));
        })
        .catch((err: unknown) => {
          res.writeHead(500);
          res.end(String(err));
        });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
