/**
 * Key order in Lua: within a group, the events of one stream with one `key` are handed out one
 * at a time, in stream order, to whichever consumer claims (message groups, as SQS FIFO names
 * them). Two keys per source and group hold the state, so every key a script touches comes from
 * the stream and the group:
 *
 * - the **holders hash**: `k<key>` = the entry that holds the key (handed out, or waiting for a
 *   retry or an expired lease, until it is acked or dead-lettered); `i<id>` = the key a holder
 *   holds; `g` = the gate cursor, the last entry id up to which every entry read was decided.
 * - the **parked set**: entries read while their key was held, in order per key (members
 *   `<length of key>:<key>:<padded id> <lease token>`, score 0, ranged by prefix). A parked
 *   entry stays in the pending list, its delivery count set back to 0, with a timer that is
 *   never due; when its key's holder is settled for good, the first parked entry becomes the
 *   holder and its timer falls due at once, so any consumer claims it.
 *
 * Entries are decided in stream order by whoever gets there first: a claim that reads entries
 * first decides every entry read before them that is still pending and undecided (read by
 * another consumer whose decision has not run yet). An entry without a key is never decided: it
 * flows as before, and a group that never saw a key never touches this state.
 *
 * @module
 */
import { NOW } from "./scripts.ts";

/**
 * The Lua functions every script that hands out or settles keyed entries shares. `g` is a
 * table: `sk`, `tk`, `hk`, `pk` (stream, timers, holders, parked keys) and `group`.
 */
export const KEYED = `local function pad(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return string.rep('0', 16 - #ms) .. ms .. '-' .. string.rep('0', 20 - #seq) .. seq
end
-- The ordering key in an entry's fields, or false. The JSON is decoded only when it names one.
local function keyof(fields)
  for j = 1, #fields - 1, 2 do
    if fields[j] == 'e' then
      local e = fields[j + 1]
      if not string.find(e, '"key":', 1, true) then return false end
      local ok, v = pcall(cjson.decode, e)
      if ok and type(v) == 'table' and type(v.key) == 'string' then return v.key end
      return false
    end
  end
  return false
end
local function prefix(key) return #key .. ':' .. key .. ':' end
-- Parks a pending entry behind its key's holder: count back to 0, a timer never due.
local function park(g, id, key, owner, count)
  redis.call('ZREM', g.tk, id .. '|' .. count .. '|' .. owner)
  redis.call('XCLAIM', g.sk, g.group, owner, 0, id, 'RETRYCOUNT', 0, 'JUSTID')
  local token = id .. '|0|' .. owner
  redis.call('ZADD', g.tk, 'inf', token)
  redis.call('ZADD', g.pk, 0, prefix(key) .. pad(id) .. ' ' .. token)
end
-- Decides, in id order, every entry read up to upto that is pending and not decided yet: it
-- holds its key when nobody does, else it is parked. known: id -> key (or false) of entries
-- the caller read, so their fields need not be read again.
local function advance(g, upto, known)
  local gate = redis.call('HGET', g.hk, 'g')
  if gate and pad(gate) >= pad(upto) then return end
  local from = gate and '(' .. gate or '-'
  while true do
    local p = redis.call('XPENDING', g.sk, g.group, from, upto, 1000)
    for _, e in ipairs(p) do
      local id = e[1]
      local key = known[id]
      if key == nil then
        local r = redis.call('XRANGE', g.sk, id, id)
        key = r[1] and keyof(r[1][2]) or false
      end
      if key then
        if redis.call('HEXISTS', g.hk, 'k' .. key) == 1 then
          park(g, id, key, e[2], e[4])
        else
          redis.call('HSET', g.hk, 'k' .. key, id, 'i' .. id, key)
        end
      end
    end
    if #p < 1000 then break end
    from = '(' .. p[#p][1]
  end
  redis.call('HSET', g.hk, 'g', upto)
end
-- Whether an entry this claim took (owner, count) may be handed out: it has no key, or holds
-- it. Decides it first when it was not yet.
local function admit(g, id, key, owner, count)
  if not key then return true end
  local known = {}
  known[id] = key
  advance(g, id, known)
  if redis.call('HEXISTS', g.hk, 'i' .. id) == 1 then return true end
  -- Neither holder nor parked: it was not there to decide (trimmed meanwhile); let it go.
  return not redis.call('ZSCORE', g.tk, id .. '|0|' .. owner)
end
-- The holder id was acked, dead-lettered or trimmed: the first entry parked behind its key
-- holds it now, due at once. Returns 1 when one was made due, else 0.
local function release(g, id)
  local key = redis.call('HGET', g.hk, 'i' .. id)
  if not key then return 0 end
  redis.call('HDEL', g.hk, 'i' .. id)
  local pre = prefix(key)
  while true do
    local m = redis.call('ZRANGEBYLEX', g.pk, '[' .. pre, '(' .. pre .. '~', 'LIMIT', 0, 1)[1]
    if not m then
      redis.call('HDEL', g.hk, 'k' .. key)
      return 0
    end
    redis.call('ZREM', g.pk, m)
    local token = string.sub(m, #pre + 39)
    local nid = string.match(token, '^([^|]*)|')
    if #redis.call('XPENDING', g.sk, g.group, nid, nid, 1) > 0 then
      redis.call('ZADD', g.tk, 0, token)
      redis.call('HSET', g.hk, 'k' .. key, nid, 'i' .. nid, key)
      return 1
    end
    -- No longer pending (trimmed away): the next one.
    redis.call('ZREM', g.tk, token)
  end
end
`;

/**
 * gate — KEYS: stream key, timers key, holders key, parked key. ARGV: group, consumer, lease ms,
 * then per keyed entry the consumer's plain `XREADGROUP` just handed it (ascending): its id and
 * key. Decides them (and whatever was read before them undecided), records the lease of each
 * that holds its key, and parks the others. Returns per entry 1 (hand it out) or 0 (parked).
 */
export const GATE = NOW + KEYED + `local g = {sk = KEYS[1], tk = KEYS[2], hk = KEYS[3], pk = KEYS[4], group = ARGV[1]}
local consumer, expires = ARGV[2], string.format('%d', now + tonumber(ARGV[3]))
local known, last = {}, nil
for i = 4, #ARGV - 1, 2 do
  known[ARGV[i]] = ARGV[i + 1]
  last = ARGV[i]
end
advance(g, last, known)
local out = {}
for i = 4, #ARGV - 1, 2 do
  local id = ARGV[i]
  if redis.call('HEXISTS', g.hk, 'i' .. id) == 1 then
    redis.call('ZADD', g.tk, expires, id .. '|1|' .. consumer)
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
return out`;
