import { childLogger } from "../log.js";
import { type RunTarget, workloadKey } from "../pipeline/target.js";
import type { RunJobData } from "./jobs.js";
import { runIdFor } from "./jobs.js";
import type { RunsProducer } from "./runs.js";
import type { RunStore } from "./store.js";

const log = childLogger("queue.admit");

/**
 * How a run request was admitted:
 * - `queued`: a new `triage` job;
 * - `duplicate`: this incident's job already exists (a re-send, a repeat): nothing new;
 * - `joined`: another incident (`holder`, run `holderRunId`) has a run queued, running or awaiting
 *   approval for the same workload, so no second run starts; `first` is true the first time this
 *   incident joins it (post the note once).
 */
export type Admission =
  | { status: "queued"; incidentKey: string; runId: string }
  | { status: "duplicate"; incidentKey: string; runId: string }
  | {
      status: "joined";
      incidentKey: string;
      runId: string;
      holder: string;
      holderRunId: string;
      first: boolean;
    };

/**
 * The key of a workload's active-run entry: `<cluster>/<workloadKey>` (cluster names have no `/`), so
 * one run per workload *per cluster*: `shop/checkout` in prod-eu1 never joins the run of
 * `shop/checkout` in prod-us1.
 */
export function activeRunKey(cluster: string, target: RunTarget): string {
  return `${cluster}/${workloadKey(target)}`;
}

/** What {@link admitRun} needs. */
export interface AdmitDeps {
  store: Pick<RunStore, "claimRun" | "releaseRun">;
  producer: Pick<RunsProducer, "jobKeyPrefix" | "addRun">;
}

/**
 * Admits one run request, one run per workload, in one Redis round trip for a re-send or a join and
 * two for a new run: the target's active-run entry is claimed and the incident's own job looked for
 * in one Lua script (`RunStore.claimRun`); only a new claim adds the job (the second round trip). If
 * the add fails, the claim is released so Alertmanager's retry starts clean. A Pod, HPA or Job claims
 * the entry of the object it names (`ns/Pod/name`: alerts about the same pod meet here); the worker
 * claims its owner's once it has resolved it, so alerts naming different pods of one Deployment
 * still make one run.
 * @throws BackstopError `store.unavailable`, `queue.unavailable`, `input.invalid_job`.
 */
export function admitRun(data: RunJobData, deps: AdmitDeps): Promise<Admission> {
  return admitLazily(data, () => data, deps);
}

/**
 * {@link admitRun} with the job's data built only when a new run is queued: `request` names the
 * incident and its target (the data's `incidentKey`, `runId`, `cluster`, `target`), and `job()` is
 * called after a new claim, so a re-send or a join does not build the job (the notification copy).
 * @throws as {@link admitRun}, and whatever `job()` throws (the claim is then released).
 */
export async function admitLazily(
  request: Pick<RunJobData, "incidentKey" | "runId" | "cluster" | "target">,
  job: () => RunJobData,
  deps: AdmitDeps,
): Promise<Admission> {
  const { incidentKey, runId } = request;
  const key = activeRunKey(request.cluster, request.target);
  const claim = await deps.store.claimRun({
    workloadKey: key,
    incidentKey,
    jobKeyPrefix: deps.producer.jobKeyPrefix,
    checkOwnJob: true,
  });
  if (claim.status === "duplicate") return { status: "duplicate", incidentKey, runId };
  if (claim.status === "joined") {
    return {
      status: "joined",
      incidentKey,
      runId,
      holder: claim.holder,
      holderRunId: runIdFor(claim.holder),
      first: claim.first,
    };
  }
  try {
    await deps.producer.addRun(job());
  } catch (err) {
    await deps.store.releaseRun(key, incidentKey).catch((e) => {
      log.warn({ incidentKey, err: e }, "could not release a claim after a failed enqueue");
    });
    throw err;
  }
  return { status: "queued", incidentKey, runId };
}
