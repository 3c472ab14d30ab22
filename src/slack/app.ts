import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { App, type Logger as BoltLogger, HTTPReceiver, LogLevel } from "@slack/bolt";
import slackWebApi, { WebClient, type WebClientOptions } from "@slack/web-api";
import type { Logger } from "pino";
import { BackstopError, errorMessage } from "../errors.js";
import { createGuardrailHandler, GUARDRAIL_QUALITY_ROUTE } from "../guardrails/gateway-guardrail.js";
import { childLogger } from "../log.js";
import type { RunsProducer } from "../queue/runs.js";
import type { RunStore } from "../queue/store.js";
import { register as registerActions } from "./actions/index.js";
import { ALERT_ROUTE, createAlertHandler } from "./alerts.js";
import { register as registerCommands } from "./commands/index.js";
import { type SlackSettings, validateSlackSettings } from "./config.js";
import { register as registerEvents } from "./events/index.js";

/**
 * The Backstop Slack app (Bolt 5): slash commands, Block Kit actions (approvals, receipt download),
 * `app_mention`, and the Alertmanager webhook route. Listeners follow slack-samples/bolt-ts-starter-template
 * (`<kind>/index.ts` with `register(app)`): each acks first, then enqueues; no listener runs the agent.
 */

/** What the listeners need from the queue: enqueue a run, enqueue a decision (see `src/queue/runs.ts`). */
export type SlackProducer = Pick<RunsProducer, "enqueueRun" | "enqueueDecision">;

/** What the listeners need from the Redis stores (see `src/queue/store.ts`). */
export type SlackStore = Pick<
  RunStore,
  | "decide"
  | "getPending"
  | "getIncidentByRun"
  | "recentIncidents"
  | "getReceipt"
  | "getIncident"
  | "updateIncident"
  | "getThread"
>;

/**
 * The app's dependencies. `newNonce` makes each `/backstop triage` its own incident key (default a
 * random UUID without dashes); `clock` gives decision and resolution times (default `new Date()`).
 */
export interface AppDeps {
  producer: SlackProducer;
  store: SlackStore;
  newNonce?: () => string;
  clock?: () => Date;
  /** Extra GET routes on the same HTTP server, e.g. `/metrics`, `/healthz`, `/readyz` (src/observability). */
  routes?: readonly {
    path: string;
    method: "GET";
    handler: (req: IncomingMessage, res: ServerResponse) => void;
  }[];
}

/** What every listener gets at registration: settings, dependencies with defaults filled, a logger. */
export interface ListenerContext {
  settings: SlackSettings;
  producer: SlackProducer;
  store: SlackStore;
  newNonce: () => string;
  clock: () => Date;
  log: Logger;
}

/** The running app: the Bolt `App`, `start()` (resolves with the HTTP base URL) and `stop()`. */
export interface BackstopApp {
  app: App;
  /** Starts listening; `url` is `http://host:port` of the HTTP server (Slack events in http mode, alerts in both). */
  start(): Promise<{ url: string | null }>;
  /** Stops the receiver (and, in socket mode, the alert server). Safe to call twice. */
  stop(): Promise<void>;
}

/** Bolt's `Logger` interface (@slack/logger) on top of a pino child, so Bolt logs the same JSON lines. */
export function boltLogger(log: Logger): BoltLogger {
  let level: LogLevel = LogLevel.INFO;
  const text = (msg: unknown[]) => msg.map((m) => (typeof m === "string" ? m : errorMessage(m))).join(" ");
  return {
    debug: (...msg: unknown[]) => log.debug(text(msg)),
    info: (...msg: unknown[]) => log.info(text(msg)),
    warn: (...msg: unknown[]) => log.warn(text(msg)),
    error: (...msg: unknown[]) => log.error(text(msg)),
    setLevel: (l: LogLevel) => {
      level = l;
    },
    getLevel: () => level,
    setName: () => {},
  };
}

/**
 * Web API client options: the base URL (the sandbox's `apiUrl` in tests), and retries. Against a
 * configured `slackApiUrl` (a fake) there are no retries, so a failing fake fails fast; against Slack,
 * `@slack/web-api`'s `fiveRetriesInFiveMinutes` (it honours `Retry-After` on 429).
 */
export function slackClientOptions(settings: Pick<SlackSettings, "slackApiUrl">): WebClientOptions {
  return settings.slackApiUrl
    ? { slackApiUrl: settings.slackApiUrl, retryConfig: { retries: 0 } }
    : // A CommonJS export Node's ESM loader cannot name statically: read it off the default export.
      { retryConfig: slackWebApi.retryPolicies.fiveRetriesInFiveMinutes };
}

