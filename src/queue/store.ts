import { Redis } from "ioredis";
import { z } from "zod";
import { BackstopError, errorMessage } from "../errors.js";
import { childLogger } from "../log.js";
import type { PendingApproval } from "../pipeline/ports.js";
import type { QueueConnection } from "./runs.js";

const log = childLogger("queue.store");

/** How long incidents, threads and receipts are kept in Redis (s): 30 days. */
export const RECORD_TTL_S = 30 * 24 * 60 * 60;

/**
 * One incident as the bot tracks it: its Slack channel, its status and the run's current stage.
 * `key` is the incident key (the BullMQ job id), `runId` the run's id. Times are ISO-8601.
 * `alertname`/`severity` come from the alert's labels (null for a slash command). `cluster` is the
 * cluster the run is on (absent on records written before clusters existed).
 */
export const IncidentRecordSchema = z.object({
  key: z.string().min(1),
  runId: z.string().min(1),
  cluster: z.string().nullable().optional(),
  namespace: z.string(),
  workload: z.string(),
  alertname: z.string().nullable(),
  severity: z.string().nullable(),
  trigger: z.enum(["alert", "command"]),
  requestedBy: z.string().nullable(),
  channel: z.string(),
  status: z.string(),
  stage: z.string().nullable(),
  summary: z.string().nullable(),
  startedAt: z.string(),
  resolvedAt: z.string().nullable(),
});
/** See {@link IncidentRecordSchema}. */
export interface IncidentRecord {
  key: string;
  runId: string;
  cluster?: string | null;
  namespace: string;
  workload: string;
  alertname: string | null;
  severity: string | null;
  trigger: "alert" | "command";
  requestedBy: string | null;
  channel: string;
  status: string;
  stage: string | null;
  summary: string | null;
  startedAt: string;
  resolvedAt: string | null;
}

/**
 * The state of an approval: waiting for a human, or decided (once). `withdrawn`: Alertmanager
 * resolved the alert while it waited, so the approval was withdrawn and nothing runs.
 */
export type ApprovalStatus = "pending" | "approved" | "rejected" | "expired" | "withdrawn";

/**
 * An escalated run waiting for (or past) a human decision. `pending` is the pipeline's
 * {@link PendingApproval} (the receipt so far, so the run can resume on the same hash chain).
 * `expiresAt` is ISO-8601 (after it the `expire` job rejects it). `channel`/`threadTs` locate the
 * incident's thread, `escalationTs` the message with the Approve/Reject buttons. `decidedBy` (Slack
 * user id, null for `expired`) and `decidedAt` (ISO-8601) are set by {@link RunStore.decide}.
 */
export interface PendingApprovalRecord {
  runId: string;
  incidentKey: string;
  pending: PendingApproval;
  status: ApprovalStatus;
  expiresAt: string;
  channel: string;
  threadTs: string;
  escalationTs?: string | null;
  decidedBy?: string | null;
  decidedAt?: string | null;
}

const PendingApprovalRecordSchema = z.object({
  runId: z.string().min(1),
  incidentKey: z.string().min(1),
  pending: z
    .object({
      runId: z.string(),
      target: z.object({ namespace: z.string(), workload: z.string() }),
      reason: z.string(),
      proposedAction: z.object({ type: z.string() }).passthrough(),
      events: z.array(z.unknown()),
    })
    .passthrough(),
  status: z.enum(["pending", "approved", "rejected", "expired", "withdrawn"]),
  expiresAt: z.string(),
  channel: z.string(),
  threadTs: z.string(),
  escalationTs: z.string().nullable().optional(),
  decidedBy: z.string().nullable().optional(),
  decidedAt: z.string().nullable().optional(),
});

const ThreadSchema = z.object({ channel: z.string(), ts: z.string() });

/** Merges a JSON patch into a JSON string value, keeping its TTL; 0 when the key is missing. */
const MERGE_JSON_LUA = `
local cur = redis.call('GET', KEYS[1])
if not cur then return 0 end
local obj = cjson.decode(cur)
local patch = cjson.decode(ARGV[1])
for k, v in pairs(patch) do obj[k] = v end
redis.call('SET', KEYS[1], cjson.encode(obj), 'KEEPTTL')
return 1
`;

