/**
 * The Lua scripts that hand out leases. A lease lives in the group's timers (a sorted set per
 * stream and group) as the member `<entry id>|<delivery count>|<consumer>`, scored with the time
 * (Redis's clock, ms) at which it may be handed out again: the member is the lease token, so
 * checking a lease is one `ZMSCORE`, never a walk of the pending list. The entry itself stays in
 * the group's pending list (PEL) with the same owner and count; every script that changes one
 * changes the other.
 *
 * There are two ways to claim:
 *
 * - **CLAIM** does it all in one script: due timers first (retries whose time came, released
 *   entries, expired leases), then new entries with `XREADGROUP`, recording a lease for each.
 *   Every entry's fields pass through Lua on the way, which costs Redis time.
 * - The **fast path** (one stream, a client with pipelines): a plain `XREADGROUP`, blocking
 *   when the consumer is idle, so the fields never enter Lua and an idle consumer is woken by
 *   the read itself. Over REST, **TRACK** follows the read in the same request: it records the
 *   leases of what was read and says whether a timer is due (then CLAIM runs too). Over TCP,
 *   **PEEK** goes before the read to say whether a timer is due, and the leases are recorded
 *   right after the reply with a plain `ZADD NX` on the shared connection that settle and
 *   extend use too, so they always come after it; the reply that wakes a consumer carries no
 *   script work.
 *
 * Between `XREADGROUP` and TRACK an entry is pending with no timer. Should the consumer die right
 * there, **SWEEP** (run now and then by every fast-path consumer) makes such entries due once
 * they have been idle for a while, so they are handed out again like any expired lease.
 *
 * @module
 */
import { KEYED } from "./key_scripts.ts";
import { NOW } from "./scripts.ts";

/**
 * A timers member that is never due (score +inf). It keeps the sorted set a skiplist: a small
 * sorted set is otherwise a listpack, where adding 100 members costs about three times as much.
 */
export const SENTINEL_MEMBER = "herald-timers-".repeat(5);
const SENTINEL = `local SENTINEL = '${SENTINEL_MEMBER}'
`;

// timed(key) -> how many entries of a redrive stream have a timer (parked ones too).
const TIMED = `local function timed(key)
  return redis.call('ZCARD', key) - (redis.call('ZSCORE', key, SENTINEL) and 1 or 0)
end
`;

/**
 * claim — KEYS: per stream, its stream key, timers key, redrive stream key, redrive timers key,
 * holders key and parked key (see key_scripts.ts); each stream is two sources, the stream
 * (odd) and its redrive stream (even). ARGV: group, consumer, max, lease ms, first source to read new entries from
 * (rotates so no stream starves the others). Keyed entries are handed out only while they hold
 * their key; the others are parked. Returns { now, next due or -1, deliveries: {source, id,
 * count, fields}..., last ids... }.
 */
export const CLAIM = NOW + SENTINEL + KEYED + `local group, consumer = ARGV[1], ARGV[2]
local max, lease, first = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local expires = string.format('%d', now + lease)
local nsrc = #KEYS / 3
local out = {}
local got = 0
-- Source s: its key state, with its stream key and timers key.
local function source(s)
  local g = keyState(6 * math.floor((s - 1) / 2), group, s % 2 == 1 and 's' or 'r')
  return g, g[g.at].sk, g[g.at].tk
end
-- Due timers first: retries whose time came, released entries, expired leases.
for s = 1, nsrc do
  if got >= max then break end
  local g, sk, tk = source(s)
  local keyed = redis.call('EXISTS', g.hk) == 1
  local due = redis.call('ZRANGEBYSCORE', tk, '-inf', now, 'LIMIT', 0, max - got)
  for _, member in ipairs(due) do
    local id, n = string.match(member, '^([^|]*)|(%d+)|')
    local count = tonumber(n) + 1
    redis.call('ZREM', tk, member)
    local c = redis.call('XCLAIM', sk, group, consumer, 0, id, 'RETRYCOUNT', count)
    if c[1] and c[1][2] then
      local held = keyed and redis.call('HEXISTS', g.hk, 'i' .. g.at .. id) == 1
      if held or admit(g, id, keyof(c[1][2]), consumer) then
        redis.call('ZADD', tk, expires, id .. '|' .. count .. '|' .. consumer)
        got = got + 1
        out[#out + 1] = {s, id, count, c[1][2]}
      end
    else
      -- Trimmed from the stream while it waited: forget it, and pass its key on.
      redis.call('XACK', sk, group, id)
      if keyed then release(g, g.at, {id}) end
    end
  end
end
-- Then new entries, from each source in turn.
for i = 0, nsrc - 1 do
  if got >= max then break end
  local s = (first + i) % nsrc + 1
  local g, sk, tk = source(s)
  -- Redrive streams (even sources) mostly do not exist: skip them without raising NOGROUP.
  local ok, r = false, nil
  if s % 2 == 1 or redis.call('EXISTS', sk) == 1 then
    ok, r = pcall(redis.call, 'XREADGROUP', 'GROUP', group, consumer, 'COUNT', max - got, 'STREAMS', sk, '>')
  end
  if ok and r then
    local entries = r[1][2]
    -- Keyed entries are decided together, in order, before any is handed out.
    local known, last = {}, nil
    for _, e in ipairs(entries) do
      local key = keyof(e[2])
      known[e[1]] = key
      if key then last = e[1] end
    end
    if last then advance(g, last, known) end
    local zargs = {'inf', SENTINEL}
    for _, e in ipairs(entries) do
      if not known[e[1]] or redis.call('HEXISTS', g.hk, 'i' .. g.at .. e[1]) == 1 then
        got = got + 1
        out[#out + 1] = {s, e[1], 1, e[2]}
        zargs[#zargs + 1] = expires
        zargs[#zargs + 1] = e[1] .. '|1|' .. consumer
      end
    end
    if #zargs > 2 then redis.call('ZADD', tk, unpack(zargs)) end
  end
end
local result = {now, -1, out}
if got == 0 then
  -- Nothing ready: say when the next timer falls due and where each stream ends, to wait on.
  local last = {}
  for s = 1, nsrc do
    local _, sk, tk = source(s)
    local z = redis.call('ZRANGEBYSCORE', tk, '-inf', '(inf', 'WITHSCORES', 'LIMIT', 0, 1)
    if z[2] and (result[2] == -1 or tonumber(z[2]) < result[2]) then result[2] = tonumber(z[2]) end
    local r = redis.call('XREVRANGE', sk, '+', '-', 'COUNT', 1)
    last[s] = r[1] and r[1][1] or '0-0'
  end
  result[4] = last
end
return result`;

