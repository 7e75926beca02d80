/**
 * The Redis backend's schedule of delayed events (see `../schedule.ts`): a sorted set of event
 * ids scored by due time (client clocks, milliseconds since the epoch) and a hash holding, for
 * each id, what its append writes: the stream key, its correlation index keys, and the envelope.
 * A script moves due events: out of both and into their streams (`XADD`, with the index writes
 * of `APPEND`), all in one step, so promoters racing in many processes move each event once.
 *
 * On one Redis the pair is one for every stream, and the move writes stream and index keys
 * named in the hash, not in `KEYS`. On Redis Cluster the pair is per stream, under the stream's
 * hash tag, as are the keys the move writes: each script stays in one slot (see
 * cluster_schedule.ts).
 *
 * @module
 */
import { type Envelope, envelopeJson, envelopeProblem, MAX_ENVELOPE_BYTES } from "../envelope.ts";
import { EnvelopeTooLargeError } from "../errors.ts";
import type { Promotion, ScheduledEvent } from "../schedule.ts";
import type { RedisArg } from "./client.ts";
import type { Keys } from "./keys.ts";

/**
 * schedule — KEYS: the schedule's sorted set and hash. ARGV: per event its id, due time and
 * append plan (JSON). An id already scheduled is left as it is. Returns how many were added.
 */
export const SCHEDULE = `local added = 0
for i = 1, #ARGV, 3 do
  if redis.call('HSETNX', KEYS[2], ARGV[i], ARGV[i + 2]) == 1 then
    redis.call('ZADD', KEYS[1], ARGV[i + 1], ARGV[i])
    added = added + 1
  end
end
return added`;

/** cancel — KEYS: the schedule's sorted set and hash. ARGV: the event id. Returns 1 or 0. */
export const CANCEL = `if redis.call('ZREM', KEYS[1], ARGV[1]) == 1 then
  redis.call('HDEL', KEYS[2], ARGV[1])
  return 1
end
return 0`;

/**
 * promote — KEYS: the schedule's sorted set and hash. ARGV: now, the most to move, then trim
 * ("none" | "MAXLEN" | "MINID"), trim approx, trim arg, index ttl ms (0: none), as `APPEND`,
 * and optionally "ids" to have the moved ids returned too. Each due event (plan: [stream key,
 * first index key, caused key or "", correlation id, envelope JSON]) leaves the schedule and is
 * appended. Returns {moved, next due score or "", the moved ids when asked}.
 */
export const PROMOTE = `local now, max = ARGV[1], tonumber(ARGV[2])
local trim, approx, limit, ittl = ARGV[3], ARGV[4], ARGV[5], tonumber(ARGV[6])
local function put(key, value)
  if ittl > 0 then redis.call('SET', key, value, 'PX', ittl) else redis.call('SET', key, value) end
end
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, max)
local touched, moved = {}, {}
for _, id in ipairs(ids) do
  local plan = redis.call('HGET', KEYS[2], id)
  redis.call('ZREM', KEYS[1], id)
  redis.call('HDEL', KEYS[2], id)
  if plan then
    local p = cjson.decode(plan)
    local member = redis.call('XADD', p[1], '*', 'e', p[5]) .. '|' .. p[1]
    if p[3] == '' then put(p[2], member)
    else
      if redis.call('RPUSH', p[2], member) == 1 and ittl > 0 then
        redis.call('PEXPIRE', p[2], ittl)
      end
      put(p[3], p[4])
    end
    touched[p[1]] = true
    if ARGV[7] == 'ids' then table.insert(moved, id) end
  end
end
if trim ~= 'none' then
  for key in pairs(touched) do redis.call('XTRIM', key, trim, approx, limit) end
end
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {#ids, first[2] or '', moved}`;

/** The arguments of {@linkcode SCHEDULE} for `events`; checks them first. */
export function scheduleArgs(keys: Keys, events: readonly ScheduledEvent[]): RedisArg[] {
  const args: RedisArg[] = [];
  for (const { envelope, dueAt } of events) {
    const problem = envelopeProblem(envelope);
    if (problem) throw new TypeError(`Cannot schedule a malformed envelope: ${problem}`);
    if (!Number.isSafeInteger(dueAt)) throw new TypeError("dueAt must be an integer (ms)");
    const json = envelopeJson(envelope);
    if (json.length * 3 > MAX_ENVELOPE_BYTES) {
      const bytes = new TextEncoder().encode(json).byteLength;
      if (bytes > MAX_ENVELOPE_BYTES) {
        throw new EnvelopeTooLargeError(envelope.id, bytes, MAX_ENVELOPE_BYTES);
      }
    }
    args.push(envelope.id, dueAt, JSON.stringify(plan(keys, envelope, json)));
  }
  return args;
}

/** What the append of an event writes, as `APPEND` would (see scripts.ts). */
function plan(keys: Keys, e: Envelope, json: string): string[] {
  const root = e.correlationid === e.id;
  return [
    keys.stream(e.stream),
    root ? keys.correlation(e.correlationid, e.stream) : keys.correlated(e.correlationid, e.stream),
    root ? "" : keys.caused(e.id, e.stream),
    e.correlationid,
    json,
  ];
}

/** Reads the reply of {@linkcode PROMOTE}; `ids` are the moved ids, when they were asked for. */
export function promotion(reply: unknown): Promotion & { ids: string[] } {
  const [moved, next, ids] = reply as [number, string, unknown];
  return {
    moved: Number(moved),
    next: next === "" || next == null ? undefined : Number(next),
    ids: Array.isArray(ids) ? ids.map(String) : [],
  };
}