/** Creates the pending hash only if absent; 1 when created. */
const SAVE_PENDING_LUA = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'record', ARGV[1], 'status', 'pending', 'by', '', 'at', '', 'escalationTs', ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
`;

/** Sets one hash field only if the hash exists; 1 when set. */
const SET_IF_EXISTS_LUA = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
`;

/**
 * Decides a pending approval exactly once: only a record whose status is still "pending" changes.
 * Returns {won (1|0), status, by} where status/by are the decision in force afterwards.
 */
const DECIDE_LUA = `
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return {0, 'missing', ''} end
if status ~= 'pending' then return {0, status, redis.call('HGET', KEYS[1], 'by') or ''} end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'by', ARGV[2], 'at', ARGV[3])
return {1, ARGV[1], ARGV[2]}
`;

/** How long a workload's active-run entry lives at most (s) if its run never clears it: 24 h. */
export const ACTIVE_RUN_TTL_S = 24 * 60 * 60;

/**
 * Incident statuses of a run that is not over: queued or running (`triaging` … `acting`) or waiting
 * for a human (`awaiting_approval`). Any other status (resolved, escalated, failed, rejected, …) is over.
 */
export const ACTIVE_STATUSES = [
  "queued",
  "triaging",
  "diagnosing",
  "validating",
  "acting",
  "awaiting_approval",
];
const ACTIVE_LUA = ACTIVE_STATUSES.map((st) => `['${st}'] = true`).join(", ");

/**
 * Claims a workload's active-run entry for an incident, atomically. KEYS[1] the entry, KEYS[2] the
 * incident's "joined" marker. ARGV[1] incident key, ARGV[2] TTL (s), ARGV[3] BullMQ job key prefix
 * (`<prefix>:runs:`, or "" to skip job checks), ARGV[4] "1" to treat an existing job of this incident
 * as a duplicate, ARGV[5] grace (ms), ARGV[6] the incident records' key prefix (`<p>:incident:`).
 * The holder is live while its claim is younger than the grace (its job is still being added), or
 * its job exists and its incident is not over (no record yet, or a status in {@link ACTIVE_STATUSES}).
 * A holder that is not live is stale and replaced.
 * Returns {'duplicate', key, 0} | {'joined', holder, first (1|0)} | {'claimed', key, 0}.
 */
const CLAIM_RUN_LUA = `
if ARGV[4] == '1' and ARGV[3] ~= '' and redis.call('EXISTS', ARGV[3] .. ARGV[1]) == 1 then
  return {'duplicate', ARGV[1], 0}
end
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then
  local live = true
  local age = tonumber(ARGV[2]) * 1000 - redis.call('PTTL', KEYS[1])
  if age >= tonumber(ARGV[5]) then
    if ARGV[3] ~= '' and redis.call('EXISTS', ARGV[3] .. holder) == 0 then live = false end
    local raw = redis.call('GET', ARGV[6] .. holder)
    if live and raw then
      local ok, obj = pcall(cjson.decode, raw)
      local active = {${ACTIVE_LUA}}
      if ok and type(obj) == 'table' and type(obj.status) == 'string' and not active[obj.status] then live = false end
    end
  end
  if live then
    local first = redis.call('SET', KEYS[2], holder, 'EX', ARGV[2], 'NX')
    if first then return {'joined', holder, 1} end
    return {'joined', holder, 0}
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return {'claimed', ARGV[1], 0}
`;

/** Deletes KEYS[1] only while it holds ARGV[1]; 1 when deleted. */
const RELEASE_RUN_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/** How long a fresh claim counts as live before its job exists (ms): the claim-then-add window, with margin. */
export const CLAIM_GRACE_MS = 30_000;

/** The answer of {@link RunStore.claimRun}. */
export type RunClaim =
  | { status: "claimed" }
  | { status: "duplicate" }
  | { status: "joined"; holder: string; first: boolean };

/**
 * The bot's state in Redis (ioredis), shared by the bot and every worker: incidents (by incident key
 * and by run id, plus a recency index), each incident's Slack thread (claimed once), signed receipts
 * (the exact serialized bytes) and pending approvals, decided exactly once by a Lua script (Redis
 * runs a script atomically, https://redis.io/docs/latest/develop/interactive/programmability/eval-intro/).
 *
 * Keys live under `<prefix>:` (default `backstop`); incidents, threads and receipts expire after
 * {@link RECORD_TTL_S} s, pending approvals 30 days after they expire, so Redis with
 * `maxmemory-policy noeviction` does not fill up. Methods throw BackstopError `store.unavailable`
 * when Redis fails, `store.corrupt` when a stored value does not parse.
 */
