/** The Slack notes the Alertmanager route posts after answering: resolutions (and withdrawn approvals), joins, no-run notices. */
import { createHash } from "node:crypto";
import type { Logger } from "pino";
import {
  alertJoinedReply,
  alertNoticeMessage,
  alertResolvedReply,
  decisionMessage,
} from "../../../blocks/index.js";
import { type AlertmanagerWebhook, ZERO_TIME } from "../../contracts/alertmanager.js";
import { childLogger } from "../../log.js";
import type { AlertRouteOptions, IgnoredAlert, JoinNote, ResolvedAlert } from "./types.js";

/** How long a channel notice for one alert (refused, no workload) is not repeated (s): Alertmanager re-sends a group every `group_interval`. */
export const NOTICE_TTL_S = 24 * 60 * 60;

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
      log.error({ incidentKey: r.incidentKey, err }, "could not note a resolved alert");
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
      .catch((err) => log.warn({ runId, err }, "cannot withdraw the escalation buttons"));
  }
  return true;
}

/** Posts one note per joined alert in the active incident's thread (or the channel when it has none yet). */
export async function noteJoins(
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
      log.warn({ holder: j.holder, err }, "could not post a join note");
    }
  }
}

/**
 * Posts one channel notice for the alerts that started no run (refused, or naming no workload), each
 * alert at most once per {@link NOTICE_TTL_S} (group key, fingerprint, startsAt) so re-sends stay quiet.
 */
export async function noteNoRun(
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
    log.warn({ err }, "could not post the no-run notice");
  }
}
