import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { WebClient } from "@slack/web-api";
import type { Logger } from "pino";
import {
  alertJoinedReply,
  alertNoticeMessage,
  alertResolvedReply,
  decisionMessage,
} from "../../blocks/index.js";
import {
  type AlertmanagerAlert,
  type AlertmanagerWebhook,
  boundAnnotations,
  boundLabelMap,
  INTAKE_LIMITS,
  IntakeWebhookSchema,
  labelsOverLimit,
  ZERO_TIME,
} from "../contracts/alertmanager.js";
import { type ClusterRoster, SINGLE_CLUSTER } from "../contracts/cluster.js";
import { errorMessage } from "../errors.js";
import { childLogger } from "../log.js";
import { type AlertTarget, resolveAlertTarget, workloadKey } from "../pipeline/target.js";
import { type AdmitDeps, admitRun } from "../queue/admit.js";
import { incidentKeyForAlert, type RunJobData, runIdFor } from "../queue/jobs.js";
import type { RunsProducer } from "../queue/runs.js";
import type { RunStore } from "../queue/store.js";
import { clusterOfAlert } from "./cluster-select.js";
import { clusterRoster, type SlackSettings } from "./config.js";

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
 * The answer comes from memory plus the queue's Redis (one script per alert, a second round trip for
 * a new run); Slack notes (refusals, no-workload alerts, joins, resolutions) are sent after it.
 */

/** The route path, on the Bolt receiver in http mode or on the alert server in socket mode. */
export const ALERT_ROUTE = "/alerts/alertmanager";

/** Largest accepted body (bytes): {@link INTAKE_LIMITS.bodyBytes}. */
export const ALERT_BODY_LIMIT_BYTES = INTAKE_LIMITS.bodyBytes;

/** How long a channel notice for one alert (refused, no workload) is not repeated (s): Alertmanager re-sends a group every `group_interval`. */
export const NOTICE_TTL_S = 24 * 60 * 60;

/** One admitted alert in the answer: its incident key (= BullMQ job id) and run id; `deduplicated` when its job already existed. */
export interface QueuedAlert {
  incidentKey: string;
  runId: string;
  fingerprint: string;
  deduplicated: boolean;
}

/** An alert that joined another incident's active run for the same workload (no second run). */
export interface JoinedAlert {
  incidentKey: string;
  fingerprint: string;
  /** The incident whose run is active, and its run id. */
  joined: string;
  runId: string;
}

/**
 * An alert that started nothing, and why (its labels name no workload, or it was refused). `cluster`
 * is set on a refusal for the cluster: the cluster the alert named, or null when it named none.
 */
export interface IgnoredAlert {
  fingerprint: string;
  alertname: string | null;
  reason: string;
  cluster?: string | null;
}

/** A `resolved` alert whose incident is looked up and noted in its thread (after the answer is sent). */
export interface ResolvedAlert {
  incidentKey: string;
  fingerprint: string;
}

/** The JSON body of a 2xx answer (and, with `error`, of a 400 when every alert was refused). */
export interface AlertRouteResult {
  queued: QueuedAlert[];
  joined: JoinedAlert[];
  /** Alerts naming no workload: posted to the channel, no run. */
  ignored: IgnoredAlert[];
  /** Alerts refused at intake: invalid names, labels over the bounds, a cluster not served. */
  refused: IgnoredAlert[];
  resolved: ResolvedAlert[];
}

/** Options of {@link createAlertHandler}. `client` posts notes and resolution replies; `clock` gives their time. */
export interface AlertRouteOptions {
  settings: Pick<SlackSettings, "alertChannel" | "alertWebhookToken" | "clusters">;
  producer: Pick<RunsProducer, "enqueueRun" | "addRun" | "jobKeyPrefix" | "enqueueDecision">;
  store: Pick<
    RunStore,
    | "getIncident"
    | "getThread"
    | "updateIncident"
    | "claimRun"
    | "releaseRun"
    | "markOnce"
    | "getPending"
    | "decide"
  >;
  client: WebClient;
  clock?: () => Date;
  log?: Logger;
  bodyLimitBytes?: number;
}

/** A request failure with its HTTP status and a JSON `{ error }` body (plus `extra` fields). */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly extra: Record<string, unknown> = {},
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

/**
 * Checks the `Content-Type` header (RFC 9110 §8.3): media type `application/json`, case-insensitive,
 * with at most a `charset=utf-8` parameter (RFC 8259 §8.1: JSON exchanged between systems is UTF-8).
 * @throws HttpError 415 otherwise (missing, `text/plain`, `application/x-www-form-urlencoded`, another charset).
 */
