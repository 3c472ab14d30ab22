import type { Logger } from "pino";
import type { RunsProducer } from "../queue/runs.js";
import type { RunStore } from "../queue/store.js";
import type { SlackSettings } from "./config.js";

/**
 * What the Slack listeners (`commands/`, `actions/`, `events/`) get from the app: the narrow views of
 * the queue and the Redis stores they use, and the {@link ListenerContext} handed to each `register`.
 * Listeners import this module, never `app.ts`, so the app imports its listeners downward only.
 */

/** What the listeners need from the queue: enqueue a run, enqueue a decision (see `src/queue/runs.ts`). */
export type SlackProducer = Pick<RunsProducer, "enqueueRun" | "enqueueDecision" | "addRun" | "jobKeyPrefix">;

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
  | "claimRun"
  | "releaseRun"
  | "markOnce"
>;

/** What every listener gets at registration: settings, dependencies with defaults filled, a logger. */
export interface ListenerContext {
  settings: SlackSettings;
  producer: SlackProducer;
  store: SlackStore;
  newNonce: () => string;
  clock: () => Date;
  log: Logger;
}
