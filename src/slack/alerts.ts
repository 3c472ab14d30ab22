import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { WebClient } from "@slack/web-api";
import type { Logger } from "pino";
import { alertResolvedReply } from "../../blocks/index.js";
import { type AlertmanagerWebhook, AlertmanagerWebhookSchema } from "../../scenarios/schema.js";
import { errorMessage } from "../errors.js";
import { childLogger } from "../log.js";
import { targetFromAlert } from "../pipeline/target.js";
import { incidentKeyForAlert, type RunJobData, runIdFor } from "../queue/jobs.js";
import type { RunsProducer } from "../queue/runs.js";
import type { RunStore } from "../queue/store.js";
import { clusterOfAlert, noteRefusedClusters, type RefusedAlert } from "./cluster-select.js";
import { clusterRoster, type SlackSettings } from "./config.js";

/**
 * `POST /alerts/alertmanager`: Alertmanager's webhook receiver (notification format version 4,
 * https://prometheus.io/docs/alerting/latest/configuration/#webhook_config and
 * https://prometheus.io/docs/alerting/latest/notifications/). Alertmanager retries a notification on
 * any non-2xx answer, so: 401 for a missing/wrong bearer (`http_config.authorization`), 400 for a body
 * that does not validate (retrying cannot fix it), 413 over the size limit, 503 when the queue (Redis)
 * is down so it retries, and 202 as soon as every run is queued.
 */

/** The route path, on the Bolt receiver in http mode or on the alert server in socket mode. */
export const ALERT_ROUTE = "/alerts/alertmanager";

/** Largest accepted body: 1 MiB (bytes). Alertmanager's own `max_alerts` keeps real bodies far smaller. */
export const ALERT_BODY_LIMIT_BYTES = 1024 * 1024;

/** One queued run in the answer: the incident key (= BullMQ job id), its run id, and whether it already existed. */
export interface QueuedAlert {
  incidentKey: string;
  runId: string;
  fingerprint: string;
  deduplicated: boolean;
}

/** An alert that started nothing, and why (e.g. its labels name no workload). */
export interface IgnoredAlert {
  fingerprint: string;
  alertname: string | null;
  reason: string;
}

/** A `resolved` alert whose incident is looked up and noted in its thread (after the answer is sent). */
export interface ResolvedAlert {
  incidentKey: string;
  fingerprint: string;
}

/** The JSON body of a 2xx answer. */
export interface AlertRouteResult {
  queued: QueuedAlert[];
  ignored: IgnoredAlert[];
  resolved: ResolvedAlert[];
  /** Firing alerts refused for their cluster (unknown, or none while several are served); noted in the channel. */
  refused: RefusedAlert[];
}

/** Options of {@link createAlertHandler}. `client` posts resolution replies; `clock` gives their time. */
export interface AlertRouteOptions {
  settings: Pick<SlackSettings, "alertChannel" | "alertWebhookToken" | "clusters">;
  producer: Pick<RunsProducer, "enqueueRun">;
  store: Pick<RunStore, "getIncident" | "getThread" | "updateIncident">;
  client: WebClient;
  clock?: () => Date;
  log?: Logger;
  bodyLimitBytes?: number;
}

/** A request failure with its HTTP status and a JSON `{ error }` body. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

/**
 * True when the `Authorization` header is `Bearer <expected>` (RFC 6750 §2.1; the scheme is
 * case-insensitive). Compared in constant time over SHA-256 digests so length leaks nothing.
 */
export function bearerMatches(header: string | undefined, expected: string): boolean {
  if (!header || expected.length === 0) return false;
  const m = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
  if (!m?.[1]) return false;
  const a = createHash("sha256").update(m[1]).digest();
  const b = createHash("sha256").update(expected).digest();
  return timingSafeEqual(a, b);
}

