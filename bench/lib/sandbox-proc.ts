/**
 * The queue benchmarks' sandbox in its own process (forked by `bench/lib/fleet.ts`), so neither the
 * bot's process nor a worker's shares an event loop or a heap with the sandbox servers (Slack among
 * them: remote from the bot, as in production). Reads {@link SandboxConfig} (the scenario and the
 * sandbox Slack's options) from the JSON file named by `BENCH_SANDBOX_CONFIG`, starts the stack and the
 * sandbox Slack and reports over IPC `{type: "ready", ...}` ({@link SandboxReady}: the Slack Web API's
 * and the servers' URLs, the writer's and the read-only identity's kubeconfig YAML, the Prometheus API's base URL);
 * `{type: "stats", req}` answers its CPU time so far (see `processStats`); `{type: "close"}` stops it and exits.
 */
import { readFileSync } from "node:fs";
import { startSandboxSlack } from "../../sandbox/slack/index.js";
import { startSandboxStack } from "../../sandbox/stack.js";
import { ScenarioSchema } from "../../scenarios/schema.js";
import { setLogLevel } from "../../src/log.js";
import { processStats } from "./common.js";
import type { SandboxConfig, SandboxReady } from "./fleet.js";

setLogLevel("silent");
const file = process.env.BENCH_SANDBOX_CONFIG;
if (!file || !process.send) {
  console.error("sandbox-proc: run by bench/lib/fleet.ts (needs BENCH_SANDBOX_CONFIG and an IPC channel)");
  process.exit(2);
}
const config = JSON.parse(readFileSync(file, "utf8")) as SandboxConfig;
const stack = await startSandboxStack({ scenario: ScenarioSchema.parse(config.scenario) });
const slack = await startSandboxSlack(config.slack);
const ready: SandboxReady & { type: "ready" } = {
  type: "ready",
  slackApiUrl: slack.apiUrl,
  infraUrl: stack.infraUrl,
  ticketsUrl: stack.tickets.url,
  modelsUrl: stack.models.url,
  kubeconfig: stack.cluster.kubeconfigYaml("writer"),
  readonlyKubeconfig: stack.cluster.kubeconfigYaml("readonly"),
  prometheusUrl: stack.cluster.url,
};
process.send(ready);
process.on("message", async (m: { type: string; req?: string }) => {
  if (m.type === "stats") process.send?.({ type: "stats", req: m.req, ...processStats(0) });
  if (m.type === "close") {
    await slack.close().catch(() => undefined);
    await stack.close();
    process.exit(0);
  }
});
// The parent is gone (crashed or killed): nothing is left to serve.
process.on("disconnect", () => process.exit(0));
