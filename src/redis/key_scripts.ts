/**
 * Key order in Lua: within a group, the events of one stream with one `key` are handed out one
 * at a time, in stream order, to whichever consumer claims (message groups, as SQS FIFO names
 * them). Two keys per stream and group hold the state (shared by the stream and the group's
 * redrive stream for it), so every key a script touches comes from
 * the stream and the group:
 *
 * - the **holders hash**: `k<key>` = the entry that holds the key (handed out, or waiting for a
 *   retry or an expired lease, until it is acked or dead-lettered), as `s<id>` for the stream's
 *   own entries and `r<id>` for the group's redriven ones; `i<s|r><id>` = the key a holder
 *   holds; `g<s|r>` = the gate cursor of each, the id up to which every entry read was decided.
 * - the **parked set**: entries read while their key was held, in order per key (members
 *   `<length of key>:<key>:<rank><padded id> <s|r><lease token>`, score 0, ranged by prefix;
 *   redriven entries rank first). A parked
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
-- Parks a pending entry of source g.at behind its key's holder: count back to 0, a timer never
-- due. Redriven entries (older events) come before the stream's own in the key's line.
local function park(g, id, key, owner, count)
  local src = g[g.at]
  redis.call('ZREM', src.tk, id .. '|' .. count .. '|' .. owner)
  redis.call('XCLAIM', src.sk, g.group, owner, 0, id, 'RETRYCOUNT', 0, 'JUSTID')
  local token = id .. '|0|' .. owner
  redis.call('ZADD', src.tk, 'inf', token)
  local rank = g.at == 'r' and '0' or '1'
  redis.call('ZADD', g.pk, 0, prefix(key) .. rank .. pad(id) .. ' ' .. g.at .. token)
end
-- Runs a command with a long list of arguments after head, in parts Lua's stack takes.
local function batched(head, list)
  for j = 1, #list, 4000 do
    local args = {unpack(head)}
    for i = j, math.min(j + 3999, #list) do args[#args + 1] = list[i] end
    redis.call(unpack(args))
  end
end
-- Reads hash fields in parts: a table field -> value (false when missing).
local function hmget(hk, fields)
  local out = {}
  for j = 1, #fields, 4000 do
    local part = {unpack(fields, j, math.min(j + 3999, #fields))}
    local values = redis.call('HMGET', hk, unpack(part))
    for i, f in ipairs(part) do out[f] = values[i] end
  end
  return out
end
-- Decides entries of source g.at ({id, key, owner, count}, in id order): each holds its key
-- when nobody does, else it is parked behind the holder. Moves the gate cursor to upto. Returns
-- id -> true for each that holds its key now.
local function decide(g, todo, upto)
  local fields, seen = {}, {}
  for _, t in ipairs(todo) do
    local f = 'k' .. t[2]
    if not seen[f] then
      seen[f] = true
      fields[#fields + 1] = f
    end
  end
  local holders = hmget(g.hk, fields)
  local sets, holds = {'g' .. g.at, upto}, {}
  for _, t in ipairs(todo) do
    local id, key = t[1], t[2]
    local f = 'k' .. key
    if holders[f] then
      park(g, id, key, t[3], t[4])
    else
      holders[f] = g.at .. id
      holds[id] = true
      sets[#sets + 1] = f
      sets[#sets + 1] = g.at .. id
      sets[#sets + 1] = 'i' .. g.at .. id
      sets[#sets + 1] = key
    end
  end
  batched({'HSET', g.hk}, sets)
  return holds
end
-- Adds to todo the keyed entries of source g.at pending from from (an XPENDING start) up to
-- upto, as decide takes them. known: id -> key (or false) of entries the caller read, so their
-- fields need not be read again.
local function undecided(g, from, upto, known, todo)
  local src = g[g.at]
  while true do
    local p = redis.call('XPENDING', src.sk, g.group, from, upto, 1000)
    for _, e in ipairs(p) do
      local key = known[e[1]]
      if key == nil then
        local r = redis.call('XRANGE', src.sk, e[1], e[1])
        key = r[1] and keyof(r[1][2]) or false
      end
      if key then todo[#todo + 1] = {e[1], key, e[2], e[4]} end
    end
    if #p < 1000 then return todo end
    from = '(' .. p[#p][1]
  end
end
-- Decides, in id order, every entry of source g.at read up to upto that is pending and not
-- decided yet (see decide).
local function advance(g, upto, known)
  local gate = redis.call('HGET', g.hk, 'g' .. g.at)
  if gate and pad(gate) >= pad(upto) then return end
  decide(g, undecided(g, gate and '(' .. gate or '-', upto, known, {}), upto)
end
-- Whether an entry of source g.at that this claim took (owner, count) may be handed out: it has
-- no key, or holds it. Decides it first when it was not yet.
local function admit(g, id, key, owner)
  if not key then return true end
  local known = {}
  known[id] = key
  advance(g, id, known)
  if redis.call('HEXISTS', g.hk, 'i' .. g.at .. id) == 1 then return true end
  -- Neither holder nor parked: it was not there to decide (trimmed meanwhile); let it go.
  return not redis.call('ZSCORE', g[g.at].tk, id .. '|0|' .. owner)
end
-- The key was freed: the first entry parked behind it holds it now, due at once. Returns
-- whether one did; the caller deletes the key's holder field when none did.
local function passOn(g, key)
  local pre = prefix(key)
  while true do
    local m = redis.call('ZRANGEBYLEX', g.pk, '[' .. pre, '(' .. pre .. '~', 'LIMIT', 0, 1)[1]
    if not m then return false end
    redis.call('ZREM', g.pk, m)
    local next = string.sub(m, #pre + 40, #pre + 40)
    local token = string.sub(m, #pre + 41)
    local nid = string.match(token, '^([^|]*)|')
    local src = g[next]
    if #redis.call('XPENDING', src.sk, g.group, nid, nid, 1) > 0 then
      redis.call('ZADD', src.tk, 0, token)
      redis.call('HSET', g.hk, 'k' .. key, next .. nid, 'i' .. next .. nid, key)
      return true
    end
    -- No longer pending (trimmed away): the next one.
    redis.call('ZREM', src.tk, token)
  end
end
-- The entries ids of source at were acked, dead-lettered or trimmed: each that held its key
-- passes it to the first entry parked behind it. Returns how many parked entries fell due.
local function release(g, at, ids)
  local fields = {}
  for i, id in ipairs(ids) do fields[i] = 'i' .. at .. id end
  local keys = hmget(g.hk, fields)
  local parked = redis.call('ZCARD', g.pk) > 0
  local dels, due = {}, 0
  for _, f in ipairs(fields) do
    local key = keys[f]
    if key then
      dels[#dels + 1] = f
      if parked and passOn(g, key) then due = due + 1 else dels[#dels + 1] = 'k' .. key end
    end
  end
  batched({'HDEL', g.hk}, dels)
  return due
end
-- The key state of a stream from six KEYS from base + 1: stream, timers, redrive stream, its
-- timers, holders, parked.
local function keyState(base, group, at)
  return {
    s = {sk = KEYS[base + 1], tk = KEYS[base + 2]},
    r = {sk = KEYS[base + 3], tk = KEYS[base + 4]},
    hk = KEYS[base + 5], pk = KEYS[base + 6], group = group, at = at,
  }
end
`;

/**
 * gate — KEYS: the six keys of the stream (see Keys.keyed). ARGV: group, consumer, then per
 * keyed entry the consumer's plain `XREADGROUP` just handed it (ascending): its id and key.
 * Decides them (and whatever was read before them undecided) and parks those whose key is held.
 * Returns per entry 1 (hand it out) or 0 (parked). The leases of those handed out are recorded
 * as the read's others are: by the client after the read (TCP) or by TRACK (REST).
 */
