import { WebClient } from "@slack/web-api";
import type { Command } from "commander";
import { loadConfig } from "../config.js";
import { CHECK_TIMEOUT_MS, observeQueueDepth, processObservability } from "../observability/index.js";
import { closeOnSignals, connectionFromUrl, RunsProducer } from "../queue/runs.js";
import { RunStore } from "../queue/store.js";
import { createBackstopApp, slackClientOptions } from "../slack/app.js";
import { slackSettingsFromConfig } from "../slack/config.js";

/**
 * `backstop serve`: the Slack bot (HTTP events or Socket Mode, from `SLACK_MODE`) and the Alertmanager
 * route `POST /alerts/alertmanager`. It only acknowledges and enqueues; `backstop worker` runs the
 * agent. The same server answers `GET /metrics`, `/healthz` and `/readyz` (src/observability).
 * It signs nothing, so it needs no receipt key (the worker does). SIGTERM stops it cleanly.
 */
export function registerServe(program: Command): void {
  program
    .command("serve")
    .description("run the Slack bot and the Alertmanager webhook route")
    .action(async () => {
      const config = loadConfig();
      const settings = slackSettingsFromConfig(config);
      const connection = connectionFromUrl(config.redisUrl);
      const producer = new RunsProducer({ connection });
      const store = new RunStore({ connection });
      const obs = processObservability(config, "bot", {
        connection,
        // Readiness asks Slack once, quickly: no retries, a short timeout.
        slack: new WebClient(settings.botToken, {
          ...slackClientOptions(settings),
          retryConfig: { retries: 0 },
          timeout: CHECK_TIMEOUT_MS,
        }),
      });
      if (obs.metrics) observeQueueDepth(producer.bullQueue, obs.metrics);
      const bot = createBackstopApp(settings, { producer, store, routes: obs.routes });
      const { url } = await bot.start();
      console.log(
        `backstop bot (${settings.mode} mode)${url ? ` listening on ${url}: /slack/events, /alerts/alertmanager, /metrics, /healthz, /readyz` : ""}`,
      );
      closeOnSignals([{ close: () => bot.stop() }, producer, store, obs], {
        onClosed: () => process.exit(0),
      });
    });
}