/** Reads the body up to `limit` bytes. @throws HttpError 413 past the limit, 400 on a broken stream. */
async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    throw new HttpError(413, `request body is larger than ${limit} bytes`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of req) {
      const buf = chunk as Buffer;
      size += buf.length;
      if (size > limit) {
        req.resume();
        throw new HttpError(413, `request body is larger than ${limit} bytes`);
      }
      chunks.push(buf);
    }
  } catch (err) {
    if (err instanceof HttpError) throw err;
    throw new HttpError(400, `cannot read request body: ${errorMessage(err)}`);
  }
  return Buffer.concat(chunks);
}

/**
 * Parses and validates a notification with `AlertmanagerWebhookSchema` (scenarios/schema.ts).
 * @throws HttpError 400 naming each bad field, e.g. `alerts.0.fingerprint: …`.
 */
function parseWebhook(body: Buffer): AlertmanagerWebhook {
  let json: unknown;
  try {
    json = JSON.parse(body.toString("utf8"));
  } catch (err) {
    throw new HttpError(400, `body is not valid JSON: ${errorMessage(err)}`);
  }
  const parsed = AlertmanagerWebhookSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
    throw new HttpError(400, `invalid Alertmanager webhook (version 4): ${issues.join("; ")}`);
  }
  return parsed.data;
}

/**
 * Queues one run per firing alert that names a workload (`targetFromAlert`). The incident key comes
 * from the group key and the alert's workload (`incidentKeyForAlert`), so re-sends, `repeat_interval`
 * repeats and the per-pod alerts of one workload are deduplicated by the producer. The job carries the notification with
 * only that alert in `alerts`. Resolved alerts are returned for {@link noteResolved}.
 * @throws the producer's error (e.g. BackstopError `queue.unavailable`) on the first failed enqueue;
 *   runs queued before it stay queued, and a retry of the notification deduplicates them.
 */
export async function queueAlerts(
  webhook: AlertmanagerWebhook,
  opts: Pick<AlertRouteOptions, "settings" | "producer" | "clock">,
): Promise<AlertRouteResult> {
  const now = (opts.clock ?? (() => new Date()))();
  const result: AlertRouteResult = { queued: [], ignored: [], resolved: [], refused: [] };
  for (const alert of webhook.alerts) {
    // The cluster first: an alert from a cluster this Backstop does not serve starts nothing.
    const picked = clusterOfAlert(alert, clusterRoster(opts.settings));
    if ("refused" in picked) {
      if (alert.status === "firing") result.refused.push(picked.refused);
      continue;
    }
    const incidentKey = incidentKeyForAlert(webhook, alert, picked.cluster);
    if (alert.status === "resolved") {
      result.resolved.push({ incidentKey, fingerprint: alert.fingerprint });
      continue;
    }
    const target = targetFromAlert(alert);
    if (!target) {
      result.ignored.push({
        fingerprint: alert.fingerprint,
        alertname: alert.labels.alertname ?? null,
        reason: "labels name no workload: expected namespace plus deployment, statefulset, workload or pod",
      });
      continue;
    }
    const runId = runIdFor(incidentKey);
    const data: RunJobData = {
      runId,
      cluster: picked.cluster,
      trigger: "alert",
      incidentKey,
      target,
      onset:
        alert.startsAt && Number.isFinite(Date.parse(alert.startsAt)) ? alert.startsAt : now.toISOString(),
      alert: { ...webhook, alerts: [alert] },
      note: null,
      requestedBy: null,
      slack: { channel: opts.settings.alertChannel, responseUrl: null },
    };
    const { deduplicated } = await opts.producer.enqueueRun(data);
    result.queued.push({ incidentKey, runId, fingerprint: alert.fingerprint, deduplicated });
  }
  return result;
}

/**
 * Notes resolved alerts on their incidents: `updateIncident(key, { resolvedAt })` and a threaded reply
 * "resolved by Alertmanager at …" in the incident's thread. No new run. An alert whose incident is
 * unknown (never fired here, or expired) is skipped. Failures are logged, never thrown.
 */