export function checkContentType(header: string | undefined): void {
  const [type = "", ...params] = (header ?? "").split(";").map((p) => p.trim().toLowerCase());
  const charset = params
    .find((p) => p.startsWith("charset="))
    ?.slice("charset=".length)
    .replace(/"/g, "");
  if (type !== "application/json" || (charset !== undefined && charset !== "utf-8" && charset !== "utf8")) {
    throw new HttpError(
      415,
      `the body must be JSON: Content-Type application/json (UTF-8), not ${JSON.stringify((header ?? "").slice(0, 100)) || "none"}`,
    );
  }
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
 * Decodes the body as UTF-8 with `TextDecoder("utf-8", { fatal: true })` (WHATWG Encoding), so a
 * malformed sequence, an overlong form or a lone surrogate is an error rather than U+FFFD.
 * @throws HttpError 400 `body is not valid UTF-8`.
 */
export function decodeUtf8(body: Uint8Array): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(body);
  } catch {
    throw new HttpError(400, "body is not valid UTF-8");
  }
}

/**
 * Parses and validates a notification with `IntakeWebhookSchema` (src/contracts/alertmanager.ts):
 * the v4 fields, `startsAt` required and RFC 3339, `endsAt` RFC 3339 (`0001-01-01T00:00:00Z` allowed).
 * @throws HttpError 400 naming each bad field, e.g. `alerts.0.startsAt: expected an RFC 3339 timestamp…`.
 */
export function parseWebhook(text: string): AlertmanagerWebhook {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new HttpError(400, `body is not valid JSON: ${errorMessage(err)}`);
  }
  const parsed = IntakeWebhookSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues
      .slice(0, 20)
      .map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
    throw new HttpError(400, `invalid Alertmanager webhook (version 4): ${issues.join("; ")}`);
  }
  return parsed.data;
}

/** An alert the intake kept: its annotations bounded, what it is about, and the cluster it runs on. */
export interface ScreenedAlert {
  alert: AlertmanagerAlert;
  about: Exclude<AlertTarget, { status: "invalid" }>;
  cluster: string;
}

/**
 * Screens each alert: labels within {@link INTAKE_LIMITS} (else refused: labels are its identity),
 * a cluster this Backstop serves (`selectCluster` over `roster`; else refused, naming the alert's
 * cluster and the served ones), namespace and workload valid Kubernetes names (`resolveAlertTarget`;
 * else refused), annotations cut to the bounds (`boundAnnotations`). Pure; never throws.
 */
export function screenAlerts(
  webhook: AlertmanagerWebhook,
  roster: ClusterRoster = SINGLE_CLUSTER,
): {
  kept: ScreenedAlert[];
  refused: IgnoredAlert[];
} {
  const kept: ScreenedAlert[] = [];
  const refused: IgnoredAlert[] = [];
  webhook.alerts.forEach((alert, i) => {
    const alertname = alert.labels.alertname ?? null;
    const over = labelsOverLimit(alert.labels);
    if (over) {
      refused.push({ fingerprint: alert.fingerprint, alertname, reason: `alerts.${i}.labels: ${over}` });
      return;
    }
    const picked = clusterOfAlert(alert, roster);
    if ("refused" in picked) {
      const r = picked.refused;
      refused.push({
        fingerprint: r.fingerprint,
        alertname: r.alertname,
        reason: r.reason,
        cluster: r.cluster,
      });
      return;
    }
    const about = resolveAlertTarget(alert);
    if (about.status === "invalid") {
      refused.push({
        fingerprint: alert.fingerprint,
        alertname,
        reason: `alerts.${i}.labels: ${about.reason}`,
      });
      return;
    }
    kept.push({
      alert: {
        ...alert,
        annotations: boundAnnotations(alert.annotations),
        generatorURL: alert.generatorURL.slice(0, INTAKE_LIMITS.urlChars),
      },
      about,
      cluster: picked.cluster,
    });
  });
  return { kept, refused };
}

/** The notification as a job carries it: one alert, the group-wide maps bounded. */
function jobWebhook(webhook: AlertmanagerWebhook, alert: AlertmanagerAlert): AlertmanagerWebhook {
  return {
    ...webhook,
    receiver: webhook.receiver.slice(0, INTAKE_LIMITS.urlChars),
    externalURL: webhook.externalURL.slice(0, INTAKE_LIMITS.urlChars),
    groupLabels: boundLabelMap(webhook.groupLabels),
    commonLabels: boundLabelMap(webhook.commonLabels),
    commonAnnotations: boundAnnotations(webhook.commonAnnotations),
    alerts: [alert],
  };
}

/** A joined alert with what the follow-up note needs. */
interface JoinNote {
  holder: string;
  holderRunId: string;
  alertname: string;
  what: string;
}

