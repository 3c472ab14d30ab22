import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { KubeConfig } from "@kubernetes/client-node";
import { stringify } from "yaml";
import { type Scenario, ScenarioSchema } from "../../scenarios/schema.js";
import { BackstopError } from "../../src/errors.js";
import { childLogger } from "../../src/log.js";
import { FaultInjector } from "./faults.js";
import type { SandboxUser } from "./rbac.js";
import { createHandler, type ServerState } from "./server.js";
import { generateSandboxTls } from "./tls.js";
import { type ClusterSnapshot, type Mutation, World } from "./world.js";

export { PROTECTED_LABEL } from "../../src/contracts/k8s.js";
export type { SandboxUser } from "./rbac.js";
export { USER_NAMES } from "./rbac.js";
export type { ClusterSnapshot, Mutation, WorkloadSnapshot } from "./world.js";

const log = childLogger("sandbox.cluster");

/** How long an idle keep-alive connection stays open, ms (kube-apiserver's `IdleTimeout` is 90 s). */
const KEEP_ALIVE_MS = 90_000;

/**
 * Options for {@link startSandboxCluster}. `scenario` is a parsed {@link Scenario}; the server listens on
 * `host` (default `127.0.0.1`): plain HTTP on `port` and TLS on `httpsPort` (both default 0: ephemeral).
 */
export interface SandboxClusterOptions {
  scenario: Scenario;
  host?: string;
  port?: number;
  /** The HTTPS listener's port (default 0: an ephemeral port). */
  httpsPort?: number;
}

/**
 * A running sandbox Kubernetes API server plus Prometheus query endpoint on loopback, built from a scenario.
 * `@kubernetes/client-node` 1.4 runs unchanged against {@link SandboxCluster.kubeConfig}.
 */
export interface SandboxCluster {
  /** `http://127.0.0.1:PORT`: the API server over plain HTTP, and Prometheus at `/api/v1/query`. */
  url: string;
  /**
   * `https://127.0.0.1:PORT2`: the same API server over TLS with a certificate generated at start; the
   * kubeconfigs point here (kubectl sends a bearer token only over TLS).
   */
  httpsUrl: string;
  /** The CA certificate (PEM) that signed the HTTPS server's certificate; it is in every kubeconfig. */
  caPem: string;
  /** The bearer token of each user (random per start, kept across {@link SandboxCluster.reset}). */
  tokens: Record<SandboxUser, string>;
  /** A client-node KubeConfig pointing at `httpsUrl` with that user's bearer token, trusting the sandbox CA. */
  kubeConfig(user: SandboxUser): KubeConfig;
  /** The same as a kubeconfig file (YAML), e.g. for `backstop sandbox` and `kubectl --kubeconfig`. */
  kubeconfigYaml(user: SandboxUser): string;
  /** Every write that changed state (not dry-runs), in order. */
  mutations(): Mutation[];
  /** A fresh world from `scenario`; clears the faults' counters and the mutation log. @throws BackstopError `sandbox.cluster.scenario`. */
  reset(scenario: Scenario): void;
  /** Namespaces and workloads (kind, ns, name, replicas desired/ready, revision, image, sha, health), for a UI. */
  snapshot(): ClusterSnapshot;
  /** Resolves when no rollout is in progress (for tests). */
  settle(): Promise<void>;
  /** Stops listening, drops connections and wakes any injected hang. */
  close(): Promise<void>;
}

function checkScenario(scenario: Scenario): Scenario {
  const parsed = ScenarioSchema.safeParse(scenario);
  if (!parsed.success) {
    throw new BackstopError(
      "sandbox.cluster.scenario",
      `invalid scenario for the sandbox cluster: ${parsed.error.message}`,
      {
        cause: parsed.error,
      },
    );
  }
  return scenario;
}

/** The kubeconfig document (https://kubernetes.io/docs/concepts/configuration/organize-cluster-access-kubeconfig/) for one user. */
function kubeconfigDoc(url: string, caPem: string, user: SandboxUser, token: string) {
  return {
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      {
        name: "backstop-sandbox",
        cluster: {
          server: url,
          "certificate-authority-data": Buffer.from(caPem, "utf8").toString("base64"),
        },
      },
    ],
    users: [{ name: `sandbox-${user}`, user: { token } }],
    contexts: [
      { name: `sandbox-${user}`, context: { cluster: "backstop-sandbox", user: `sandbox-${user}` } },
    ],
    "current-context": `sandbox-${user}`,
    preferences: {},
  };
}

