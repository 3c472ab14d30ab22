import { type Job, Queue, UnrecoverableError, Worker } from "bullmq";
import { ZodError } from "zod";
import { BackstopError, errorMessage, isBackstopError } from "../errors.js";
import { childLogger } from "../log.js";
import {
  type DecisionJobData,
  DecisionJobDataSchema,
  type ExpiryJobData,
  ExpiryJobDataSchema,
  JOB_NAMES,
  RUNS_QUEUE,
  type RunJobData,
  RunJobDataSchema,
} from "./jobs.js";

const log = childLogger("queue");

/**
 * Redis connection OPTIONS for BullMQ and the stores (never an ioredis instance: given options,
 * BullMQ builds its own clients and sets `maxRetriesPerRequest: null` on the blocking ones, see
 * https://docs.bullmq.io/guide/going-to-production). `tls` is passed to `tls.connect` (an empty
 * object turns TLS on with the system CAs).
 */
export interface QueueConnection {
  host: string;
  port: number;
  password?: string;
  db?: number;
  username?: string;
  tls?: object;
}

/**
 * Parses a Redis URL (`redis://[[user]:password@]host[:port][/db]`, or `rediss://` for TLS; IANA
 * provisional schemes https://www.iana.org/assignments/uri-schemes/prov/redis) into
 * {@link QueueConnection}. Port defaults to 6379, db to 0 (left out). User info is percent-decoded.
 * @throws BackstopError `queue.bad_url` when the URL does not parse, has another scheme, or a bad db.
 */
