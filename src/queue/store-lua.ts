/**
 * The Lua scripts {@link RunStore} runs with EVAL (Redis runs a script atomically,
 * https://redis.io/docs/latest/develop/interactive/programmability/eval-intro/).
 */
import { ACTIVE_STATUSES } from "./store-records.js";

/** Merges a JSON patch into a JSON string value, keeping its TTL; 0 when the key is missing. */
export const MERGE_JSON_LUA = `
local cur = redis.call('GET', KEYS[1])
if not cur then return 0 end
local obj = cjson.decode(cur)
local patch = cjson.decode(ARGV[1])
for k, v in pairs(patch) do obj[k] = v end
redis.call('SET', KEYS[1], cjson.encode(obj), 'KEEPTTL')
return 1
`;

/** Creates the pending hash only if absent; 1 when created. */
export const SAVE_PENDING_LUA = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'record', ARGV[1], 'status', 'pending', 'by', '', 'at', '', 'escalationTs', ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
`;

/** Sets one hash field only if the hash exists; 1 when set. */
export const SET_IF_EXISTS_LUA = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
`;

/**
 * Decides a pending approval exactly once: only a record whose status is still "pending" changes.
 * Returns {won (1|0), status, by} where status/by are the decision in force afterwards.
 */
export const DECIDE_LUA = `
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return {0, 'missing', ''} end
if status ~= 'pending' then return {0, status, redis.call('HGET', KEYS[1], 'by') or ''} end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'by', ARGV[2], 'at', ARGV[3])
return {1, ARGV[1], ARGV[2]}
`;

const ACTIVE_LUA = ACTIVE_STATUSES.map((st) => `['${st}'] = true`).join(", ");

/**
 * Claims a workload's active-run entry for an incident, atomically. KEYS[1] the entry, KEYS[2] the
 * incident's "joined" marker. ARGV[1] incident key, ARGV[2] TTL (s), ARGV[3] BullMQ job key prefix
 * (`<prefix>:runs:`, or "" to skip job checks), ARGV[4] "1" to treat an existing job of this incident
 * as a duplicate, ARGV[5] grace (ms), ARGV[6] the incident records' key prefix (`<p>:incident:`).
 * The holder is live while its incident is not over (no record yet, or a status in
 * {@link ACTIVE_STATUSES}) and its job exists or its claim is younger than the grace (its job is still
 * being added). A holder whose incident is over is stale at any age: a run writes its final status
 * before it releases the entry, and an alert in between must start a run, not join a finished one.
 * A holder that is not live is stale and replaced.
 * Returns {'duplicate', key, 0} | {'joined', holder, first (1|0)} | {'claimed', key, 0}.
 */
export const CLAIM_RUN_LUA = `
if ARGV[4] == '1' and ARGV[3] ~= '' and redis.call('EXISTS', ARGV[3] .. ARGV[1]) == 1 then
  return {'duplicate', ARGV[1], 0}
end
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then
  local live = true
  local raw = redis.call('GET', ARGV[6] .. holder)
  if raw then
    local ok, obj = pcall(cjson.decode, raw)
    local active = {${ACTIVE_LUA}}
    if ok and type(obj) == 'table' and type(obj.status) == 'string' and not active[obj.status] then live = false end
  end
  if live and ARGV[3] ~= '' and redis.call('EXISTS', ARGV[3] .. holder) == 0 then
    local age = tonumber(ARGV[2]) * 1000 - redis.call('PTTL', KEYS[1])
    if age >= tonumber(ARGV[5]) then live = false end
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
export const RELEASE_RUN_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;
