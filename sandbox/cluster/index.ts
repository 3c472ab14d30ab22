import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { KubeConfig } from "@kubernetes/client-node";
import { stringify } from "yaml";
import { type Scenario, ScenarioSchema } from "../../scenarios/schema.js";
import { BackstopError } from "../../src/errors.js";
import { childLogger } from "../../src/log.js";
import { FaultInjector } from "./faults.js";
import type { SandboxUser } from "./rbac.js";
import { createHandler, type ServerState } from "./server.js";
import { type ClusterSnapshot, type Mutation, World } from "./world.js";

export type { SandboxUser } from "./rbac.js";
export { PROTECTED_LABEL, USER_NAMES } from "./rbac.js";
export type { ClusterSnapshot, Mutation, WorkloadSnapshot } from "./world.js";

const log = childLogger("sandbox.cluster");

/**
 * Options for {@link startSandboxCluster}. `scenario` is a parsed {@link Scenario}; the server listens on
 * `host` (default `127.0.0.1`) and `port` (default 0: an ephemeral port).
 */
export interface SandboxClusterOptions {
  scenario: Scenario;
  host?: string;
  port?: number;
}

/**
 * A running sandbox Kubernetes API server plus Prometheus query endpoint on loopback, built from a scenario.
 * `@kubernetes/client-node` 1.4 runs unchanged against {@link SandboxCluster.kubeConfig}.
 */
export interface SandboxCluster {
  /** `http://127.0.0.1:PORT`: the API server, and Prometheus at `/api/v1/query`. */
  url: string;
  /** The bearer token of each user (random per start, kept across {@link SandboxCluster.reset}). */
  tokens: Record<SandboxUser, string>;
  /** A client-node KubeConfig pointing at `url` with that user's bearer token (`skipTLSVerify`, plain HTTP). */
  kubeConfig(user: SandboxUser): KubeConfig;
  /** The same as a kubeconfig file (YAML), e.g. for `backstop sandbox`. */
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
function kubeconfigDoc(url: string, user: SandboxUser, token: string) {
  return {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "backstop-sandbox", cluster: { server: url, "insecure-skip-tls-verify": true } }],
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
  const server = createServer(createHandler(state));
  const host = opts.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err) =>
      reject(
        new BackstopError(
          "sandbox.cluster.listen",
          `cannot listen on ${host}:${opts.port ?? 0}: ${err.message}`,
          { cause: err },
        ),
      ),
    );
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  log.debug({ url, scenario: scenario.name }, "sandbox cluster listening");

  return {
    url,
    tokens,
    kubeConfig(user) {
      const kc = new KubeConfig();
      kc.loadFromString(stringify(kubeconfigDoc(url, user, tokens[user])));
      return kc;
    },
    kubeconfigYaml(user) {
      return stringify(kubeconfigDoc(url, user, tokens[user]));
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
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