/**
 * Starts the sandbox cluster for `opts.scenario` on loopback.
 * @throws BackstopError `sandbox.cluster.scenario` for a scenario that fails `ScenarioSchema`,
 *   `sandbox.cluster.listen` when the port cannot be bound.
 */
export async function startSandboxCluster(opts: SandboxClusterOptions): Promise<SandboxCluster> {
  const scenario = checkScenario(opts.scenario);
  const tokens: Record<SandboxUser, string> = {
    readonly: `sandbox-readonly-${randomBytes(16).toString("hex")}`,
    writer: `sandbox-writer-${randomBytes(16).toString("hex")}`,
    admin: `sandbox-admin-${randomBytes(16).toString("hex")}`,
  };
  const wakers = new Set<() => void>();
  let closed = false;
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      if (closed) return resolve();
      const done = () => {
        clearTimeout(timer);
        wakers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      wakers.add(done);
    });
  const state: ServerState = {
    world: new World(scenario),
    faults: new FaultInjector(scenario.faults.cluster),
    users: new Map(Object.entries(tokens).map(([u, t]) => [t, u as SandboxUser])),
    sleep,
  };
  const host = opts.host ?? "127.0.0.1";
  const tls = await generateSandboxTls(host);
  const handler = createHandler(state);
  // Keep-alive as kube-apiserver serves it (idle connections kept 90 s), so clients reuse connections
  // (and TLS sessions) instead of paying a handshake per request; Node's default is 5 s.
  const server = createServer({ keepAliveTimeout: KEEP_ALIVE_MS }, handler);
  const secure = createHttpsServer(
    { cert: tls.certPem, key: tls.keyPem, keepAliveTimeout: KEEP_ALIVE_MS },
    handler,
  );
  const listen = (srv: typeof server | typeof secure, port: number) =>
    new Promise<number>((resolve, reject) => {
      srv.once("error", (err) =>
        reject(
          new BackstopError("sandbox.cluster.listen", `cannot listen on ${host}:${port}: ${err.message}`, {
            cause: err,
          }),
        ),
      );
      srv.listen(port, host, () => resolve((srv.address() as AddressInfo).port));
    });
  const hostPart = host.includes(":") ? `[${host}]` : host;
  const url = `http://${hostPart}:${await listen(server, opts.port ?? 0)}`;
  let httpsUrl: string;
  try {
    httpsUrl = `https://${hostPart}:${await listen(secure, opts.httpsPort ?? 0)}`;
  } catch (err) {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    throw err;
  }
  log.debug({ url, httpsUrl, scenario: scenario.name }, "sandbox cluster listening");

  return {
    url,
    httpsUrl,
    caPem: tls.caPem,
    tokens,
    kubeConfig(user) {
      const kc = new KubeConfig();
      kc.loadFromString(stringify(kubeconfigDoc(httpsUrl, tls.caPem, user, tokens[user])));
      return kc;
    },
    kubeconfigYaml(user) {
      return stringify(kubeconfigDoc(httpsUrl, tls.caPem, user, tokens[user]));
    },
    mutations() {
      return state.world.mutations();
    },
    reset(next) {
      checkScenario(next);
      state.world = new World(next);
      state.faults = new FaultInjector(next.faults.cluster);
    },
    snapshot() {
      state.world.reconcile();
      return state.world.snapshot();
    },
    async settle() {
      for (;;) {
        state.world.reconcile();
        if (!state.world.rolling()) return;
        await new Promise((r) => setTimeout(r, state.world.rolloutRemainingMs() + 5));
      }
    },
    async close() {
      closed = true;
      for (const wake of [...wakers]) wake();
      await Promise.all(
        [server, secure].map(
          (srv) =>
            new Promise<void>((resolve) => {
              srv.close(() => resolve());
              srv.closeAllConnections();
            }),
        ),
      );
    },
  };
}
