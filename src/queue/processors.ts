import type { WebClient } from "@slack/web-api";
import { alertJoinedReply, errorMessage as errorBlocks, type IncidentStatus } from "../../blocks/index.js";
import { errorMessage } from "../errors.js";
import { childLogger } from "../log.js";
import { resumeAfterDecision } from "../pipeline/decide.js";
import type { PendingApproval } from "../pipeline/ports.js";
import { type RunResult, runBackstop } from "../pipeline/run.js";
import { needsResolution, type RunTarget, resolveRunTarget, workloadKey } from "../pipeline/target.js";
import { serializeReceipt } from "../receipt/index.js";
import { SlackThreadReporter } from "../slack/reporter.js";
import { activeRunKey } from "./admit.js";
import { type DecisionJobData, type ExpiryJobData, type RunJobData, runIdFor } from "./jobs.js";
import { JOB_ATTEMPTS, type RunProcessors, type RunsProducer } from "./runs.js";
import { StageReporter } from "./stage-reporter.js";
import type { IncidentRecord, RunStore } from "./store.js";
import type { OpenedWorld, RunWorld } from "./world.js";

type RunWorldDeps = OpenedWorld["deps"];

const log = childLogger("worker");

/** How long a finished run waits for Slack to take the messages an outage held back (ms). */
const FLUSH_TIMEOUT_MS = 10_000;

/** What the processors need besides the world: Slack, the stores, the producer, approval settings. */
export interface ProcessorDeps {
  world: RunWorld;
  slack: WebClient;
  store: RunStore;
  producer: Pick<RunsProducer, "enqueueDecision" | "scheduleExpiry" | "cancelExpiry" | "jobKeyPrefix">;
  approvers: string[];
  /** How long an escalation waits for a decision before it counts as rejected (ms). */
  approvalTimeoutMs: number;
  clock?: () => Date;
}

/**
 * The worker's job processors: `triage` runs the guarded pipeline for an incident and posts its
 * thread; a run that escalates with a proposed action is saved as a pending decision with a timeout;
 * `decision` continues it after Approve/Reject (the store's atomic `decide` already picked one
 * winner); `expire` turns an undecided escalation into a rejection. Receipts are stored in Redis as
 * the exact signed bytes, for download from the thread.
 */
