/**
 * The Lua scripts of the Redis backend: each step that must not half-happen runs as one script.
 * They are sent with `EVALSHA`, loaded once with `SCRIPT LOAD` when Redis says `NOSCRIPT`
 * (first use, or after a restart).
 *
 * Leases are kept in a sorted set per stream and group (the "timers"): member = entry id,
 * score = the time (Redis's clock, ms) at which the entry may be handed out again. It holds
 * running leases, scheduled retries and released entries, so that a retry parked for a minute
 * neither blocks the entries behind it nor is stolen early by a lease sweep. The entry itself
 * stays in the group's pending list (PEL), whose owner and delivery count make the lease token.
 *
 * @module
 */
import type { RedisArg, RedisClient } from "./client.ts";
import { RedisReplyError } from "./client.ts";

/** Sets `now`: Redis's clock in milliseconds, the one clock every lease is measured by. */
export const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

/**
 * append — KEYS: n stream keys, then n dedupe keys when deduping.
 * ARGV: trim ("none" | "MAXLEN" | "MINID"), trim approx ("~" | "="), trim arg, dedupe ("0"|"1"),
 * dedupe ttl ms, then n envelope JSONs. Returns how many were written.
 */
export const APPEND = `local n = #ARGV - 5
local trim, approx, limit, dedupe, ttl = ARGV[1], ARGV[2], ARGV[3], ARGV[4] == '1', ARGV[5]
local written = 0
for i = 1, n do
  if not (dedupe and redis.call('EXISTS', KEYS[n + i]) == 1) then
    if trim == 'none' then
      redis.call('XADD', KEYS[i], '*', 'e', ARGV[5 + i])
    else
      redis.call('XADD', KEYS[i], trim, approx, limit, '*', 'e', ARGV[5 + i])
    end
    if dedupe then redis.call('SET', KEYS[n + i], '1', 'PX', ttl) end
    written = written + 1
  end
end
return written`;

/**
 * claim — KEYS: per source, its stream key and timers key. ARGV: group, consumer, max, lease ms,
 * first source to read new entries from (rotates so no stream starves the others).
 * Returns { now, next due or -1, deliveries: {source, id, count, fields}..., last ids... }.
 */
export const CLAIM = NOW + `local SENTINEL = string.rep('herald-timers-', 5)
local group, consumer = ARGV[1], ARGV[2]
local max, lease, first = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local nsrc = #KEYS / 2
local out = {}
local got = 0
-- Due timers first: retries whose time came, released entries, expired leases.
for s = 1, nsrc do
  if got >= max then break end
  local sk, tk = KEYS[2 * s - 1], KEYS[2 * s]
  local due = redis.call('ZRANGEBYSCORE', tk, '-inf', now, 'LIMIT', 0, max - got)
  for _, id in ipairs(due) do
    local p = redis.call('XPENDING', sk, group, id, id, 1)
    local entry = nil
    if #p == 1 then
      local count = tonumber(p[1][4]) + 1
      local c = redis.call('XCLAIM', sk, group, consumer, 0, id, 'RETRYCOUNT', count)
      if c[1] and c[1][2] then
        entry = c[1]
        redis.call('ZADD', tk, now + lease, id)
        got = got + 1
        out[#out + 1] = {s, id, count, entry[2]}
      end
    end
    -- Acked, or trimmed from the stream while it waited: forget it.
    if not entry then
      redis.call('ZREM', tk, id)
      if #p == 1 then redis.call('XACK', sk, group, id) end
    end
  end
end
-- Then new entries, from each source in turn.
for i = 0, nsrc - 1 do
  if got >= max then break end
  local s = (first + i) % nsrc + 1
  local sk, tk = KEYS[2 * s - 1], KEYS[2 * s]
  -- Redrive streams (even sources) mostly do not exist: skip them without raising NOGROUP.
  local ok, r = false, nil
  if s % 2 == 1 or redis.call('EXISTS', sk) == 1 then
    ok, r = pcall(redis.call, 'XREADGROUP', 'GROUP', group, consumer, 'COUNT', max - got, 'STREAMS', sk, '>')
  end
  if ok and r then
    -- The sentinel (never due) keeps the set a skiplist: a small sorted set is otherwise a
    -- listpack, where adding 100 members costs about three times as much.
    local zargs = {'inf', SENTINEL}
    for _, e in ipairs(r[1][2]) do
      got = got + 1
      out[#out + 1] = {s, e[1], 1, e[2]}
      zargs[#zargs + 1] = now + lease
      zargs[#zargs + 1] = e[1]
    end
    if #zargs > 2 then redis.call('ZADD', tk, unpack(zargs)) end
  end
end
local result = {now, -1, out}
if got == 0 then
  -- Nothing ready: say when the next timer falls due and where each stream ends, to wait on.
  local last = {}
  for s = 1, nsrc do
    local z = redis.call('ZRANGEBYSCORE', KEYS[2 * s], '-inf', '(inf', 'WITHSCORES', 'LIMIT', 0, 1)
    if z[2] and (result[2] == -1 or tonumber(z[2]) < result[2]) then result[2] = tonumber(z[2]) end
    local r = redis.call('XREVRANGE', KEYS[2 * s - 1], '+', '-', 'COUNT', 1)
    last[s] = r[1] and r[1][1] or '0-0'
  end
  result[4] = last
end
return result`;

/**
 * redrive — KEYS: the dead-letter stream, then per dead letter the redrive stream of its stream
 * and group. ARGV: group, then per dead letter its entry id in the dead-letter stream. Each is
 * moved only if it is still there, so concurrent redrives move it once. Returns how many moved.
 */
export const REDRIVE = `local moved = 0
for i = 2, #KEYS do
  local id = ARGV[i]
  local d = redis.call('XRANGE', KEYS[1], id, id)
  if d[1] then
    local f = {}
    for j = 1, #d[1][2], 2 do f[d[1][2][j]] = d[1][2][j + 1] end
    local fields = cjson.decode(f['f'])
    if #fields == 0 then fields = {'e', ''} end
    redis.call('XADD', KEYS[i], '*', unpack(fields))
    pcall(redis.call, 'XGROUP', 'CREATE', KEYS[i], ARGV[1], '0', 'MKSTREAM')
    redis.call('XDEL', KEYS[1], id)
    moved = moved + 1
  end
end
return moved`;

/** Runs scripts by SHA, loading each into Redis the first time Redis does not know it. */
export class Scripts {
  #client: RedisClient;
  #shas = new Map<string, Promise<string>>();

  constructor(client: RedisClient) {
    this.#client = client;
  }

  /** Runs `source` with `keys` and `args`, on `channel`'s connection when given. */
  async run(
    source: string,
    keys: readonly string[],
    args: readonly RedisArg[],
    channel?: string,
  ): Promise<unknown> {
    let sha = this.#shas.get(source);
    if (!sha) {
      sha = sha1(source);
      this.#shas.set(source, sha);
    }
    const call = ["EVALSHA", await sha, keys.length, ...keys, ...args];
    try {
      return await this.#client.command(call, channel);
    } catch (err) {
      if (!(err instanceof RedisReplyError && err.code === "NOSCRIPT")) throw err;
      await this.#client.command(["SCRIPT", "LOAD", source], channel);
      return await this.#client.command(call, channel);
    }
  }
}

async function sha1(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-1", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}