export async function noteResolved(
  webhook: AlertmanagerWebhook,
  resolved: ResolvedAlert[],
  opts: Pick<AlertRouteOptions, "store" | "client" | "clock" | "log">,
): Promise<void> {
  const log = opts.log ?? childLogger("slack.alerts");
  const at = (opts.clock ?? (() => new Date()))().toISOString();
  for (const r of resolved) {
    try {
      const incident = await opts.store.getIncident(r.incidentKey);
      if (!incident) {
        log.info({ incidentKey: r.incidentKey }, "resolved alert for an unknown incident; nothing to update");
        continue;
      }
      if (incident.resolvedAt) continue;
      const alert = webhook.alerts.find((a) => a.fingerprint === r.fingerprint);
      const alertname = alert?.labels.alertname ?? incident.alertname ?? "alert";
      const resolvedAt = alert?.endsAt && !alert.endsAt.startsWith("0001-") ? alert.endsAt : at;
      await opts.store.updateIncident(r.incidentKey, { resolvedAt });
      const thread = await opts.store.getThread(r.incidentKey);
      if (!thread) continue;
      await opts.client.chat.postMessage({
        channel: thread.channel,
        thread_ts: thread.ts,
        ...alertResolvedReply(alertname, resolvedAt),
      });
    } catch (err) {
      log.error({ incidentKey: r.incidentKey, err: errorMessage(err) }, "could not note a resolved alert");
    }
  }
}

/**
 * The route handler `(req, res)` for Bolt's `customRoutes` or a plain node:http server.
 * Answers: 401 `{ error }` without `Authorization: Bearer <alertWebhookToken>`; 413 over the body
 * limit; 400 `{ error }` naming the bad fields (nothing queued); 503 `{ error }` with `Retry-After`
 * when enqueueing fails; else 202 (something queued) or 200 with {@link AlertRouteResult}. Resolved
 * alerts are noted in their threads after the answer is sent.
 */
export function createAlertHandler(
  opts: AlertRouteOptions,
): (req: IncomingMessage, res: ServerResponse) => void {
  const log = opts.log ?? childLogger("slack.alerts");
  const limit = opts.bodyLimitBytes ?? ALERT_BODY_LIMIT_BYTES;
  return (req, res) => {
    void (async () => {
      if (!bearerMatches(req.headers.authorization, opts.settings.alertWebhookToken)) {
        req.resume();
        sendJson(res, 401, { error: "missing or wrong bearer token" }, { "www-authenticate": "Bearer" });
        return;
      }
      let webhook: AlertmanagerWebhook;
      try {
        webhook = parseWebhook(await readBody(req, limit));
      } catch (err) {
        const status = err instanceof HttpError ? err.status : 400;
        log.warn({ status, err: errorMessage(err) }, "alertmanager webhook refused");
        sendJson(res, status, { error: errorMessage(err) }, status === 413 ? { connection: "close" } : {});
        return;
      }
      let result: AlertRouteResult;
      try {
        result = await queueAlerts(webhook, opts);
      } catch (err) {
        log.error(
          { groupKey: webhook.groupKey, err: errorMessage(err), code: (err as { code?: string }).code },
          "cannot queue alert runs",
        );
        sendJson(res, 503, { error: `cannot queue runs: ${errorMessage(err)}` }, { "retry-after": "10" });
        return;
      }
      log.info(
        {
          groupKey: webhook.groupKey,
          queued: result.queued.length,
          deduplicated: result.queued.filter((q) => q.deduplicated).length,
          ignored: result.ignored.length,
          resolved: result.resolved.length,
          refused: result.refused.length,
        },
        "alertmanager notification accepted",
      );
      sendJson(res, result.queued.length > 0 ? 202 : 200, result);
      if (result.refused.length > 0)
        await noteRefusedClusters(opts.client, opts.settings.alertChannel, result.refused, log);
      if (result.resolved.length > 0) await noteResolved(webhook, result.resolved, { ...opts, log });
    })().catch((err) => {
      log.error({ err: errorMessage(err) }, "alert route failed");
      sendJson(res, 500, { error: "internal error" });
    });
  };
}