/**
 * Admits one run per firing alert that names a workload (`admitRun`: one run per workload; re-sends
 * deduplicated). The incident key comes from the group key and the alert's workload
 * (`incidentKeyForAlert`). The job carries the notification with only that alert in `alerts`.
 * Resolved alerts are returned for {@link noteResolved}; alerts naming no workload go to `ignored`.
 * @throws the first admission error (BackstopError `queue.unavailable` / `store.unavailable`): runs
 *   admitted before it stay queued, and Alertmanager's retry deduplicates them.
 */
export async function queueAlerts(
  webhook: AlertmanagerWebhook,
  kept: ScreenedAlert[],
  opts: Pick<AlertRouteOptions, "settings" | "clock"> & AdmitDeps,
): Promise<{ result: Omit<AlertRouteResult, "refused">; joins: JoinNote[] }> {
  const result: Omit<AlertRouteResult, "refused"> = { queued: [], joined: [], ignored: [], resolved: [] };
  const joins: JoinNote[] = [];
  for (const { alert, about, cluster } of kept) {
    const incidentKey = incidentKeyForAlert(webhook, alert, cluster);
    if (alert.status === "resolved") {
      result.resolved.push({ incidentKey, fingerprint: alert.fingerprint });
      continue;
    }
    if (about.status === "none") {
      result.ignored.push({
        fingerprint: alert.fingerprint,
        alertname: alert.labels.alertname ?? null,
        reason: about.reason,
      });
      continue;
    }
    const data: RunJobData = {
      runId: runIdFor(incidentKey),
      cluster,
      trigger: "alert",
      incidentKey,
      target: about.target,
      // Validated RFC 3339 by the schema, so the onset is the alert's, never the receive time.
      onset: alert.startsAt as string,
      alert: jobWebhook(webhook, alert),
      note: null,
      requestedBy: null,
      slack: { channel: opts.settings.alertChannel, responseUrl: null },
    };
    const a = await admitRun(data, opts);
    if (a.status === "joined") {
      result.joined.push({
        incidentKey,
        fingerprint: alert.fingerprint,
        joined: a.holder,
        runId: a.holderRunId,
      });
      if (a.first)
        joins.push({
          holder: a.holder,
          holderRunId: a.holderRunId,
          alertname: alert.labels.alertname ?? "alert",
          what: `${workloadKey(about.target)} in ${cluster}`,
        });
      continue;
    }
    result.queued.push({
      incidentKey,
      runId: a.runId,
      fingerprint: alert.fingerprint,
      deduplicated: a.status === "duplicate",
    });
  }
  return { result, joins };
}

/**
 * Notes resolved alerts on their incidents: `updateIncident(key, { resolvedAt })` and a threaded reply
 * "resolved by Alertmanager at …" in the incident's thread. An incident awaiting approval has its
 * approval withdrawn: `decide(run, "withdrawn")` (so a later click finds it decided), a `withdrawn`
 * decision job that ends the run without acting (`approval.decided` withdrawn, `run.finished`), and
 * the escalation message's buttons replaced by "resolved on its own; approval withdrawn". No new run.
 * An alert whose incident is unknown (never fired here, expired, or joined another) is skipped.
 * Failures are logged, never thrown.
 */
export async function noteResolved(
  webhook: AlertmanagerWebhook,
  resolved: ResolvedAlert[],
  opts: Pick<AlertRouteOptions, "store" | "producer" | "client" | "clock" | "log">,
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
      const resolvedAt = alert?.endsAt && alert.endsAt !== ZERO_TIME ? alert.endsAt : at;
      await opts.store.updateIncident(r.incidentKey, { resolvedAt });
      const thread = await opts.store.getThread(r.incidentKey);
      if (thread) {
        await opts.client.chat.postMessage({
          channel: thread.channel,
          thread_ts: thread.ts,
          ...alertResolvedReply(alertname, resolvedAt),
        });
      }
      await withdrawApproval(incident.runId, at, opts, log);
    } catch (err) {
      log.error({ incidentKey: r.incidentKey, err: errorMessage(err) }, "could not note a resolved alert");
    }
  }
}

/**
 * Withdraws run `runId`'s approval if one is still pending: the store's atomic `decide` (a click racing
 * it either wins first or finds it withdrawn), then the decision job and the buttons replaced.
 * Returns true when this call withdrew it.
 */
