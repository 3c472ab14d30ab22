import { hash } from "node:crypto";
import { z } from "zod";
import {
  type AlertmanagerAlert,
  type AlertmanagerWebhook,
  AlertmanagerWebhookSchema,
} from "../contracts/alertmanager.js";
import { ClusterNameSchema } from "../contracts/cluster.js";
import { type RunTarget, targetFromAlert, workloadKey } from "../pipeline/target.js";

/**
 * The BullMQ job formats of Backstop's `runs` queue. One queue carries three job names:
 * - `triage` ({@link RunJobData}): start a run for an alert or a slash command;
 * - `decision` ({@link DecisionJobData}): a human (or the timeout) answered an escalation;
 * - `expire` ({@link ExpiryJobData}): a delayed job that rejects a pending approval after its timeout.
 *
 * Job data holds no secret: no tokens, no raw log lines (an alert's labels and annotations are fine).
 * Job ids never contain `:` (BullMQ uses `:` as its key separator), see
 * https://docs.bullmq.io/guide/jobs/job-ids.
 */

/** The name of the BullMQ queue that carries runs, decisions and expiries. */
export const RUNS_QUEUE = "runs";

/** The job names on {@link RUNS_QUEUE}. */
export const JOB_NAMES = { triage: "triage", decision: "decision", expire: "expire" } as const;

/** A job name on {@link RUNS_QUEUE}. */
export type RunJobName = (typeof JOB_NAMES)[keyof typeof JOB_NAMES];

/**
 * A `triage` job: one run for one incident. `incidentKey` is also the BullMQ job id; `runId` is
 * derived from it ({@link runIdFor}). `onset` is ISO-8601. `alert` is the Alertmanager webhook (v4)
 * that started it, or null for a slash command; `requestedBy` the Slack user id of a command's caller.
 * `slack.channel` is where the incident's thread lives; `slack.responseUrl` a slash command's
 * `response_url` (valid 30 minutes, no secret by itself) or null. `cluster` is the configured cluster
 * intake selected (`selectCluster`); the worker reads and acts on that cluster only.
 */
export const RunJobDataSchema = z.object({
  runId: z.string().min(1),
  cluster: ClusterNameSchema,
  trigger: z.enum(["alert", "command"]),
  incidentKey: z.string().min(1),
  target: z.object({
    namespace: z.string().min(1),
    workload: z.string().min(1),
    /** The kind the alert named (see `RunTarget`); absent: the Deployment, else the StatefulSet, of that name. */
    kind: z
      .enum(["Deployment", "StatefulSet", "DaemonSet", "Job", "HorizontalPodAutoscaler", "Pod"])
      .optional(),
  }),
  onset: z.string().min(1),
  alert: AlertmanagerWebhookSchema.nullable(),
  note: z.string().nullable(),
  requestedBy: z.string().nullable(),
  slack: z.object({ channel: z.string().min(1), responseUrl: z.string().nullable() }),
});
/** See {@link RunJobDataSchema}. */
export type RunJobData = z.infer<typeof RunJobDataSchema>;

/**
 * A `decision` job: the answer to a run's escalation. `by` is the Slack user id of the approver, or
 * null for `expired` and `withdrawn` (Alertmanager resolved the alert while it awaited approval); `at` is ISO-8601. Job id `decision-<runId>`, so a run is decided once.
 */
export const DecisionJobDataSchema = z.object({
  runId: z.string().min(1),
  decision: z.enum(["approved", "rejected", "expired", "withdrawn"]),
  by: z.string().nullable(),
  at: z.string().min(1),
});
/** See {@link DecisionJobDataSchema}. */
export type DecisionJobData = z.infer<typeof DecisionJobDataSchema>;

/** An `expire` job: the approval timeout of `runId` has passed. Job id `expire-<runId>`. */
export const ExpiryJobDataSchema = z.object({ runId: z.string().min(1) });
/** See {@link ExpiryJobDataSchema}. */
export type ExpiryJobData = z.infer<typeof ExpiryJobDataSchema>;