/**
 * Builds the Bolt app and its routes. `mode: "http"`: an `HTTPReceiver` serving `POST /slack/events`
 * (signature and 5-minute timestamp checked by Bolt) and `POST /alerts/alertmanager` as a custom route.
 * `mode: "socket"`: Socket Mode with `appToken`, plus a node:http server for `/alerts/alertmanager` on `port`.
 * With `guardrailToken` set, both modes also serve `POST /guardrails/quality` (the quality gate as an
 * AI-gateway output guardrail, see src/guardrails/gateway-guardrail.ts).
 * Bolt does not call `auth.test` at start (`tokenVerificationEnabled: false` with `botId`/`botUserId`).
 * Errors from listeners go to `app.error` and are logged; they never crash the process.
 * @throws BackstopError `slack.config` for invalid settings (e.g. socket mode without `appToken`).
 */
export function createBackstopApp(settings: SlackSettings, deps: AppDeps): BackstopApp {
  validateSlackSettings(settings);
  const log = childLogger("slack");
  const logger = boltLogger(log);
  const clientOptions = slackClientOptions(settings);
  const ctx: ListenerContext = {
    settings,
    producer: deps.producer,
    store: deps.store,
    newNonce: deps.newNonce ?? (() => randomUUID().replaceAll("-", "")),
    clock: deps.clock ?? (() => new Date()),
    log,
  };
  const alertHandler = createAlertHandler({
    settings,
    producer: deps.producer,
    store: deps.store,
    client: new WebClient(settings.botToken, clientOptions),
    clock: ctx.clock,
    log: log.child({ route: ALERT_ROUTE }),
  });
  const host = settings.host ?? "0.0.0.0";
  const guardrailHandler = settings.guardrailToken
    ? createGuardrailHandler({
        token: settings.guardrailToken,
        ...(settings.guardrailMaxBytes ? { maxBodyBytes: settings.guardrailMaxBytes } : {}),
      })
    : null;

  let app: App;
  let alertServer: Server | null = null;
  if (settings.mode === "socket") {
    if (!settings.appToken)
      throw new BackstopError("slack.config", "Socket Mode needs an app-level token (SLACK_APP_TOKEN)");
    app = new App({
      socketMode: true,
      appToken: settings.appToken,
      token: settings.botToken,
      botId: settings.botId,
      botUserId: settings.botUserId,
      tokenVerificationEnabled: false,
      clientOptions,
      logger,
    });
    alertServer = createServer((req, res) => {
      const path = new URL(req.url ?? "/", "http://localhost").pathname;
      if (path === ALERT_ROUTE && req.method === "POST") return alertHandler(req, res);
      if (path === GUARDRAIL_QUALITY_ROUTE && guardrailHandler) return guardrailHandler(req, res);
      const extra = deps.routes?.find((r) => r.path === path && req.method === r.method);
      if (extra) return extra.handler(req, res);
      res.writeHead(404, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: "not found" }));
    });
  } else {
    const receiver = new HTTPReceiver({
      signingSecret: settings.signingSecret,
      endpoints: "/slack/events",
      customRoutes: [
        { path: ALERT_ROUTE, method: ["POST"], handler: alertHandler },
        ...(guardrailHandler
          ? [{ path: GUARDRAIL_QUALITY_ROUTE, method: ["POST"], handler: guardrailHandler }]
          : []),
        ...(deps.routes ?? []).map((r) => ({ path: r.path, method: [r.method], handler: r.handler })),
      ],
      logger,
      processBeforeResponse: false,
    });
    app = new App({
      receiver,
      token: settings.botToken,
      botId: settings.botId,
      botUserId: settings.botUserId,
      tokenVerificationEnabled: false,
      clientOptions,
      logger,
    });
  }

  app.error(async (err) => {
    log.error({ err: errorMessage(err), code: (err as { code?: string }).code }, "slack listener failed");
  });
  registerCommands(app, ctx);
  registerActions(app, ctx);
  registerEvents(app, ctx);

  let started = false;
  return {
    app,
    async start() {
      let server: Server;
      if (alertServer) {
        await app.start();
        const s = alertServer;
        await new Promise<void>((resolve, reject) => {
          s.once("error", reject);
          s.listen(settings.port, host, () => resolve());
        });
        server = s;
      } else {
        server = (await app.start({ port: settings.port, host })) as Server;
      }
      started = true;
      const addr = server.address() as AddressInfo | null;
      const url = addr
        ? `http://${addr.family === "IPv6" ? `[${addr.address}]` : addr.address}:${addr.port}`
        : null;
      log.info({ mode: settings.mode, url }, "backstop slack app started");
      return { url };
    },
    async stop() {
      if (!started) return;
      started = false;
      await app.stop();
      const s = alertServer;
      if (s?.listening) await new Promise<void>((resolve) => s.close(() => resolve()));
    },
  };
}