/**
 * track — KEYS: stream key, timers key, redrive stream key, redrive timers key. ARGV: group,
 * consumer, lease ms, cursor: an id at or after which lies every entry the consumer was handed
 * before (`-` when unknown). Runs right after the consumer's `XREADGROUP`, on the same
 * connection: the consumer's pending entries after the cursor are what that read handed out,
 * plus leases it took over from timers, which already have theirs (`NX` keeps them). Returns
 * { now, the earliest timer or -1 } over both sources; 0 when the redrive stream holds entries
 * not handed out yet.
 */
export const TRACK = NOW + SENTINEL + TIMED +
  `local sk, tk, rk, rtk = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local group, consumer = ARGV[1], ARGV[2]
local expires = string.format('%d', now + tonumber(ARGV[3]))
local from = ARGV[4] == '-' and '-' or '(' .. ARGV[4]
local tail = '|' .. consumer
while true do
  local p = redis.call('XPENDING', sk, group, from, '+', 1000, consumer)
  if #p == 0 then break end
  local zargs = {'NX', 'inf', SENTINEL}
  for _, e in ipairs(p) do
    zargs[#zargs + 1] = expires
    zargs[#zargs + 1] = e[1] .. '|' .. e[4] .. tail
  end
  redis.call('ZADD', tk, unpack(zargs))
  if #p < 1000 then break end
  from = '(' .. p[#p][1]
end
local due = -1
for _, key in ipairs({tk, rtk}) do
  local z = redis.call('ZRANGEBYSCORE', key, '-inf', '(inf', 'WITHSCORES', 'LIMIT', 0, 1)
  if z[2] and (due == -1 or tonumber(z[2]) < due) then due = tonumber(z[2]) end
end
-- Every redriven entry handed out (or parked) has a timer until it is settled and deleted.
if redis.call('XLEN', rk) > timed(rtk) then due = 0 end
return {now, due}`;

/**
 * peek — KEYS: timers key, redrive stream key, redrive timers key. Sent just before a TCP
 * client's `XREADGROUP`, whose leases are then recorded with a plain `ZADD NX` on the
 * connection every settle uses, so no settle can come before them. Returns { now, the earliest
 * timer or -1 }; 0 when the redrive stream holds entries not handed out yet.
 */
export const PEEK = NOW + SENTINEL + TIMED + `local due = -1
for _, key in ipairs({KEYS[1], KEYS[3]}) do
  local z = redis.call('ZRANGEBYSCORE', key, '-inf', '(inf', 'WITHSCORES', 'LIMIT', 0, 1)
  if z[2] and (due == -1 or tonumber(z[2]) < due) then due = tonumber(z[2]) end
end
if redis.call('XLEN', KEYS[2]) > timed(KEYS[3]) then due = 0 end
return {now, due}`;

/**
 * sweep — KEYS: stream key, timers key. ARGV: group, idle ms, id to scan from (`-` at first).
 * Makes due each pending entry idle that long whose lease has no timer: one read by a consumer
 * that died before its TRACK ran. Scans 100 entries; returns { how many were made due, the id
 * to scan from next time (`-` when the scan reached the end) }.
 */
export const SWEEP = NOW + `local sk, tk, group = KEYS[1], KEYS[2], ARGV[1]
local p = redis.call('XPENDING', sk, group, 'IDLE', tonumber(ARGV[2]), ARGV[3], '+', 100)
local made = 0
for _, e in ipairs(p) do
  local member = e[1] .. '|' .. e[4] .. '|' .. e[2]
  if not redis.call('ZSCORE', tk, member) then
    redis.call('ZADD', tk, now, member)
    made = made + 1
  end
end
return {made, #p == 100 and '(' .. p[100][1] or '-'}`;
