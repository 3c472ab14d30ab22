import { Redis } from "ioredis";
import { z } from "zod";
import { BackstopError, errorMessage } from "../errors.js";
import { childLogger } from "../log.js";
import type { PendingApproval } from "../pipeline/ports.js";
import { defineLuaCommands } from "./lua.js";
import type { QueueConnection } from "./runs.js";
import {
  CLAIM_RUN_LUA,
  DECIDE_LUA,
  MERGE_JSON_LUA,
  RELEASE_RUN_LUA,
  SAVE_PENDING_LUA,
  SET_IF_EXISTS_LUA,
} from "./store-lua.js";
import {
  ACTIVE_RUN_TTL_S,
  CLAIM_GRACE_MS,
  type IncidentRecord,
  IncidentRecordSchema,
  type PendingApprovalRecord,
  PendingApprovalRecordSchema,
  RECORD_TTL_S,
  type RunClaim,
  ThreadSchema,
} from "./store-records.js";

export {
  ACTIVE_RUN_TTL_S,
  ACTIVE_STATUSES,
  type ApprovalStatus,
  CLAIM_GRACE_MS,
  type IncidentRecord,
  IncidentRecordSchema,
  type PendingApprovalRecord,
  RECORD_TTL_S,
  type RunClaim,
} from "./store-records.js";

const log = childLogger("queue.store");

/** An incident patch: any subset of its fields (built once: zod schemas are costly to construct). */
const IncidentPatchSchema = IncidentRecordSchema.partial();
/** The stored JSON of a pending approval before its fields are checked. */
const JsonObjectSchema = z.record(z.string(), z.unknown());

/**
 * A lazy ioredis client whose commands fail after 2 retries instead of waiting forever; connection
 * errors are logged. Auto-pipelining is on (ioredis `enableAutoPipelining`): the commands callers issue
 * in one event-loop turn go to Redis in one write, each caller still getting its own reply or error.
 * Under an alert storm the bot has dozens of admissions in flight, and one socket write per command
 * was a third of its CPU per request (`bench/alert-storm.ts`). Safe here because the store sends no
 * MULTI/WATCH, blocking or pub/sub commands; its Lua scripts go in the pipeline like any command
 * (EVALSHA, or EVAL on a connection's first use). BullMQ's connections are not opened here.
 */
function openRedis(connection: QueueConnection): Redis {
  const redis = new Redis({
    ...connection,
    maxRetriesPerRequest: 2,
    lazyConnect: true,
    enableAutoPipelining: true,
  });
  redis.on("error", (err) => log.warn({ err }, "run store connection error"));
  return redis;
}

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
  private readonly p: string;
  private readonly redis: Redis;
  private readonly lua;

  /** Opens a lazy ioredis client (see {@link openRedis}); nothing connects until the first command. */
  constructor(opts: { connection: QueueConnection; prefix?: string }) {
    this.p = opts.prefix ?? "backstop";
    this.redis = openRedis(opts.connection);
    this.lua = defineLuaCommands(this.redis, {
      mergeJson: { keys: 1, lua: MERGE_JSON_LUA },
      savePending: { keys: 1, lua: SAVE_PENDING_LUA },
      setIfExists: { keys: 1, lua: SET_IF_EXISTS_LUA },
      decide: { keys: 1, lua: DECIDE_LUA },
      claimRun: { keys: 2, lua: CLAIM_RUN_LUA },
      releaseRun: { keys: 1, lua: RELEASE_RUN_LUA },
    });
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
    const r = IncidentPatchSchema.safeParse(rest);
    if (!r.success) {
      throw new BackstopError("input.invalid_incident", `invalid incident patch: ${r.error.message}`, {
        cause: r.error,
      });
    }
    const done = await this.call("updateIncident", () =>
      this.lua.mergeJson(this.k("incident", key), JSON.stringify(r.data)),
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
      this.lua.savePending(
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
      this.lua.setIfExists(this.k("pending", runId), "escalationTs", ts),
    );
    return n === 1;
  }

  /** The approval of run `runId` with its current status and decision, or null. */
  async getPending(runId: string): Promise<PendingApprovalRecord | null> {
    const h = await this.call("getPending", () => this.redis.hgetall(this.k("pending", runId)));
    if (!h.record) return null;
    const base = this.parse(JsonObjectSchema, h.record, "pending approval");
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
      this.lua.decide(this.k("pending", runId), decision, by ?? "", at),
    )) as [number, string, string];
    return { won: res[0] === 1, status: res[1], by: res[2] === "" ? null : res[2] };
  }

  /**
   * One run per workload: claims `workloadKey`'s active-run entry (`<prefix>:active:<workloadKey>`)
   * for `incidentKey` in one Lua script (one round trip). `duplicate`: `checkOwnJob` is set and this
   * incident's job already exists (`<jobKeyPrefix><incidentKey>`), i.e. a re-send; `joined`: another
   * incident (`holder`) has a live run for the workload (its incident has no record yet or a status in
   * {@link ACTIVE_STATUSES}, and its job exists or its claim is younger than {@link CLAIM_GRACE_MS};
   * a finished incident that has not yet released the entry is not live) — `first` is true the first time this incident
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
      this.lua.claimRun(
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
      this.lua.releaseRun(this.k("active", workloadKey), incidentKey),
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
