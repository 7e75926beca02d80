/**
 * The Lua scripts that act on leases already handed out: settle and extend. A lease is held
 * while its token (`<entry id>|<delivery count>|<consumer>`, see claim_scripts.ts) is a member of
 * the timers, so a run of entries (one source, one consumer) is checked with one `ZMSCORE`.
 * An entry whose lease was never recorded (its TRACK did not run) is still held when the
 * pending list says so; that is checked with one `XPENDING` over the misses.
 *
 * Arguments come in runs, made in lease_args.ts: KEYS hold each run's stream key and timers
 * key; ARGV holds each run's consumer, flags and entries.
 *
 * @module
 */
import { KEYED } from "./key_scripts.ts";
import { NOW } from "./scripts.ts";

// held(...) -> for each entry i, its token when the lease is held, else false. A token with no
// timer is held when the pending list gives the entry to that consumer with that count.
const HELD = `local function held(sk, tk, group, consumer, ids, counts)
  local tokens = {}
  for i, id in ipairs(ids) do tokens[i] = id .. '|' .. counts[i] .. '|' .. consumer end
  local scores = redis.call('ZMSCORE', tk, unpack(tokens))
  local missed = {}
  for i = 1, #ids do
    if not scores[i] then missed[#missed + 1] = i end
  end
  if #missed > 0 then
    local first, last = ids[missed[1]], ids[missed[#missed]]
    local pending = {}
    local from = first
    while true do
      local p = redis.call('XPENDING', sk, group, from, last, 1000, consumer)
      for _, e in ipairs(p) do pending[e[1]] = e[4] end
      if #p < 1000 then break end
      from = '(' .. p[#p][1]
    end
    for _, i in ipairs(missed) do
      if tonumber(pending[ids[i]]) ~= tonumber(counts[i]) then tokens[i] = false end
    end
  end
  return tokens
end
`;

/**
 * settle — KEYS: the group's dead-letter stream, then per run the six keys of its stream (see
 * Keys.keyed): the run's source is the stream, or its redrive stream.
 * ARGV: group, the dead-letter stream's bound (`XADD MAXLEN ~`), then per run: consumer, "1"
 * when the source is a redrive stream (acked entries
 * are deleted there: nobody else reads it), entry count n, and the run's kind:
 * - `a` (acks only, n ≤ 1000): n lease tokens, then the n entry ids. When every token is in the
 *   timers (the common case) that is one ZMSCORE, one XACK and one ZREM, with no Lua per entry.
 * - `m`: per entry an outcome and its values: `a` id count | `r` id count delay | `l` id count |
 *   `d` id count record fields.
 *
 * Entries of a run come sorted by id. An ack or a dead letter of an entry that holds its key
 * passes the key to the next entry parked behind it. Returns { how many were applied (the others
 * had lost their lease and are left to the new owner), how many parked entries fell due }.
 */
export const SETTLE = NOW + HELD + KEYED + `local group, deadMax = ARGV[1], ARGV[2]
local applied, unparked = 0, 0
local a = 3
for run = 1, (#KEYS - 1) / 6 do
  local consumer, redrive, n, kind = ARGV[a], ARGV[a + 1] == '1', tonumber(ARGV[a + 2]), ARGV[a + 3]
  local g = keyState(6 * run - 5, group, redrive and 'r' or 's')
  local sk, tk = g[g.at].sk, g[g.at].tk
  local keyed = redis.call('EXISTS', g.hk) == 1
  a = a + 4
  local all = false
  if kind == 'a' then
    local scores = redis.call('ZMSCORE', tk, unpack(ARGV, a, a + n - 1))
    all = true
    for i = 1, n do
      if not scores[i] then all = false break end
    end
    if all then
      redis.call('XACK', sk, group, unpack(ARGV, a + n, a + 2 * n - 1))
      redis.call('ZREM', tk, unpack(ARGV, a, a + n - 1))
      if redrive then redis.call('XDEL', sk, unpack(ARGV, a + n, a + 2 * n - 1)) end
      if keyed then unparked = unparked + release(g, g.at, {unpack(ARGV, a + n, a + 2 * n - 1)}) end
      applied = applied + n
      a = a + 2 * n
    end
  end
  if not all then
    -- Each entry: its outcome, id, count, and where its other values start in ARGV.
    local outs, ids, counts, at = {}, {}, {}, {}
    if kind == 'a' then
      for i = 1, n do
        outs[i], ids[i] = 'a', ARGV[a + n + i - 1]
        counts[i] = string.match(ARGV[a + i - 1], '^[^|]*|(%d+)|')
      end
      a = a + 2 * n
    else
      local size = {a = 3, r = 4, l = 3, d = 5}
      for i = 1, n do
        outs[i], ids[i], counts[i], at[i] = ARGV[a], ARGV[a + 1], ARGV[a + 2], a
        a = a + size[ARGV[a]]
      end
    end
    local tokens = held(sk, tk, group, consumer, ids, counts)
    local done, gone, seen = {}, {}, {}
    for i = 1, n do
      local token = tokens[i]
      -- A second settlement of the same lease in this call changes nothing.
      if token and not seen[token] then
        seen[token] = true
        applied = applied + 1
        local b, id, outcome = at[i], ids[i], outs[i]
        if outcome == 'a' or outcome == 'd' then
          if outcome == 'd' then
            redis.call('XADD', KEYS[1], 'MAXLEN', '~', deadMax, '*', 'd', ARGV[b + 3], 'f', ARGV[b + 4])
          end
          done[#done + 1] = id
          gone[#gone + 1] = token
        elseif outcome == 'r' then
          redis.call('ZADD', tk, now + tonumber(ARGV[b + 3]), token)
        else
          -- Released, not an attempt: take the count back, and make it due at once.
          local count = tonumber(counts[i]) - 1
          redis.call('XCLAIM', sk, group, consumer, 0, id, 'RETRYCOUNT', count, 'JUSTID')
          redis.call('ZREM', tk, token)
          redis.call('ZADD', tk, 0, id .. '|' .. count .. '|' .. consumer)
        end
      end
    end
    for j = 1, #done, 1000 do
      local part = {unpack(done, j, math.min(j + 999, #done))}
      redis.call('XACK', sk, group, unpack(part))
      redis.call('ZREM', tk, unpack(gone, j, math.min(j + 999, #gone)))
      if redrive then redis.call('XDEL', sk, unpack(part)) end
    end
    if keyed and #done > 0 then unparked = unparked + release(g, g.at, done) end
  end
end
return {applied, unparked}`;

/**
 * extend — KEYS: per run its stream key and timers key. ARGV: group, lease ms, then per run:
 * consumer, entry count, then per entry: id, delivery count, its 1-based index in the call.
 * Entries of a run come sorted by id. Returns the indexes of lost leases.
 */
export const EXTEND = NOW + HELD + `local group, lease = ARGV[1], tonumber(ARGV[2])
local lost = {}
local a = 3
for run = 1, #KEYS / 2 do
  local sk, tk = KEYS[2 * run - 1], KEYS[2 * run]
  local consumer, n = ARGV[a], tonumber(ARGV[a + 1])
  a = a + 2
  local ids, counts, index = {}, {}, {}
  for i = 1, n do
    ids[i], counts[i], index[i] = ARGV[a], ARGV[a + 1], tonumber(ARGV[a + 2])
    a = a + 3
  end
  local tokens = held(sk, tk, group, consumer, ids, counts)
  for i = 1, n do
    if tokens[i] then
      redis.call('ZADD', tk, now + lease, tokens[i])
    else
      lost[#lost + 1] = index[i]
    end
  end
end
return lost`;
