import type { Command } from "commander";
import { loadConfig } from "../config.js";
import { closeOnSignals, connectionFromUrl, RunsProducer } from "../queue/runs.js";
import { RunStore } from "../queue/store.js";
import { createBackstopApp } from "../slack/app.js";
import { slackSettingsFromConfig } from "../slack/config.js";

/**
 * `backstop serve`: the Slack bot (HTTP events or Socket Mode, from `SLACK_MODE`) and the Alertmanager
 * route `POST /alerts/alertmanager`. It only acknowledges and enqueues; `backstop worker` runs the
 * agent. SIGTERM stops it cleanly.
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
      const bot = createBackstopApp(settings, { producer, store });
      const { url } = await bot.start();
      console.log(
        `backstop bot (${settings.mode} mode)${url ? ` listening on ${url}: /slack/events, /alerts/alertmanager` : ""}`,
      );
      closeOnSignals([{ close: () => bot.stop() }, producer, store], { onClosed: () => process.exit(0) });
    });
}
