import { WebClient } from "@slack/web-api";
import type { Command } from "commander";
import { loadConfig, requireSlack } from "../config.js";
import { RedisBudgetStore } from "../gateway/redis-store.js";
import { slackFetch } from "../http.js";
import {
  CHECK_TIMEOUT_MS,
  observeProcessors,
  observeQueueDepth,
  observeWorker,
  observeWorld,
  processObservability,
  startObservabilityServer,
} from "../observability/index.js";
import { createProcessors } from "../queue/processors.js";
import { closeOnSignals, connectionFromUrl, RunsProducer, startRunsWorker } from "../queue/runs.js";
import { RunStore } from "../queue/store.js";
import { productionWorld } from "../queue/world.js";

/**
 * `backstop worker`: processes the BullMQ `runs` queue (triage, decisions, approval timeouts) against
 * the configured cluster, gateway and MCP servers, posting each run's thread to Slack. Scale it by
 * running more; SIGTERM lets running jobs finish (`await worker.close()`). `GET /metrics`, `/healthz`
 * and `/readyz` are served on `BACKSTOP_METRICS_PORT` (default 9464). It signs every run's receipt with
 * the configured key (`BACKSTOP_RECEIPT_KEY_FILE`, or `BACKSTOP_RECEIPT_KEY` as PEM text) and refuses to
 * start without one (`config.invalid`); unlike the sandbox commands it never creates a development key.
 */
export function registerWorker(program: Command): void {
  program
    .command("worker")
    .description("process triage runs and approval decisions from the runs queue")
    .action(async () => {
      const config = loadConfig();
      const slack = requireSlack(config);
      const connection = connectionFromUrl(config.redisUrl);
      const budget = new RedisBudgetStore({ connection });
      const world = await productionWorld(config, budget);
      const store = new RunStore({ connection });
      const producer = new RunsProducer({ connection });
      const client = new WebClient(slack.botToken, {
        ...(config.slack.apiUrl ? { slackApiUrl: config.slack.apiUrl } : {}),
        retryConfig: { retries: 2 },
        fetch: slackFetch(),
        // A stalled Slack connection must not hold a run: each call gives up after 10 s.
        timeout: 10_000,
      });
      const obs = processObservability(config, "worker", {
        connection,
        // Readiness asks Slack once, quickly: no retries, a short timeout.
        slack: new WebClient(slack.botToken, {
          ...(config.slack.apiUrl ? { slackApiUrl: config.slack.apiUrl } : {}),
          retryConfig: { retries: 0 },
          timeout: CHECK_TIMEOUT_MS,
          fetch: slackFetch(),
        }),
      });
      const worker = startRunsWorker({
        connection,
        concurrency: config.worker.concurrency,
        processors: observeProcessors(
          createProcessors({
            world: observeWorld(world, obs),
            slack: client,
            store,
            producer,
            // Shown on escalations: user ids and the approver user group (S…), as the reporter renders both.
            approvers: [
              ...config.approvals.users,
              ...(config.approvals.usergroup ? [config.approvals.usergroup] : []),
            ],
            approvalTimeoutMs: config.approvals.timeoutMs,
          }),
          obs,
        ),
      });
      if (obs.metrics) {
        observeWorker(worker, obs.metrics);
        observeQueueDepth(producer.bullQueue, obs.metrics);
      }
      const server = await startObservabilityServer({
        routes: obs.routes,
        port: config.observability.metricsPort,
        host: config.slack.host,
      });
      console.log(
        `backstop worker: ${config.worker.concurrency} concurrent runs from Redis at ${new URL(config.redisUrl).host}; ${server.url}/metrics, /healthz, /readyz`,
      );
      // The worker first (running jobs finish), then the world's pooled MCP connections.
      closeOnSignals([worker, { close: async () => world.close?.() }, producer, store, budget, server, obs], {
        onClosed: () => process.exit(0),
      });
    });
}
