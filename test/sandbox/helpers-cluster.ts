import { ApiException } from "@kubernetes/client-node";
import { type Scenario, ScenarioSchema } from "../../scenarios/schema.js";

/** Shas used by the test scenario. */
export const SHA = { good: "a1b2c3d", bad: "e4f5a6b", older: "0f0f0f0" };

/** A small scenario: shop (checkout crashlooping on its last deploy, cart healthy, search error, slow api, oom worker) and a protected data namespace. */
export function clusterScenario(overrides: { faults?: unknown[]; rollout_seconds?: number } = {}): Scenario {
  const diagnosis = {
    hypothesis: "deploy e4f5a6b crashes checkout",
    suspected_resource: "shop/Deployment/checkout",
    suspected_deploy_sha: SHA.bad,
    confidence: 0.9,
    evidence: ["CrashLoopBackOff"],
    recommended_action: {
      type: "rollback",
      namespace: "shop",
      kind: "Deployment",
      name: "checkout",
      to_sha: SHA.good,
    },
  };
  const target = { name: "t1", model: "m1", tier: 1, input_usd_per_mtok: 1, output_usd_per_mtok: 2 };
  return ScenarioSchema.parse({
    name: "cluster-test",
    title: "cluster test",
    description: "sandbox cluster test world",
    fires: "none",
    cluster: {
      rollout_seconds: overrides.rollout_seconds ?? 0.2,
      namespaces: [
        { name: "shop", labels: { team: "shop" } },
        { name: "data", labels: { "backstop.dev/protected": "true" } },
      ],
      workloads: [
        {
          kind: "Deployment",
          namespace: "shop",
          name: "checkout",
          replicas: 3,
          image: "ghcr.io/acme/checkout",
          history: [
            { sha: SHA.older, minutes_ago: 300, health: { state: "healthy" } },
            { sha: SHA.good, minutes_ago: 120, health: { state: "healthy", logs: ["checkout ok"] } },
            {
              sha: SHA.bad,
              minutes_ago: 20,
              health: {
                state: "crashloop",
                exit_code: 2,
                logs: [
                  "starting checkout",
                  "panic: nil pointer dereference in PriceCalculator",
                  "exit status 2",
                ],
              },
            },
          ],
        },
        {
          kind: "Deployment",
          namespace: "shop",
          name: "cart",
          replicas: 2,
          labels: { app: "cart", tier: "web" },
          image: "ghcr.io/acme/cart",
          history: [
            { sha: "c4c4c4c", minutes_ago: 60, health: { state: "healthy", error_ratio: 0.001, p99_ms: 80 } },
          ],
        },
        {
          kind: "Deployment",
          namespace: "shop",
          name: "search",
          replicas: 2,
          image: "ghcr.io/acme/search",
          history: [{ sha: "5e5e5e5", minutes_ago: 30, health: { state: "error" } }],
        },
        {
          kind: "Deployment",
          namespace: "shop",
          name: "api",
          replicas: 1,
          image: "ghcr.io/acme/api",
          history: [{ sha: "a9a9a9a", minutes_ago: 30, health: { state: "slow" } }],
        },
        {
          kind: "Deployment",
          namespace: "shop",
          name: "worker",
          replicas: 1,
          image: "ghcr.io/acme/worker",
          history: [
            {
              sha: "0077007",
              minutes_ago: 10,
              health: { state: "oom", restarts_per_10m: 6, logs: ["allocating"] },
            },
          ],
        },
        {
          kind: "Deployment",
          namespace: "data",
          name: "vault",
          replicas: 1,
          image: "ghcr.io/acme/vault",
          history: [{ sha: "7a7a7a7", minutes_ago: 500, health: { state: "healthy" } }],
        },
        {
          kind: "StatefulSet",
          namespace: "data",
          name: "prod-db",
          replicas: 2,
          image: "docker.io/library/postgres",
          history: [
            {
              sha: "16.3",
              minutes_ago: 1000,
              image: "docker.io/library/postgres:16.3",
              health: { state: "healthy" },
            },
          ],
        },
      ],
    },
    faults: { cluster: overrides.faults ?? [] },
    onset_minutes_ago: 20,
    alert: {
      version: "4",
      groupKey: '{}:{alertname="X"}',
      status: "firing",
      receiver: "backstop",
      alerts: [{ status: "firing", labels: { alertname: "X" }, fingerprint: "abc" }],
    },
    truth: { bad_sha: SHA.bad, diagnosis },
    models: { chain: [target], judge: target },
    expect: { backstop: { outcome: "resolved" }, naive: { outcome: "damaged" } },
  });
}

/** Runs `fn` and returns the client-node ApiException it throws (fails the test if it does not). */
export async function apiError(fn: () => Promise<unknown>): Promise<ApiException<unknown>> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof ApiException) return err;
    throw err;
  }
  throw new Error("expected an ApiException");
}

/** The parsed `Status` body of an ApiException (client-node 1.x keeps the raw text). */
export function statusBody(err: ApiException<unknown>): Record<string, unknown> {
  return typeof err.body === "string"
    ? (JSON.parse(err.body) as Record<string, unknown>)
    : (err.body as Record<string, unknown>);
}