export const GATE = KEYED + `local g = keyState(0, ARGV[1], 's')
local consumer = ARGV[2]
local ids, known = {}, {}
for i = 3, #ARGV - 1, 2 do
  ids[#ids + 1] = ARGV[i]
  known[ARGV[i]] = ARGV[i + 1]
end
local first, last = ids[1], ids[#ids]
local gate = redis.call('HGET', g.hk, 'gs')
local holds = {}
if not gate or pad(gate) < pad(first) then
  -- Nobody decided this read's entries yet, so they are as the read left them: this consumer's,
  -- delivered once. Entries read before them by others and still undecided come first.
  local todo = {}
  local before = redis.call('XREVRANGE', g.s.sk, '(' .. first, '-', 'COUNT', 1)[1]
  if before and (not gate or pad(gate) < pad(before[1])) then
    undecided(g, gate and '(' .. gate or '-', before[1], {}, todo)
  end
  for _, id in ipairs(ids) do todo[#todo + 1] = {id, known[id], consumer, 1} end
  holds = decide(g, todo, last)
else
  -- Other claims decided them (some or all). Hand out those that hold their key and are still
  -- this consumer's as its read left them: one parked by another claim's decision may have been
  -- made due since and taken through the timers.
  advance(g, last, known)
  local mine, fields = {}, {}
  for _, e in ipairs(redis.call('XPENDING', g.s.sk, g.group, first, last, 1000, consumer)) do
    if tonumber(e[4]) == 1 then mine[e[1]] = true end
  end
  for i, id in ipairs(ids) do fields[i] = 'is' .. id end
  local held = hmget(g.hk, fields)
  for i, id in ipairs(ids) do holds[id] = mine[id] and held[fields[i]] and true end
end
local out = {}
for i, id in ipairs(ids) do out[i] = holds[id] and 1 or 0 end
return out`;

/**
 * fresh ack — KEYS: the six keys of the stream (see Keys.keyed). ARGV: group, then the ids of
 * entries that hold their key, handed out by a read moments ago whose lease records were not
 * sent yet (see Reader.takeFresh): acks them without a lease check, and passes each key to the
 * first entry parked behind it. Returns how many parked entries fell due.
 */
export const FRESH_ACK = KEYED + `local g = keyState(0, ARGV[1], 's')
local ids = {}
for i = 2, #ARGV do ids[#ids + 1] = ARGV[i] end
batched({'XACK', g.s.sk, g.group}, ids)
return release(g, 's', ids)`;
