import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import {
  type AnyMiddlewareArgs,
  App,
  type Logger as BoltLogger,
  HTTPReceiver,
  LogLevel,
  type Middleware,
  type RespondArguments,
} from "@slack/bolt";
import slackWebApi, { WebClient, type WebClientOptions } from "@slack/web-api";
import type { Logger } from "pino";
import { BackstopError, errorMessage } from "../errors.js";
import { createGuardrailHandler, GUARDRAIL_QUALITY_ROUTE } from "../guardrails/gateway-guardrail.js";
import { slackFetch } from "../http.js";
import { childLogger } from "../log.js";
import { register as registerActions } from "./actions/index.js";
import { ALERT_ROUTE, createAlertHandler } from "./alerts.js";
import { register as registerCommands } from "./commands/index.js";
import { type SlackSettings, validateSlackSettings } from "./config.js";
import type { ListenerContext, SlackProducer, SlackStore } from "./context.js";
import { register as registerEvents } from "./events/index.js";

export type { ListenerContext, SlackProducer, SlackStore } from "./context.js";

/**
 * The Backstop Slack app (Bolt 5): slash commands, Block Kit actions (approvals, receipt download),
 * `app_mention`, and the Alertmanager webhook route. Listeners follow slack-samples/bolt-ts-starter-template
 * (`<kind>/index.ts` with `register(app)`): each acks first, then enqueues; no listener runs the agent.
 */

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

/** The running app: the Bolt `App`, `start()` (resolves with the HTTP base URL) and `stop()`. */
export interface BackstopApp {
  app: App;
  /** Starts listening; `url` is `http://host:port` of the HTTP server (Slack events in http mode, alerts in both). */
  start(): Promise<{ url: string | null }>;
  /** Stops the receiver (and, in socket mode, the alert server). Safe to call twice. */
  stop(): Promise<void>;
}

/** Where Slack sends events, commands and interactions in http mode. */
export const SLACK_EVENTS_PATH = "/slack/events";

/**
 * Largest difference (s) between `X-Slack-Request-Timestamp` and now, either way: Slack's "Verifying
 * requests from Slack" (https://docs.slack.dev/authentication/verifying-requests-from-slack) says to
 * refuse requests more than five minutes old to stop replays; a timestamp from the future is refused
 * the same way, so a signature captured with a future timestamp cannot be replayed later.
 */
export const REQUEST_MAX_SKEW_S = 5 * 60;

/**
 * Why a request's `X-Slack-Request-Timestamp` (Unix seconds) is unacceptable at `nowMs`, or null:
 * more than {@link REQUEST_MAX_SKEW_S} in the future. A missing or past-the-window value is left to
 * Bolt's verification, which refuses it with 401 too. Never throws.
 */
export function requestTimestampProblem(header: string | string[] | undefined, nowMs: number): string | null {
  const raw = Array.isArray(header) ? header[0] : header;
  if (raw === undefined || !/^\d{1,12}$/.test(raw.trim())) return null;
  const ts = Number(raw.trim());
  const now = Math.floor(nowMs / 1000);
  if (ts - now > REQUEST_MAX_SKEW_S)
    return `X-Slack-Request-Timestamp is ${ts - now} s in the future (at most ${REQUEST_MAX_SKEW_S} s allowed)`;
  return null;
}

/** How long a Slack request id is remembered for replay detection (s): twice the timestamp window. */
export const REPLAY_TTL_S = 2 * REQUEST_MAX_SKEW_S;

/**
 * The id that identifies one Slack request across retries and replays: a slash command's or an
 * interaction's `trigger_id` (unique per user action), an Events API `event_id`; null when there is none.
 */
export function slackRequestId(body: Record<string, unknown>): string | null {
  for (const k of ["trigger_id", "event_id"] as const) {
    const v = body[k];
    if (typeof v === "string" && v.length > 0 && v.length <= 200) return `${k}=${v}`;
  }
  return null;
}

/**
 * Global middleware: a retried or replayed request (same `trigger_id` or `event_id`, whether Slack
 * marks it with `X-Slack-Retry-Num` or not) is acknowledged and dropped, so it never starts a second
 * run or a second decision. Remembered in Redis with `SET NX` for {@link REPLAY_TTL_S} s (a replay
 * older than that fails Bolt's timestamp check). When Redis cannot answer, the request is acked with
 * "try again" and dropped (fail closed: nothing is queued without Redis anyway).
 */
export function replayGuard(ctx: ListenerContext): Middleware<AnyMiddlewareArgs> {
  return async (args) => {
    const body = (args.body ?? {}) as Record<string, unknown>;
    const ack = "ack" in args ? (args.ack as (r?: RespondArguments) => Promise<void>) : undefined;
    const id = slackRequestId(body);
    if (!id) return args.next();
    let first: boolean;
    try {
      first = await ctx.store.markOnce("slack-request", id, REPLAY_TTL_S);
    } catch (err) {
      ctx.log.error({ err }, "cannot check a Slack request for replay; dropping it");
      await ack?.(
        typeof body.command === "string"
          ? { response_type: "ephemeral", text: "Backstop cannot reach its store right now; try again." }
          : undefined,
      );
      return;
    }
    if (!first) {
      ctx.log.warn(
        { id, retryNum: args.context.retryNum ?? null },
        "replayed or retried Slack request dropped",
      );
      await ack?.();
      return;
    }
    await args.next();
  };
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
    ? { slackApiUrl: settings.slackApiUrl, retryConfig: { retries: 0 }, fetch: slackFetch() }
    : // A CommonJS export Node's ESM loader cannot name statically: read it off the default export.
      { retryConfig: slackWebApi.retryPolicies.fiveRetriesInFiveMinutes, fetch: slackFetch() };
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
      endpoints: SLACK_EVENTS_PATH,
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
    // Bolt checks only that a request is not older than 5 minutes; this runs first and also refuses
    // one from more than 5 minutes in the future.
    const boltListener = receiver.requestListener;
    receiver.requestListener = (req, res) => {
      // The alert route's exact path goes straight to its handler: Bolt would parse the URL again and
      // compile every custom route's path-to-regexp pattern per request to find it. Anything else
      // (a query string, a trailing slash, another method) takes Bolt's routing as before.
      if (req.url === ALERT_ROUTE && req.method === "POST") return alertHandler(req, res);
      const path = new URL(req.url ?? "/", "http://localhost").pathname;
      if (path === SLACK_EVENTS_PATH) {
        const why = requestTimestampProblem(req.headers["x-slack-request-timestamp"], Date.now());
        if (why) {
          log.warn({ why }, "slack request refused before signature verification");
          req.resume();
          res.writeHead(401, { "content-type": "text/plain" });
          res.end();
          return;
        }
      }
      boltListener(req, res);
    };
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

  app.use(replayGuard(ctx));
  app.error(async (err) => {
    log.error({ err, code: (err as { code?: string }).code }, "slack listener failed");
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