export class RunStore {
  private readonly redis: Redis;
  private readonly p: string;

  /** Opens a lazy ioredis client (commands fail after 2 retries instead of waiting forever). */
  constructor(opts: { connection: QueueConnection; prefix?: string }) {
    this.p = opts.prefix ?? "backstop";
    this.redis = new Redis({ ...opts.connection, maxRetriesPerRequest: 2, lazyConnect: true });
    this.redis.on("error", (err) => log.warn({ err: errorMessage(err) }, "run store connection error"));
  }

  private k(...parts: string[]): string {
    return [this.p, ...parts].join(":");
  }

  private async call<T>(what: string, op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (err) {
      if (err instanceof BackstopError) throw err;
      throw new BackstopError("store.unavailable", `run store ${what} failed: ${errorMessage(err)}`, {
        cause: err,
      });
    }
  }

  private parse<T>(schema: z.ZodType<T>, raw: string, what: string): T {
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch (err) {
      throw new BackstopError("store.corrupt", `stored ${what} is not JSON`, { cause: err });
    }
    const r = schema.safeParse(json);
    if (!r.success) {
      throw new BackstopError("store.corrupt", `stored ${what} is malformed: ${r.error.message}`, {
        cause: r.error,
      });
    }
    return r.data;
  }

  /**
   * Saves (or replaces) an incident, indexes it by run id and by `startedAt` for
   * {@link recentIncidents}. Kept {@link RECORD_TTL_S} s.
   * @throws BackstopError `input.invalid_incident`, `store.unavailable`.
   */
  async saveIncident(i: IncidentRecord): Promise<void> {
    const r = IncidentRecordSchema.safeParse(i);
    if (!r.success) {
      throw new BackstopError("input.invalid_incident", `invalid incident: ${r.error.message}`, {
        cause: r.error,
      });
    }
    const started = Date.parse(i.startedAt);
    const score = Number.isFinite(started) ? started : Date.now();
    await this.call("saveIncident", async () => {
      await this.redis
        .multi()
        .set(this.k("incident", i.key), JSON.stringify(r.data), "EX", RECORD_TTL_S)
        .set(this.k("incident-run", i.runId), i.key, "EX", RECORD_TTL_S)
        .zadd(this.k("incidents"), score, i.key)
        .zremrangebyscore(this.k("incidents"), "-inf", Date.now() - RECORD_TTL_S * 1000)
        .expire(this.k("incidents"), RECORD_TTL_S)
        .exec();
    });
  }

  /** The incident with incident key `key`, or null. @throws BackstopError `store.*`. */
  async getIncident(key: string): Promise<IncidentRecord | null> {
    const raw = await this.call("getIncident", () => this.redis.get(this.k("incident", key)));
    return raw === null ? null : this.parse(IncidentRecordSchema, raw, "incident");
  }

  /** The incident of run `runId`, or null. @throws BackstopError `store.*`. */
  async getIncidentByRun(runId: string): Promise<IncidentRecord | null> {
    const key = await this.call("getIncidentByRun", () => this.redis.get(this.k("incident-run", runId)));
    return key === null ? null : this.getIncident(key);
  }

  /**
   * Merges `patch` into the stored incident atomically (a Lua script; concurrent patches of different
   * fields all land), keeping its TTL. `key` and `runId` cannot be changed.
   * @throws BackstopError `store.not_found` when there is no such incident, `input.invalid_incident`
   * when a patched field has the wrong type, `store.unavailable`.
   */
  async updateIncident(key: string, patch: Partial<IncidentRecord>): Promise<void> {
    const { key: _k, runId: _r, ...rest } = patch;
    const r = IncidentRecordSchema.partial().safeParse(rest);
    if (!r.success) {
      throw new BackstopError("input.invalid_incident", `invalid incident patch: ${r.error.message}`, {
        cause: r.error,
      });
    }
    const done = await this.call("updateIncident", () =>
      this.redis.eval(MERGE_JSON_LUA, 1, this.k("incident", key), JSON.stringify(r.data)),
    );
    if (done !== 1) throw new BackstopError("store.not_found", `no incident ${key}`);
  }