export function connectionFromUrl(url: string): QueueConnection {
  let u: URL;
  try {
    u = new URL(url);
  } catch (err) {
    throw new BackstopError("queue.bad_url", "the Redis URL does not parse", { cause: err });
  }
  if (u.protocol !== "redis:" && u.protocol !== "rediss:") {
    throw new BackstopError(
      "queue.bad_url",
      `the Redis URL scheme must be redis: or rediss:, not ${u.protocol}`,
    );
  }
  if (!u.hostname) throw new BackstopError("queue.bad_url", "the Redis URL has no host");
  const conn: QueueConnection = {
    host: u.hostname.replace(/^\[(.*)\]$/, "$1"),
    port: u.port ? Number(u.port) : 6379,
  };
  if (u.username) conn.username = decodeURIComponent(u.username);
  if (u.password) conn.password = decodeURIComponent(u.password);
  const path = u.pathname.replace(/^\//, "");
  if (path !== "") {
    if (!/^\d+$/.test(path)) throw new BackstopError("queue.bad_url", `the Redis URL's db must be a number`);
    conn.db = Number(path);
  }
  if (u.protocol === "rediss:") conn.tls = {};
  return conn;
}

/** How long completed and failed jobs are kept (s): a job id seen within it deduplicates. */
export const KEEP_JOBS_S = 24 * 60 * 60;
/** Attempts per job (the first run and two retries), exponential backoff from {@link BACKOFF_MS}. */
export const JOB_ATTEMPTS = 3;
/** The first retry's delay (ms); then 2x, 4x ({@link https://docs.bullmq.io/guide/retrying-failing-jobs}). */
export const BACKOFF_MS = 1000;

const jobDefaults = {
  attempts: JOB_ATTEMPTS,
  backoff: { type: "exponential", delay: BACKOFF_MS },
  removeOnComplete: { age: KEEP_JOBS_S },
  removeOnFail: { age: KEEP_JOBS_S },
} as const;

/** BullMQ separates its keys with `:`; a job id with one would break them. */
function noColon(id: string): void {
  if (id.includes(":")) throw new BackstopError("input.invalid_job", `a job id must not contain ':' (${id})`);
}

/**
 * The `triage` job data checked by `RunJobDataSchema`, and its job id (`incidentKey`, which must have no `:`).
 * @throws BackstopError `input.invalid_job` (data that does not match the schema, or a `:` in the key).
 */
function parseRunJob(data: RunJobData): { job: RunJobData; jobId: string } {
  const parsed = RunJobDataSchema.safeParse(data);
  if (!parsed.success) {
    throw new BackstopError("input.invalid_job", `invalid triage job: ${parsed.error.message}`, {
      cause: parsed.error,
    });
  }
  const jobId = parsed.data.incidentKey;
  noColon(jobId);
  return { job: parsed.data, jobId };
}

function unavailable(err: unknown): BackstopError {
  if (isBackstopError(err, "queue.unavailable")) return err;
  return new BackstopError("queue.unavailable", `the runs queue is unavailable: ${errorMessage(err)}`, {
    cause: err,
  });
}

/**
 * Enqueues onto {@link RUNS_QUEUE}: the bot and the Alertmanager route use it. Its connection has
 * `enableOfflineQueue: false`, so with Redis down a command fails at once instead of waiting for a
 * reconnect (https://docs.bullmq.io/patterns/failing-fast-when-redis-is-down); a first connection
 * that never comes up is cut off after `timeoutMs` (default 2000 ms). Either way the caller gets
 * BackstopError `queue.unavailable` (the HTTP route answers 503 and Alertmanager retries).
 *
 * Every job gets {@link JOB_ATTEMPTS} attempts with exponential backoff, and is kept
 * {@link KEEP_JOBS_S} s after it completes or fails.
 */
export class RunsProducer {
  private readonly queue: Queue;
  private readonly timeoutMs: number;

  /** `prefix` is BullMQ's key prefix (default `bull`); tests use their own. */
  constructor(opts: { connection: QueueConnection; prefix?: string; timeoutMs?: number }) {
    this.timeoutMs = opts.timeoutMs ?? 2000;
    this.queue = new Queue(RUNS_QUEUE, {
      connection: { ...opts.connection, enableOfflineQueue: false },
      ...(opts.prefix === undefined ? {} : { prefix: opts.prefix }),
      defaultJobOptions: jobDefaults,
    });
    this.queue.on("error", (err) => log.warn({ err }, "runs queue connection error"));
  }

  /** Runs `op` with the fail-fast deadline; any failure becomes `queue.unavailable`. */
  private async failFast<T>(op: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new BackstopError("queue.unavailable", `Redis did not answer in ${this.timeoutMs} ms`)),
        this.timeoutMs,
      );
    });
    try {
      return await Promise.race([op(), deadline]);
    } catch (err) {
      throw unavailable(err);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Queues a `triage` job with job id = `data.incidentKey`. If a job with that id exists in any state
   * (waiting, active, delayed, completed or failed within {@link KEEP_JOBS_S}), nothing new is queued
   * and `deduplicated` is true: Alertmanager's re-sends and repeats make one run. BullMQ itself
   * ignores an add with an existing job id (https://docs.bullmq.io/guide/jobs/job-ids); two adds
   * racing in the same millisecond both report `deduplicated: false`, but still make one job.
   * @throws BackstopError `input.invalid_job` (bad data, or a `:` in the key), `queue.unavailable`.
   */
  async enqueueRun(data: RunJobData): Promise<{ jobId: string; deduplicated: boolean }> {
    const { job, jobId } = parseRunJob(data);
    return this.failFast(async () => {
      if (await this.queue.getJob(jobId)) return { jobId, deduplicated: true };
      const timestamp = Date.now();
      await this.queue.add(JOB_NAMES.triage, job, { jobId, timestamp });
      const stored = await this.queue.getJob(jobId);
      return { jobId, deduplicated: stored !== undefined && stored.timestamp !== timestamp };
    });
  }

  /**
   * The key prefix of this queue's job hashes (`<prefix>:runs:`; a job's hash is the prefix plus its
   * id), for the active-run index's job checks (`RunStore.claimRun`).
   */
  get jobKeyPrefix(): string {
    return this.queue.toKey("");
  }

  /**
   * Queues a `triage` job with job id `data.incidentKey` without first looking for an existing one:
   * for a caller that already knows it is new (`RunStore.claimRun` answered `claimed`). One round
   * trip; BullMQ still ignores an add whose job id exists.
   * @throws BackstopError `input.invalid_job`, `queue.unavailable`.
   */
  async addRun(data: RunJobData): Promise<{ jobId: string }> {
    const { job, jobId } = parseRunJob(data);
    await this.failFast(() => this.queue.add(JOB_NAMES.triage, job, { jobId }));
    return { jobId };
  }

  /**
   * Queues the `decision` job of a run (job id `decision-<runId>`); a second one for the same run
   * is ignored by BullMQ. Call it after `RunStore.decide()` won.
   * @throws BackstopError `input.invalid_job`, `queue.unavailable`.
   */
  async enqueueDecision(d: DecisionJobData): Promise<void> {
    const parsed = DecisionJobDataSchema.safeParse(d);
    if (!parsed.success) {
      throw new BackstopError("input.invalid_job", `invalid decision job: ${parsed.error.message}`, {
        cause: parsed.error,
      });
    }
    noColon(parsed.data.runId);
    await this.failFast(() =>
      this.queue.add(JOB_NAMES.decision, parsed.data, { jobId: `decision-${parsed.data.runId}` }),
    );
  }

  /**
   * Schedules the approval timeout of `runId`: a delayed `expire` job (job id `expire-<runId>`) that
   * runs after `delayMs` (ms). A second call for the same run keeps the first schedule.
   * @throws BackstopError `input.invalid_job` (negative or non-finite delay), `queue.unavailable`.
   */
  async scheduleExpiry(runId: string, delayMs: number): Promise<void> {
    if (!Number.isFinite(delayMs) || delayMs < 0) {
      throw new BackstopError("input.invalid_job", `the expiry delay must be >= 0 ms, not ${delayMs}`);
    }
    noColon(runId);
    const data: ExpiryJobData = ExpiryJobDataSchema.parse({ runId });
    await this.failFast(() =>
      this.queue.add(JOB_NAMES.expire, data, { jobId: `expire-${runId}`, delay: Math.round(delayMs) }),
    );
  }

  /**
   * Removes the pending `expire` job of `runId` (after a human decided). A job already running is
   * left alone (its `decide()` then loses). Resolves either way.
   * @throws BackstopError `queue.unavailable`.
   */
  async cancelExpiry(runId: string): Promise<void> {
    await this.failFast(() => this.queue.remove(`expire-${runId}`));
  }

  /** The underlying BullMQ queue, for status queries (`getJob`, `getJobCounts`) and tests. */
  get bullQueue(): Queue {
    return this.queue;
  }

  /** Closes the queue's Redis connections. */
  async close(): Promise<void> {
    await this.queue.close();
  }
}

/**
 * What a worker runs per job name. `triage` gets the job's id (= incident key), `attemptsMade` (how
 * many attempts started before this one: retries after a failure and recoveries after a stall), and
 * `setStage`, which records the run's stage as the job's progress (`{ stage }`). A processor throws
 * to fail the attempt: a BackstopError whose code starts with `input.`, or a ZodError, is permanent
 * (no retry); anything else is retried with backoff.
 */
export interface RunProcessors {
  triage(
    data: RunJobData,
    job: { id: string; attemptsMade: number; setStage(stage: string): Promise<void> },
  ): Promise<unknown>;
  decision(data: DecisionJobData): Promise<unknown>;
  expire(data: ExpiryJobData): Promise<unknown>;
}

/** True for the errors a retry cannot fix. */
function isPermanent(err: unknown): boolean {
  return (
    err instanceof UnrecoverableError ||
    err instanceof ZodError ||
    (err instanceof BackstopError && err.code.startsWith("input."))
  );
}

function parseOrUnrecoverable<T>(
  schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: ZodError } },
  job: Job,
): T {
  const r = schema.safeParse(job.data);
  if (!r.success) throw new UnrecoverableError(`invalid ${job.name} job ${job.id}: ${r.error.message}`);
  return r.data;
}