export function createProcessors(d: ProcessorDeps): RunProcessors {
  const now = d.clock ?? (() => new Date());

  const reportersFor = (
    incident: IncidentRecord,
    setStage: ((s: string) => Promise<void>) | null,
  ): [StageReporter, SlackThreadReporter] => [
    new StageReporter(d.store, incident.key, setStage),
    new SlackThreadReporter({
      client: d.slack,
      channel: incident.channel,
      incidentKey: incident.key,
      threads: d.store,
      view: {
        runId: incident.runId,
        cluster: incident.cluster ?? null,
        alertname: incident.alertname,
        severity: incident.severity,
        namespace: incident.namespace,
        workload: incident.workload,
        trigger: incident.trigger,
        requestedBy: incident.requestedBy,
        startedAt: incident.startedAt,
      },
      approvers: d.approvers,
      approvalTimeoutMs: d.approvalTimeoutMs,
    }),
  ];

  /**
   * Writes the incident's last stage, then gives Slack one bounded last chance to post what it has not
   * posted yet: the run does not wait for Slack while it runs, so this is where a job waits for its
   * thread, also when the run failed. Throws nothing.
   */
  const settle = async (runId: string, stage: StageReporter, slack: SlackThreadReporter): Promise<void> => {
    await stage.flush();
    const flushed = await Promise.race([
      slack.flush(),
      new Promise<boolean>((r) => setTimeout(() => r(false), FLUSH_TIMEOUT_MS).unref()),
    ]);
    if (!flushed) log.warn({ runId, held: slack.pending() }, "some Slack messages could not be posted");
  };

  /**
   * Stores the receipt (the exact signed bytes), puts its line (with the download button) in the thread
   * when the run finished, then {@link settle}s the run's reporters.
   */
  const saveResult = async (
    result: RunResult,
    stage: StageReporter,
    slack: SlackThreadReporter,
  ): Promise<void> => {
    await d.store.saveReceipt(result.runId, serializeReceipt(result.receipt));
    if (!result.pending) {
      const { head_hash, events, signature } = result.receipt;
      slack.receiptStored({ headHash: head_hash, events: events.length, keyId: signature.key_id });
    }
    await settle(result.runId, stage, slack);
  };

  /** Persists an escalation's pending decision and its timeout, before Slack shows the buttons. */
  const savePending = async (incident: IncidentRecord, pending: PendingApproval): Promise<void> => {
    const thread = await d.store.getThread(incident.key);
    const expiresAt = new Date(now().getTime() + d.approvalTimeoutMs).toISOString();
    await d.store.savePending({
      runId: pending.runId,
      incidentKey: incident.key,
      pending,
      status: "pending",
      expiresAt,
      channel: incident.channel,
      threadTs: thread?.ts ?? "",
    });
    await d.producer.scheduleExpiry(pending.runId, d.approvalTimeoutMs);
  };

  const reportStartFailure = async (incident: IncidentRecord, err: unknown): Promise<void> => {
    const where = incident.cluster ? `${incident.cluster}/` : "";
    const text =
      `Backstop could not start triage of ${where}${incident.namespace}/${incident.workload} ` +
      `(run ${incident.runId}) after ${JOB_ATTEMPTS} attempts: ${errorMessage(err)}. Nothing was changed; ` +
      "a human needs to look at this incident.";
    const thread = await d.store.getThread(incident.key).catch(() => null);
    await d.slack.chat
      .postMessage({
        channel: incident.channel,
        ...(thread ? { thread_ts: thread.ts } : {}),
        ...errorBlocks(text),
      })
      .catch((e) => log.error({ runId: incident.runId, err: e }, "could not tell Slack the run failed"));
    // Marked failed once the channel has been told (or telling it failed).
    await d.store.updateIncident(incident.key, { status: "failed", summary: text }).catch(() => undefined);
  };

  /** Tells the active incident's thread that this incident joined it, and closes this incident. */
  const noteJoined = async (incident: IncidentRecord, holder: string, target: RunTarget): Promise<void> => {
    const thread = await d.store.getThread(holder).catch(() => null);
    await d.slack.chat
      .postMessage({
        channel: thread?.channel ?? incident.channel,
        ...(thread ? { thread_ts: thread.ts } : {}),
        ...alertJoinedReply({
          alertname: incident.alertname ?? "/backstop triage",
          what: incident.cluster ? `${workloadKey(target)} in ${incident.cluster}` : workloadKey(target),
          runId: runIdFor(holder),
        }),
      })
      .catch((err) => log.warn({ holder, err }, "could not post a join note"));
    await d.store
      .updateIncident(incident.key, {
        status: "escalated",
        summary: `Joined the active run ${runIdFor(holder)} for ${workloadKey(target)}; no second run.`,
      })
      .catch(() => undefined);
  };

  /** Ends the run's hold on its workload's active-run entry (one run per workload). Never throws. */
  const release = async (cluster: string, target: RunTarget, incidentKey: string): Promise<void> => {
    await d.store
      .releaseRun(activeRunKey(cluster, target), incidentKey)
      .catch((err) => log.warn({ incidentKey, err }, "could not release the active run"));
  };

  /** Releases the entry of the target as named and, when the run resolved an owner, the owner's. */
  const releaseAll = async (
    cluster: string,
    named: RunTarget,
    resolved: RunTarget,
    incidentKey: string,
  ): Promise<void> => {
    await release(cluster, resolved, incidentKey);
    if (workloadKey(named) !== workloadKey(resolved)) await release(cluster, named, incidentKey);
  };

  /**
   * The workload a job's target means: a Pod, HPA or Job named by the alert is resolved to its owner
   * through the read-only path (when the world offers it), then the owner's active-run entry is
   * claimed. Returns the target, or the holder when another incident's run is active for it.
   */
  const resolveAndClaim = async (
    data: RunJobData,
    signals: RunWorldDeps["signals"],
  ): Promise<{ target: RunTarget; joined: string | null }> => {
    if (!needsResolution(data.target)) return { target: data.target, joined: null };
    const target = await resolveRunTarget(data.target, signals, (err) =>
      log.warn({ runId: data.runId, err }, "cannot resolve the alert's owner; triaging it as named"),
    );
    const claim = await d.store.claimRun({
      workloadKey: activeRunKey(data.cluster, target),
      incidentKey: data.incidentKey,
      jobKeyPrefix: d.producer.jobKeyPrefix,
      checkOwnJob: false,
    });
    return { target, joined: claim.status === "joined" ? claim.holder : null };
  };

  return {
    async triage(data: RunJobData, job) {
      let incident = await d.store.getIncident(data.incidentKey);
      if (!incident) {
        incident = {
          key: data.incidentKey,
          runId: data.runId,
          cluster: data.cluster,
          namespace: data.target.namespace,
          workload: data.target.workload,
          alertname: data.alert?.commonLabels.alertname ?? data.alert?.alerts[0]?.labels.alertname ?? null,
          severity: data.alert?.commonLabels.severity ?? data.alert?.alerts[0]?.labels.severity ?? null,
          trigger: data.trigger,
          requestedBy: data.requestedBy,
          channel: data.slack.channel,
          status: "triaging" satisfies IncidentStatus,
          stage: null,
          summary: null,
          startedAt: now().toISOString(),
          resolvedAt: null,
        };
        await d.store.saveIncident(incident);
      }
      if (job.attemptsMade > 0)
        log.warn({ runId: data.runId, attempt: job.attemptsMade + 1 }, "retrying a run");
      // An earlier attempt (or an earlier job of this incident) already escalated, and the decision is a
      // human's now: starting over could act beside that decision, or post a second set of buttons.
      if (await d.store.getPending(data.runId)) {
        log.warn(
          { runId: data.runId },
          "the run already has an escalation awaiting or past its decision; not starting it again",
        );
        return { outcome: "escalated", pending: true };
      }
      let opened: Awaited<ReturnType<RunWorld["open"]>>;
      try {
        opened = await d.world.open({
          runId: data.runId,
          incidentKey: data.incidentKey,
          cluster: data.cluster,
        });
      } catch (err) {
        // Nothing of the run could start (e.g. the infra MCP server is unreachable). BullMQ retries;
        // after the last attempt a human hears of it in the channel, not from silence.
        if (job.attemptsMade + 1 >= JOB_ATTEMPTS) {
          await reportStartFailure(incident, err);
          await release(data.cluster, data.target, data.incidentKey);
        }
        throw err;
      }
      let target: RunTarget = data.target;
      try {
        const claimed = await resolveAndClaim(data, opened.deps.signals);
        target = claimed.target;
        if (target.workload !== incident.workload) {
          // The alert named a pod, an HPA or a Job: the incident is about the workload that owns it.
          incident = { ...incident, workload: target.workload };
          await d.store.updateIncident(incident.key, { workload: target.workload });
        }
        if (claimed.joined) {
          await noteJoined(incident, claimed.joined, target);
          await release(data.cluster, data.target, data.incidentKey);
          await opened.close();
          return { outcome: "joined", joined: claimed.joined };
        }
      } catch (err) {
        await opened.close();
        throw err;
      }
      const [stage, slack] = reportersFor(incident, (s) => job.setStage(s));
      let pendingRun = false;
      try {
        const result = await runBackstop(
          {
            runId: data.runId,
            cluster: data.cluster,
            trigger: data.trigger,
            target,
            onset: new Date(data.onset),
            alert: data.alert,
            note: data.note,
          },
          {
            ...opened.deps,
            reporters: [stage, slack.background(), ...opened.reporters],
            options: {
              awaitApproval: true,
              onPending: (p) => savePending(incident, p),
              recoveryTimeoutMs: d.world.recoveryTimeoutMs,
              window: d.world.signalsWindow,
            },
          },
        );
        pendingRun = result.pending !== null;
        // The run is over (its final status is written): the workload is free before the receipt and
        // the thread settle, so an alert that comes meanwhile starts a run.
        if (!pendingRun) await releaseAll(data.cluster, data.target, target, data.incidentKey);
        await saveResult(result, stage, slack);
        const escalationTs = slack.escalationMessageTs();
        if (result.pending && escalationTs) await d.store.setEscalationTs(result.runId, escalationTs);
        return { outcome: result.outcome, pending: pendingRun };
      } catch (err) {
        await settle(data.runId, stage, slack);
        if (job.attemptsMade + 1 >= JOB_ATTEMPTS)
          await releaseAll(data.cluster, data.target, target, data.incidentKey);
        throw err;
      } finally {
        await opened.close();
      }
    },

    async decision(data: DecisionJobData) {
      const record = await d.store.getPending(data.runId);
      if (!record) {
        log.warn({ runId: data.runId }, "a decision for a run with no pending approval; ignored");
        return { ignored: true };
      }
      if (record.status !== data.decision) {
        // Only the store's atomic decide() makes a decision; a job that disagrees with it is ignored.
        log.warn(
          { runId: data.runId, job: data.decision, stored: record.status },
          "decision job does not match the store",
        );
        return { ignored: true };
      }
      if (data.decision !== "expired") await d.producer.cancelExpiry(data.runId);
      const incident = await d.store.getIncident(record.incidentKey);
      if (!incident) throw new Error(`incident ${record.incidentKey} of run ${data.runId} is missing`);
      // The approval acts on the cluster the run was diagnosed on, and no other: the world opens
      // that cluster's signals and write path (and refuses a cluster it does not serve).
      const cluster = record.pending.cluster ?? incident.cluster ?? undefined;
      const opened = await d.world.open({
        runId: data.runId,
        incidentKey: record.incidentKey,
        ...(cluster ? { cluster } : {}),
      });
      const [stage, slack] = reportersFor(incident, null);
      if (record.escalationTs) slack.adoptEscalation(record.escalationTs, record.pending.proposedAction);
      try {
        const result = await resumeAfterDecision(
          record.pending,
          { decision: data.decision, by: data.by, at: new Date(data.at) },
          {
            ...opened.deps,
            reporters: [stage, slack.background(), ...opened.reporters],
            options: { recoveryTimeoutMs: d.world.recoveryTimeoutMs, window: d.world.signalsWindow },
          },
        );
        if (cluster) await release(cluster, record.pending.target, record.incidentKey);
        await saveResult(result, stage, slack);
        return { outcome: result.outcome };
      } catch (err) {
        await settle(data.runId, stage, slack);
        log.error({ runId: data.runId, err }, "decision failed");
        throw err;
      } finally {
        await opened.close();
      }
    },

    async expire(data: ExpiryJobData) {
      const at = now().toISOString();
      const r = await d.store.decide(data.runId, "expired", null, at);
      if (r.won) {
        await d.producer.enqueueDecision({ runId: data.runId, decision: "expired", by: null, at });
        return { expired: true };
      }
      // A click decided it, but its decision job may never have been queued (Redis failed between the
      // two). The decision job id is fixed, so queueing it again is a no-op when it already exists.
      const rec = await d.store.getPending(data.runId);
      if (rec && (rec.status === "approved" || rec.status === "rejected" || rec.status === "withdrawn")) {
        await d.producer.enqueueDecision({
          runId: data.runId,
          decision: rec.status,
          by: rec.decidedBy ?? null,
          at: rec.decidedAt ?? at,
        });
      }
      return { expired: false };
    },
  };
}
