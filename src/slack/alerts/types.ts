/** The shapes of the Alertmanager route: its answer (queued, joined, ignored, refused, resolved alerts) and its options. */
import type { WebClient } from "@slack/web-api";
import type { Logger } from "pino";
import type { RunsProducer } from "../../queue/runs.js";
import type { RunStore } from "../../queue/store.js";
import type { SlackSettings } from "../config.js";

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

/** A joined alert with what the follow-up note needs. */
export interface JoinNote {
  holder: string;
  holderRunId: string;
  alertname: string;
  what: string;
}