/**
 * Starts a BullMQ worker on {@link RUNS_QUEUE} that validates each job's data with zod (invalid →
 * `UnrecoverableError`, failed without retries) and dispatches by job name to `processors`.
 * `concurrency` jobs run at once in this process. A worker that dies mid-job loses its lock after
 * `lockDurationMs` (default 30000 ms); another worker's stalled check (every `stalledIntervalMs`,
 * default 30000 ms) puts the job back, up to 2 times (`maxStalledCount`), so it is picked up again
 * (https://docs.bullmq.io/guide/workers/stalled-jobs). Close it with `await worker.close()` on
 * SIGTERM ({@link closeOnSignals}).
 */
export function startRunsWorker(opts: {
  connection: QueueConnection;
  prefix?: string;
  concurrency: number;
  processors: RunProcessors;
  lockDurationMs?: number;
  stalledIntervalMs?: number;
}): Worker {
  const { processors } = opts;
  const worker = new Worker(
    RUNS_QUEUE,
    async (job: Job) => {
      try {
        switch (job.name) {
          case JOB_NAMES.triage: {
            const data = parseOrUnrecoverable(RunJobDataSchema, job);
            return await processors.triage(data, {
              id: job.id ?? data.incidentKey,
              attemptsMade: Math.max(job.attemptsMade, (job.attemptsStarted ?? 1) - 1),
              setStage: (stage: string) => job.updateProgress({ stage }),
            });
          }
          case JOB_NAMES.decision:
            return await processors.decision(parseOrUnrecoverable(DecisionJobDataSchema, job));
          case JOB_NAMES.expire:
            return await processors.expire(parseOrUnrecoverable(ExpiryJobDataSchema, job));
          default:
            throw new UnrecoverableError(`unknown job name ${job.name}`);
        }
      } catch (err) {
        if (err instanceof UnrecoverableError) throw err;
        if (isPermanent(err)) {
          const e = new UnrecoverableError(errorMessage(err));
          e.cause = err;
          throw e;
        }
        throw err instanceof Error ? err : new Error(errorMessage(err));
      }
    },
    {
      connection: { ...opts.connection },
      ...(opts.prefix === undefined ? {} : { prefix: opts.prefix }),
      concurrency: Math.max(1, Math.floor(opts.concurrency)),
      lockDuration: opts.lockDurationMs ?? 30_000,
      stalledInterval: opts.stalledIntervalMs ?? 30_000,
      maxStalledCount: 2,
    },
  );
  worker.on("error", (err) => log.warn({ err }, "runs worker error"));
  worker.on("failed", (job, err) =>
    log.warn({ job_id: job?.id, job_name: job?.name, attempts: job?.attemptsMade, err }, "runs job failed"),
  );
  return worker;
}

/**
 * Closes `closeables` (workers, producers, stores) in order when one of `opts.signals` arrives
 * (default SIGTERM and SIGINT): `await worker.close()` lets running jobs finish first. Then calls
 * `opts.onClosed` (e.g. `() => process.exit(0)`; the default leaves the process to end by itself).
 * Returns a function that removes the handlers. Errors while closing are logged, never thrown.
 */
export function closeOnSignals(
  closeables: { close(): Promise<void> }[],
  opts: { signals?: NodeJS.Signals[]; onClosed?: () => void } = {},
): () => void {
  const signals = opts.signals ?? ["SIGTERM", "SIGINT"];
  let closing = false;
  const handler = async (signal: NodeJS.Signals) => {
    if (closing) return;
    closing = true;
    log.info({ signal }, "closing the runs worker");
    for (const c of closeables) {
      try {
        await c.close();
      } catch (err) {
        log.warn({ err }, "close failed");
      }
    }
    opts.onClosed?.();
  };
  for (const s of signals) process.on(s, handler);
  return () => {
    for (const s of signals) process.off(s, handler);
  };
}
