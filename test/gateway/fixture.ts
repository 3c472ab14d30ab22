import { type Scenario, ScenarioSchema } from "../../scenarios/schema.js";

/** A minimal valid scenario for model tests; `models` (chain, judge, script) and `wrong` are overridable. */
export function testScenario(
  models: Record<string, unknown> = {},
  extra: Record<string, unknown> = {},
): Scenario {
  const truthDiagnosis = {
    hypothesis: "deploy 9f8e7d6 of checkout crashes on start (missing env PAYMENT_URL)",
    suspected_resource: "shop/Deployment/checkout",
    suspected_deploy_sha: "9f8e7d6",
    confidence: 0.9,
    evidence: ["Error: PAYMENT_URL is not set"],
    recommended_action: {
      type: "rollback",
      namespace: "shop",
      kind: "Deployment",
      name: "checkout",
      to_sha: "a1b2c3d",
    },
  };
  const wrongDiagnosis = {
    hypothesis: "the database is down; restart everything",
    suspected_resource: "shop/Deployment/checkout",
    suspected_deploy_sha: "deadbeef",
    confidence: 0.95,
    evidence: ["connection refused"],
    recommended_action: {
      type: "rollback",
      namespace: "shop",
      kind: "Deployment",
      name: "checkout",
      to_sha: "deadbeef",
      scope: "all",
    },
  };
  const target = (name: string, tier: number) => ({
    name,
    model: name,
    tier,
    input_usd_per_mtok: 1,
    output_usd_per_mtok: 2,
  });
  return ScenarioSchema.parse({
    name: "model-test",
    title: "Model test",
    description: "A scenario for the model provider and router tests.",
    fires: "fallback",
    cluster: {
      namespaces: [{ name: "shop" }, { name: "payments" }],
      workloads: [
        {
          kind: "Deployment",
          namespace: "shop",
          name: "checkout",
          replicas: 2,
          image: "ghcr.io/acme/checkout",
          history: [
            { sha: "a1b2c3d", minutes_ago: 600, health: { state: "healthy" } },
            {
              sha: "9f8e7d6",
              minutes_ago: 20,
              health: { state: "crashloop", logs: ["Error: PAYMENT_URL is not set"] },
            },
          ],
        },
      ],
    },
    onset_minutes_ago: 15,
    alert: {
      version: "4",
      groupKey: '{}:{alertname="KubePodCrashLooping"}',
      status: "firing",
      receiver: "backstop",
      alerts: [
        {
          status: "firing",
          labels: { alertname: "KubePodCrashLooping", namespace: "shop", deployment: "checkout" },
          fingerprint: "abc123",
        },
      ],
    },
    truth: { bad_sha: "9f8e7d6", diagnosis: truthDiagnosis },
    wrong: wrongDiagnosis,
    models: {
      chain: [target("model-a", 1), target("model-b", 1), target("model-strong", 2)],
      judge: target("judge-mini", 1),
      script: {},
      ...models,
    },
    expect: { backstop: { outcome: "resolved" }, naive: { outcome: "damaged" } },
    ...extra,
  });
}