/**
 * The incident key of one alert in an Alertmanager notification: `am-` followed by the first 32 hex
 * digits of sha256(`groupKey` + "\n" + what the alert is about). Alertmanager re-sends a group on
 * every `group_interval` and repeats it on `repeat_interval` with the same `groupKey` and the same
 * alert `fingerprint` (https://prometheus.io/docs/alerting/latest/configuration/#webhook_config), so
 * all of them map to one key, hence one job, hence one run. "What the alert is about" is its workload
 * (`workloadKey` of `targetFromAlert`: `ns/name` for a named Deployment or StatefulSet, `ns/Kind/name`
 * for a pod, an HPA, a Job or a DaemonSet) when it names one — so the alerts of one Deployment (one
 * fingerprint each, e.g. per container) make one incident — with the earliest `startsAt` of that
 * workload's alerts, and its fingerprint otherwise. (Alerts naming different pods of one Deployment
 * are separate incidents here; their runs meet in the active-run index once each resolves its pod's
 * owner, so they still make one run.) Contains no `:`.
 * The cluster leads the key (`am-<cluster>-<hash>`) and is hashed too: the same workload in two
 * clusters is two incidents. Never throws.
 */
export function incidentKeyForAlert(
  webhook: AlertmanagerWebhook,
  alert: AlertmanagerAlert,
  cluster: string,
): string {
  return incidentKeyer(webhook)(alert, cluster);
}

/**
 * {@link incidentKeyForAlert} for many alerts of one notification: the earliest `startsAt` of each
 * workload is found in one pass over `webhook.alerts` (on first use), not once per alert, and equal
 * keys are hashed once. The returned function takes an alert of `webhook` (or a copy with the same
 * labels) and its cluster. `targetOf` is `targetFromAlert` unless the caller already resolved the
 * alerts (it must answer as `targetFromAlert` would). Never throws.
 */
export function incidentKeyer(
  webhook: AlertmanagerWebhook,
  targetOf: (alert: AlertmanagerAlert) => RunTarget | null = targetFromAlert,
): (alert: AlertmanagerAlert, cluster: string) => string {
  let earliest: Map<string, string> | null = null;
  const keys = new Map<string, string>();
  const startsOf = (wk: string): string => {
    if (!earliest) {
      earliest = new Map();
      for (const a of webhook.alerts) {
        const t = targetOf(a);
        if (t === null) continue;
        const k = workloadKey(t);
        const s = a.startsAt ?? "";
        const cur = earliest.get(k);
        if (cur === undefined || s < cur) earliest.set(k, s);
      }
    }
    return earliest.get(wk) ?? "";
  };
  return (alert, cluster) => {
    const target = targetOf(alert);
    let subject = `fingerprint=${alert.fingerprint}`;
    if (target) {
      // The incident began with the workload's earliest alert in this group: re-sends keep `startsAt`, a
      // new firing after a resolution gets a new one, so it is a new incident (and a new run).
      const wk = workloadKey(target);
      subject = `workload=${wk}\nstartsAt=${startsOf(wk)}`;
    }
    const text = `cluster=${cluster}\n${webhook.groupKey}\n${subject}`;
    let key = keys.get(text);
    if (key === undefined) {
      key = `am-${keyPart(cluster)}-${hash("sha256", text, "hex").slice(0, 32)}`;
      keys.set(text, key);
    }
    return key;
  };
}

/** Keeps `[A-Za-z0-9._-]` and turns anything else (notably `:` and `/`) into `-`. */
function keyPart(s: string): string {
  return s.replace(/[^A-Za-z0-9._-]/g, "-");
}

/**
 * The incident key of a `/backstop triage [<cluster>/]<namespace>/<workload>` command:
 * `cmd-<cluster>-<ns>-<workload>-<nonce>` (the nonce, e.g. the command's trigger id, makes each command
 * its own run). Characters outside `[A-Za-z0-9._-]` become `-`, so the key never contains `:`. Never throws.
 */
export function incidentKeyForCommand(
  cluster: string,
  namespace: string,
  workload: string,
  nonce: string,
): string {
  return `cmd-${keyPart(cluster)}-${keyPart(namespace)}-${keyPart(workload)}-${keyPart(nonce)}`;
}

/**
 * The run id of an incident: `run-<incidentKey>`. Stable, so a retried or recovered job keeps its run
 * id, and with it the write path's idempotency keys (an action runs at most once). Never throws.
 */
export function runIdFor(incidentKey: string): string {
  return `run-${keyPart(incidentKey)}`;
}