  /** Up to `limit` incidents, most recently started first. @throws BackstopError `store.*`. */
  async recentIncidents(limit: number): Promise<IncidentRecord[]> {
    const n = Math.floor(limit);
    if (!(n > 0)) return [];
    const keys = await this.call("recentIncidents", () =>
      this.redis.zrevrange(this.k("incidents"), 0, n - 1),
    );
    if (keys.length === 0) return [];
    const raws = await this.call("recentIncidents", () =>
      this.redis.mget(keys.map((key) => this.k("incident", key))),
    );
    return raws.flatMap((raw) => (raw === null ? [] : [this.parse(IncidentRecordSchema, raw, "incident")]));
  }

  /** The Slack thread (channel id, root message `ts`) of incident `key`, or null. */
  async getThread(key: string): Promise<{ channel: string; ts: string } | null> {
    const raw = await this.call("getThread", () => this.redis.get(this.k("thread", key)));
    return raw === null ? null : this.parse(ThreadSchema, raw, "thread");
  }

  /**
   * Records `t` as incident `key`'s thread unless one is recorded already (`SET NX`): true when this
   * call claimed it. The loser should delete its own root message and use {@link getThread}'s.
   */
  async claimThread(key: string, t: { channel: string; ts: string }): Promise<boolean> {
    const v = ThreadSchema.parse(t);
    const res = await this.call("claimThread", () =>
      this.redis.set(this.k("thread", key), JSON.stringify(v), "EX", RECORD_TTL_S, "NX"),
    );
    return res === "OK";
  }

  /** Stores run `runId`'s signed receipt, byte for byte, for {@link RECORD_TTL_S} s. */
  async saveReceipt(runId: string, receiptJson: string): Promise<void> {
    await this.call("saveReceipt", () =>
      this.redis.set(this.k("receipt", runId), receiptJson, "EX", RECORD_TTL_S),
    );
  }

  /** The receipt exactly as saved, or null. */
  async getReceipt(runId: string): Promise<string | null> {
    return this.call("getReceipt", () => this.redis.get(this.k("receipt", runId)));
  }

  /**
   * Saves a pending approval (status forced to "pending") unless one exists for the run already, so a
   * retried job cannot reopen a decided approval. Kept until 30 days after `expiresAt`. Returns
   * whether it was created.
   * @throws BackstopError `input.invalid_pending`, `store.unavailable`.
   */
  async savePending(p: PendingApprovalRecord): Promise<boolean> {
    const r = PendingApprovalRecordSchema.safeParse({ ...p, status: "pending" });
    if (!r.success) {
      throw new BackstopError("input.invalid_pending", `invalid pending approval: ${r.error.message}`, {
        cause: r.error,
      });
    }
    const expires = Date.parse(p.expiresAt);
    const ttl =
      RECORD_TTL_S + Math.max(0, Math.ceil(((Number.isFinite(expires) ? expires : 0) - Date.now()) / 1000));
    const { escalationTs, decidedBy: _b, decidedAt: _a, status: _s, ...record } = r.data;
    const res = await this.call("savePending", () =>
      this.redis.eval(
        SAVE_PENDING_LUA,
        1,
        this.k("pending", p.runId),
        JSON.stringify(record),
        String(ttl),
        escalationTs ?? "",
      ),
    );
    return res === 1;
  }

  /** Records the `ts` of the escalation message (the one with the buttons). False if no such run. */
  async setEscalationTs(runId: string, ts: string): Promise<boolean> {
    const n = await this.call("setEscalationTs", () =>
      this.redis.eval(SET_IF_EXISTS_LUA, 1, this.k("pending", runId), "escalationTs", ts),
    );
    return n === 1;
  }

  /** The approval of run `runId` with its current status and decision, or null. */
  async getPending(runId: string): Promise<PendingApprovalRecord | null> {
    const h = await this.call("getPending", () => this.redis.hgetall(this.k("pending", runId)));
    if (!h.record) return null;
    const base = this.parse(z.record(z.string(), z.unknown()), h.record, "pending approval");
    const full = {
      ...base,
      status: h.status,
      escalationTs: h.escalationTs || null,
      decidedBy: h.by || null,
      decidedAt: h.at || null,
    };
    const r = PendingApprovalRecordSchema.safeParse(full);
    if (!r.success) {
      throw new BackstopError("store.corrupt", `stored pending approval is malformed: ${r.error.message}`);
    }
    return { ...r.data, pending: r.data.pending as unknown as PendingApproval } as PendingApprovalRecord;
  }

