/** Firing a scenario in the demo: both worlds reset, the bot alerted as Alertmanager would, the naive agent started. */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { loadScenario, type Scenario } from "../../scenarios/schema.js";
import { selectCluster } from "../../src/contracts/cluster.js";
import { BackstopError } from "../../src/errors.js";
import { childLogger } from "../../src/log.js";
import { targetFromAlert, targetFromWebhook } from "../../src/pipeline/target.js";
import { activeRunKey } from "../../src/queue/admit.js";
import { incidentKeyForAlert, runIdFor } from "../../src/queue/jobs.js";
import { runScenarioAgent } from "../harness.js";
import { alertRequest } from "./alert-request.js";
import type { DemoBackendDeps } from "./deps.js";

const log = childLogger("demo");

/**
 * Fires scenario `name` for both agents: resets both worlds and the sandbox Slack, frees the workloads
 * of runs left open by an earlier fire, sends the scenario's Alertmanager notification (a new group) to
 * the bot and starts the naive agent on its own world in the background.
 * Returns the run ids the console follows.
 * @throws BackstopError `demo.unknown_scenario`, `demo.fire` (no firing alert names a workload, the
 *   cluster cannot be picked, or the bot refused the alert).
 */
export async function fireScenario(
  d: DemoBackendDeps,
  name: string,
): Promise<{ backstopRunId: string; naiveRunId: string }> {
  const { backstopWorld, naiveWorld, slack, store, roster, signingKey, receiptsDir, policy, prompts } = d;
  const { state, changed, follow } = d.feed;
  const file = d.byName.get(name);
  if (!file) throw new BackstopError("demo.unknown_scenario", `no scenario named ${name}`);
  const scenario: Scenario = loadScenario(file);
  state.fires += 1;
  backstopWorld.reset(scenario);
  naiveWorld.reset(scenario);
  slack.reset();
  changed("slack");
  changed("cluster");

  // Backstop: the scenario's Alertmanager notification, as a new incident (its own group).
  const nonce = randomBytes(8).toString("hex");
  const webhook = structuredClone(scenario.alert);
  webhook.groupKey = `${webhook.groupKey}/demo-${nonce}`;
  for (const a of webhook.alerts) a.fingerprint = nonce;
  // The console follows the run of the notification's primary workload (its first firing alert);
  // the other alerts of the group get threads of their own, as they would in Slack.
  const { target } = targetFromWebhook(webhook);
  const primary = webhook.alerts.find((a) => {
    const t = targetFromAlert(a);
    return a.status === "firing" && t?.namespace === target.namespace && t.workload === target.workload;
  });
  if (!primary) throw new BackstopError("demo.fire", `${scenario.name}: no firing alert names a workload`);
  const picked = selectCluster(primary.labels, roster);
  if (!("cluster" in picked)) throw new BackstopError("demo.fire", `${scenario.name}: ${picked.reason}`);
  const backstopRunId = runIdFor(incidentKeyForAlert(webhook, primary, picked.cluster));
  // The world was just reset, so a run still open from an earlier fire (e.g. awaiting approval)
  // is about a world that no longer exists: free its workloads so this fire starts a run of its
  // own instead of joining that one (one run per workload, per cluster).
  for (const a of webhook.alerts) {
    const t = targetFromAlert(a);
    if (!t) continue;
    const key = activeRunKey(picked.cluster, t);
    const holder = await store.activeRun(key);
    if (holder) await store.releaseRun(key, holder);
  }
  state.backstop = {
    runId: backstopRunId,
    scenario: scenario.name,
    events: [],
    outcome: "running",
    receipt: null,
  };
  const req = alertRequest(`${d.botUrl}/alerts/alertmanager`, d.alertToken, webhook);
  const res = await fetch(req.url, { method: "POST", headers: req.headers, body: req.body });
  const body = (await res.json().catch(() => ({}))) as { queued?: { runId: string }[] };
  if (res.status >= 300 || !body.queued?.some((q) => q.runId === backstopRunId)) {
    throw new BackstopError(
      "demo.fire",
      `the bot refused the alert: HTTP ${res.status} ${JSON.stringify(body)}`,
    );
  }

  // The naive agent, on its own copy of the world, in the background.
  let naiveRunId = "";
  const started = new Promise<string>((resolve) => {
    void runScenarioAgent(naiveWorld, scenario, "naive", {
      signingKey,
      receiptsDir,
      policy,
      prompts,
      reporters: (_agent, runId) => {
        naiveRunId = runId;
        state.naive = { runId, scenario: scenario.name, events: [], outcome: "running", receipt: null };
        resolve(runId);
        return [follow("naive", runId, scenario.name)];
      },
    })
      .then(({ report }) => {
        if (state.naive?.runId !== report.run_id) return;
        state.naive.outcome = report.outcome;
        state.naive.receipt = readFileSync(report.receipt, "utf8");
        changed("naive");
      })
      .catch((err) => log.warn({ err }, "the naive agent's run failed"));
  });
  naiveRunId = await started;
  return { backstopRunId, naiveRunId };
}
