import type { IncomingMessage, ServerResponse } from "node:http";
import type { AlertmanagerWebhook } from "../contracts/alertmanager.js";
import { errorMessage } from "../errors.js";
import { childLogger } from "../log.js";
import { queueAlerts, screenAlerts } from "./alerts/admit.js";
import * as http from "./alerts/http.js";
import { noteJoins, noteNoRun, noteResolved } from "./alerts/notices.js";
import type { AlertRouteOptions, AlertRouteResult } from "./alerts/types.js";
import { clusterRoster } from "./config.js";

export { queueAlerts, type ScreenedAlert, screenAlerts } from "./alerts/admit.js";
export {
  ALERT_BODY_LIMIT_BYTES,
  bearerMatches,
  checkContentType,
  decodeUtf8,
  HttpError,
  parseWebhook,
} from "./alerts/http.js";
export { NOTICE_TTL_S, noteResolved } from "./alerts/notices.js";
export type {
  AlertRouteOptions,
  AlertRouteResult,
  IgnoredAlert,
  JoinedAlert,
  QueuedAlert,
  ResolvedAlert,
} from "./alerts/types.js";

/**
 * `POST /alerts/alertmanager`: Alertmanager's webhook receiver (notification format version 4,
 * https://prometheus.io/docs/alerting/latest/configuration/#webhook_config and
 * https://prometheus.io/docs/alerting/latest/notifications/). Alertmanager treats a 4xx answer as
 * final and retries a 5xx, so every refusal a retry cannot fix is a 4xx, and only a failure of ours
 * (Redis down) is a 5xx:
 * - 401 without `Authorization: Bearer <token>` (`http_config.authorization`);
 * - 415 unless `Content-Type` is `application/json` (a `charset` parameter, if any, must be utf-8);
 * - 413 over {@link INTAKE_LIMITS.bodyBytes};
 * - 400 for bytes that are not UTF-8 (`TextDecoder` with `fatal: true`), text that is not JSON, a
 *   notification that does not validate (naming each field, e.g. `alerts.0.startsAt`, including
 *   timestamps that are not RFC 3339), and when every alert is refused;
 * - per alert, refused (skipped with its reason, reported in `refused` and noted in the channel): a
 *   namespace or workload that is not a valid Kubernetes name, labels over the bounds, a cluster label
 *   naming a cluster this Backstop does not serve, or no cluster label while it serves several
 *   (`selectCluster`, src/contracts/cluster.ts; the note names the alert's cluster and the served ones);
 * - 503 with `Retry-After` when Redis is down;
 * - else 202 (a run was queued) or 200, with {@link AlertRouteResult}.
 *
 * The answer comes from memory plus the queue's Redis: one script per incident named (a notification's
 * alerts about one workload are one incident, so usually one round trip per notification), a second
 * round trip for a new run. Slack notes (refusals, no-workload alerts, joins, resolutions) are sent
 * after it. Re-sends that change nothing log at debug, anything else at info.
 */

/** The route path, on the Bolt receiver in http mode or on the alert server in socket mode. */
export const ALERT_ROUTE = "/alerts/alertmanager";

/**
 * The route handler `(req, res)` for Bolt's `customRoutes` or a plain node:http server; see the
 * module comment for every answer. Nothing is queued for a refused request. Slack notes are posted
 * after the answer is sent.
 */
export function createAlertHandler(
  opts: AlertRouteOptions,
): (req: IncomingMessage, res: ServerResponse) => void {
  const log = opts.log ?? childLogger("slack.alerts");
  const limit = opts.bodyLimitBytes ?? http.ALERT_BODY_LIMIT_BYTES;
  return (req, res) => {
    void (async () => {
      if (!http.bearerMatches(req.headers.authorization, opts.settings.alertWebhookToken)) {
        req.resume();
        http.sendJson(res, 401, { error: "missing or wrong bearer token" }, { "www-authenticate": "Bearer" });
        return;
      }
      let webhook: AlertmanagerWebhook;
      let screened: ReturnType<typeof screenAlerts>;
      try {
        try {
          http.checkContentType(req.headers["content-type"]);
        } catch (err) {
          req.resume();
          throw err;
        }
        webhook = http.parseWebhook(http.decodeUtf8(await http.readBody(req, limit)));
        screened = screenAlerts(webhook, clusterRoster(opts.settings));
        if (screened.kept.length === 0) {
          const w = webhook;
          void noteNoRun(
            w,
            screened.refused.map((r) => ({ ...r, refused: true })),
            opts,
            log,
          );
          throw new http.HttpError(400, "every alert was refused; nothing was queued", {
            refused: screened.refused,
          });
        }
      } catch (err) {
        const status = err instanceof http.HttpError ? err.status : 400;
        log.warn({ status, err }, "alertmanager webhook refused");
        const extra = err instanceof http.HttpError ? err.extra : {};
        http.sendJson(
          res,
          status,
          { error: errorMessage(err), ...extra },
          status === 413 ? { connection: "close" } : {},
        );
        return;
      }
      let queued: Awaited<ReturnType<typeof queueAlerts>>;
      try {
        queued = await queueAlerts(webhook, screened.kept, opts);
      } catch (err) {
        log.error(
          { groupKey: webhook.groupKey, err, code: (err as { code?: string }).code },
          "cannot queue alert runs",
        );
        http.sendJson(
          res,
          503,
          { error: `cannot queue runs: ${errorMessage(err)}` },
          { "retry-after": "10" },
        );
        return;
      }
      const result: AlertRouteResult = { ...queued.result, refused: screened.refused };
      http.sendJson(res, result.queued.length > 0 ? 202 : 200, result);
      const deduplicated = result.queued.filter((q) => q.deduplicated).length;
      // A notification that only re-sent incidents already queued (the bulk of a storm: Alertmanager
      // re-sends every group each group_interval) logs at debug; one that changed anything, at info.
      const resent =
        deduplicated === result.queued.length &&
        result.joined.length + result.ignored.length + result.refused.length + result.resolved.length === 0;
      const level = resent ? "debug" : "info";
      if (log.isLevelEnabled(level))
        log[level](
          {
            groupKey: webhook.groupKey,
            queued: result.queued.length,
            deduplicated,
            joined: result.joined.length,
            ignored: result.ignored.length,
            refused: result.refused.length,
            resolved: result.resolved.length,
          },
          "alertmanager notification accepted",
        );
      await noteNoRun(
        webhook,
        [
          ...result.refused.map((r) => ({ ...r, refused: true })),
          ...result.ignored.map((r) => ({ ...r, refused: false })),
        ],
        opts,
        log,
      );
      await noteJoins(queued.joins, opts, log);
      if (result.resolved.length > 0) await noteResolved(webhook, result.resolved, { ...opts, log });
    })().catch((err) => {
      log.error({ err }, "alert route failed");
      http.sendJson(res, 500, { error: "internal error" });
    });
  };
}