  /**
   * Decides run `runId`'s approval exactly once, atomically (one Lua script): only a record still
   * "pending" changes, so under double clicks, two bots and the expiry job racing, exactly one caller
   * gets `won: true`. Every other caller gets `won: false` with the decision in force (`status`,
   * `by`); a run with no pending approval gives `{ won: false, status: "missing", by: null }`.
   * `by` is a Slack user id (null for `expired`), `at` ISO-8601.
   * @throws BackstopError `store.unavailable`.
   */
  async decide(
    runId: string,
    decision: "approved" | "rejected" | "expired" | "withdrawn",
    by: string | null,
    at: string,
  ): Promise<{ won: boolean; status: string; by: string | null }> {
    const res = (await this.call("decide", () =>
      this.redis.eval(DECIDE_LUA, 1, this.k("pending", runId), decision, by ?? "", at),
    )) as [number, string, string];
    return { won: res[0] === 1, status: res[1], by: res[2] === "" ? null : res[2] };
  }

  /**
   * One run per workload: claims `workloadKey`'s active-run entry (`<prefix>:active:<workloadKey>`)
   * for `incidentKey` in one Lua script (one round trip). `duplicate`: `checkOwnJob` is set and this
   * incident's job already exists (`<jobKeyPrefix><incidentKey>`), i.e. a re-send; `joined`: another
   * incident (`holder`) has a live run for the workload (its claim is younger than
   * {@link CLAIM_GRACE_MS}, or its job exists and its incident's status is in {@link ACTIVE_STATUSES}) — `first` is true the first time this incident
   * joins it, so a note is posted once; `claimed`: this incident now holds it (until
   * {@link releaseRun}, or {@link ACTIVE_RUN_TTL_S} s). A holder whose job is gone is replaced.
   * @throws BackstopError `store.unavailable`.
   */
  async claimRun(c: {
    workloadKey: string;
    incidentKey: string;
    jobKeyPrefix: string;
    checkOwnJob: boolean;
  }): Promise<RunClaim> {
    const res = (await this.call("claimRun", () =>
      this.redis.eval(
        CLAIM_RUN_LUA,
        2,
        this.k("active", c.workloadKey),
        this.k("joined", c.incidentKey),
        c.incidentKey,
        String(ACTIVE_RUN_TTL_S),
        c.jobKeyPrefix,
        c.checkOwnJob ? "1" : "0",
        String(CLAIM_GRACE_MS),
        this.k("incident", ""),
      ),
    )) as [string, string, number];
    if (res[0] === "joined") return { status: "joined", holder: res[1], first: res[2] === 1 };
    return { status: res[0] === "duplicate" ? "duplicate" : "claimed" };
  }

  /** Clears `workloadKey`'s active-run entry if `incidentKey` holds it (the run ended). True when cleared. */
  async releaseRun(workloadKey: string, incidentKey: string): Promise<boolean> {
    const n = await this.call("releaseRun", () =>
      this.redis.eval(RELEASE_RUN_LUA, 1, this.k("active", workloadKey), incidentKey),
    );
    return n === 1;
  }

  /** The incident key holding `workloadKey`'s active-run entry, or null. */
  async activeRun(workloadKey: string): Promise<string | null> {
    return this.call("activeRun", () => this.redis.get(this.k("active", workloadKey)));
  }

  /**
   * True the first time `kind`/`id` is seen within `ttlS` seconds (`SET NX EX`), false after: a
   * replayed Slack request, a re-sent notice. @throws BackstopError `store.unavailable`.
   */
  async markOnce(kind: string, id: string, ttlS: number): Promise<boolean> {
    const res = await this.call("markOnce", () =>
      this.redis.set(this.k("once", kind, id), "1", "EX", Math.max(1, Math.ceil(ttlS)), "NX"),
    );
    return res === "OK";
  }

  /** Closes the Redis connection (waits for pending replies). */
  async close(): Promise<void> {
    try {
      await this.redis.quit();
    } catch {
      this.redis.disconnect();
    }
  }
}
