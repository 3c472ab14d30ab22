import type { DemoOpts } from "../../src/cli/sandbox-commands.js";
import { loadConfig } from "../../src/config.js";
import { loadPolicy } from "../../src/guardrails/policy.js";
import { setupTracing } from "../../src/observability/index.js";
import { startDemo } from "../demo.js";
import { sandboxSigningKey } from "./common.js";

/**
 * `backstop demo` (also `npm run demo`): the whole product on loopback against the sandbox — cluster,
 * model provider, Slack, tickets, mcp-infra, the bot, the worker and Redis — and the web console.
 * Prints the console URL, the alert token and signing secret (`BACKSTOP_ALERT_TOKEN` and
 * `SLACK_SIGNING_SECRET` when set, else generated) and a ready `curl` that fires an alert at the bot.
 * Logs are human-readable on a terminal (LOG_FORMAT). Ctrl-C stops everything it started.
 */
export async function demoCommand(opts: DemoOpts): Promise<void> {
  const config = loadConfig();
  const signingKey = sandboxSigningKey(config);
  console.log("Starting Backstop's sandbox demo…");
  const tracing = setupTracing({
    tracesUrl: config.observability.tracesUrl,
    headers: config.observability.otlpHeaders,
    serviceName: config.observability.serviceName ?? "backstop-demo",
  });
  const demo = await startDemo({
    alertToken: config.slack.alertToken,
    signingSecret: config.slack.signingSecret,
    tracer: tracing.tracer,
    host: opts.host,
    consolePort: Number(opts.port),
    redisUrl: config.redisUrlFromEnv,
    scenariosDir: opts.scenarios,
    signingKey,
    policy: loadPolicy(config.policyFile),
    approvalTimeoutMs: config.approvals.timeoutMs,
  });
  const redisNote = {
    env: "REDIS_URL",
    local: "the local Redis on 127.0.0.1:6379",
    child: "a redis-server it started",
  };
  console.log(`\n  Console  ${demo.consoleUrl}`);
  console.log(`  Bot      ${demo.botUrl}  (Slack events and /alerts/alertmanager)`);
  console.log(`  Redis    ${redisNote[demo.redis.source]}`);
  console.log(`  Metrics  ${demo.botUrl}/metrics  (and /healthz, /readyz)`);
  const given = (set: boolean) => (set ? "from the environment" : "generated; set it to keep it");
  console.log(`\n  BACKSTOP_ALERT_TOKEN=${demo.alertToken}  (${given(Boolean(config.slack.alertToken))})`);
  console.log(
    `  SLACK_SIGNING_SECRET=${demo.signingSecret}  (${given(Boolean(config.slack.signingSecret))})`,
  );
  console.log("\nFire an alert at the bot (an Alertmanager webhook, v4) from another terminal:\n");
  console.log(`  ${demo.alertRequest.curl}\n`);
  console.log(
    `  Cluster  ${demo.clusters.join(", ")}  (alerts labelled cluster=${demo.clusters[0]}, or with no cluster label)`,
  );
  console.log(
    "\nClick a scenario in the console: the naive agent and Backstop face the same alert side by side.",
  );
  console.log("Ctrl-C stops everything.\n");
  await new Promise<void>((done) => {
    process.once("SIGINT", done);
    process.once("SIGTERM", done);
  });
  console.log("stopping…");
  await demo.close();
  await tracing.shutdown();
  process.exit(0);
}