async function withdrawApproval(
  runId: string,
  at: string,
  opts: Pick<AlertRouteOptions, "store" | "producer" | "client">,
  log: Logger,
): Promise<boolean> {
  const pending = await opts.store.getPending(runId);
  if (pending?.status !== "pending") return false;
  const outcome = await opts.store.decide(runId, "withdrawn", null, at);
  if (!outcome.won) return false;
  log.info({ runId }, "alert resolved while awaiting approval: approval withdrawn");
  await opts.producer.enqueueDecision({ runId, decision: "withdrawn", by: null, at });
  if (pending.escalationTs) {
    await opts.client.chat
      .update({
        channel: pending.channel,
        ts: pending.escalationTs,
        ...decisionMessage({
          runId,
          decision: "withdrawn",
          by: null,
          at,
          proposedAction: pending.pending.proposedAction,
        }),
      })
      .catch((err) => log.warn({ runId, err: errorMessage(err) }, "cannot withdraw the escalation buttons"));
  }
  return true;
}

/** Posts one note per joined alert in the active incident's thread (or the channel when it has none yet). */
async function noteJoins(
  joins: JoinNote[],
  opts: Pick<AlertRouteOptions, "store" | "client" | "settings">,
  log: Logger,
): Promise<void> {
  for (const j of joins) {
    try {
      const thread = await opts.store.getThread(j.holder);
      await opts.client.chat.postMessage({
        channel: thread?.channel ?? opts.settings.alertChannel,
        ...(thread ? { thread_ts: thread.ts } : {}),
        ...alertJoinedReply({ alertname: j.alertname, what: j.what, runId: j.holderRunId }),
      });
    } catch (err) {
      log.warn({ holder: j.holder, err: errorMessage(err) }, "could not post a join note");
    }
  }
}

/**
 * Posts one channel notice for the alerts that started no run (refused, or naming no workload), each
 * alert at most once per {@link NOTICE_TTL_S} (group key, fingerprint, startsAt) so re-sends stay quiet.
 */
async function noteNoRun(
  webhook: AlertmanagerWebhook,
  lines: (IgnoredAlert & { refused: boolean })[],
  opts: Pick<AlertRouteOptions, "store" | "client" | "settings">,
  log: Logger,
): Promise<void> {
  if (lines.length === 0) return;
  try {
    const fresh: typeof lines = [];
    for (const l of lines) {
      const a = webhook.alerts.find((x) => x.fingerprint === l.fingerprint);
      const id = createHash("sha256")
        .update(`${webhook.groupKey}\n${l.fingerprint}\n${a?.startsAt ?? ""}\n${l.refused}`)
        .digest("hex")
        .slice(0, 32);
      if (await opts.store.markOnce("notice", id, NOTICE_TTL_S)) fresh.push(l);
    }
    if (fresh.length === 0) return;
    await opts.client.chat.postMessage({
      channel: opts.settings.alertChannel,
      ...alertNoticeMessage(
        fresh.map((l) => ({ alertname: l.alertname ?? "alert", reason: l.reason, refused: l.refused })),
      ),
    });
  } catch (err) {
    log.warn({ err: errorMessage(err) }, "could not post the no-run notice");
  }
}

/**
 * The route handler `(req, res)` for Bolt's `customRoutes` or a plain node:http server; see the
 * module comment for every answer. Nothing is queued for a refused request. Slack notes are posted
 * after the answer is sent.
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
      let screened: ReturnType<typeof screenAlerts>;
      try {
        try {
          checkContentType(req.headers["content-type"]);
        } catch (err) {
          req.resume();
          throw err;
        }
        webhook = parseWebhook(decodeUtf8(await readBody(req, limit)));
        screened = screenAlerts(webhook, clusterRoster(opts.settings));
        if (screened.kept.length === 0) {
          const w = webhook;
          void noteNoRun(
            w,
            screened.refused.map((r) => ({ ...r, refused: true })),
            opts,
            log,
          );
          throw new HttpError(400, "every alert was refused; nothing was queued", {
            refused: screened.refused,
          });
        }
      } catch (err) {
        const status = err instanceof HttpError ? err.status : 400;
        log.warn({ status, err: errorMessage(err) }, "alertmanager webhook refused");
        const extra = err instanceof HttpError ? err.extra : {};
        sendJson(
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
          { groupKey: webhook.groupKey, err: errorMessage(err), code: (err as { code?: string }).code },
          "cannot queue alert runs",
        );
        sendJson(res, 503, { error: `cannot queue runs: ${errorMessage(err)}` }, { "retry-after": "10" });
        return;
      }
      const result: AlertRouteResult = { ...queued.result, refused: screened.refused };
      log.info(
        {
          groupKey: webhook.groupKey,
          queued: result.queued.length,
          deduplicated: result.queued.filter((q) => q.deduplicated).length,
          joined: result.joined.length,
          ignored: result.ignored.length,
          refused: result.refused.length,
          resolved: result.resolved.length,
        },
        "alertmanager notification accepted",
      );
      sendJson(res, result.queued.length > 0 ? 202 : 200, result);
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
      log.error({ err: errorMessage(err) }, "alert route failed");
      sendJson(res, 500, { error: "internal error" });
    });
  };
}
