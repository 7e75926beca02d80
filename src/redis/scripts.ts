/**
 * The Lua scripts of the Redis backend: each step that must not half-happen runs as one script.
 * They are sent with `EVALSHA`, loaded once with `SCRIPT LOAD` when Redis says `NOSCRIPT`
 * (first use, or after a restart). This file holds the runner and the scripts for appending and
 * redriving; claim_scripts.ts hands out leases, lease_scripts.ts settles and extends them, and
 * key_scripts.ts keeps key order.
 *
 * Leases are kept in a sorted set per stream and group (the "timers"): member = the lease token
 * `<entry id>|<delivery count>|<consumer>`, score = the time (Redis's clock, ms) at which the
 * entry may be handed out again. It holds running leases, scheduled retries and released
 * entries, so that a retry parked for a minute neither blocks the entries behind it nor is
 * stolen early. The entry itself stays in the group's pending list (PEL) with the same owner
 * and delivery count.
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
 * append — KEYS: the k distinct stream keys, then one dedupe key per event when deduping, then
 * the correlation index keys. ARGV: trim ("none" | "MAXLEN" | "MINID"), trim approx ("~" | "="),
 * trim arg, dedupe ("0"|"1"), dedupe ttl ms, k, index ttl ms (0: none), then per event: its
 * stream's place in KEYS (only when k > 1), the places in KEYS of its two index keys (the second
 * 0 for an event that starts its chain), its correlation id, and its envelope JSON. Returns how
 * many were written.
 *
 * The index names each event as `<entry id>|<stream key>`, written with the event: an event that
 * starts its chain (its id is its correlation id) is one string key (`SET`, one command); any
 * other is pushed on its correlation's list, and its own key gives its correlation id.
 *
 * Each stream is named once, not once per event: a batch of 100 on one stream is then 100 fewer
 * keys for the client to encode and Redis to parse. Each stream is trimmed once, after its
 * entries are added, rather than by every XADD: inside one script nobody sees the difference,
 * and XADDs that trim cost Redis more.
 */
export const APPEND = `local trim, approx, limit, ttl = ARGV[1], ARGV[2], ARGV[3], ARGV[5]
local dedupe, k, ittl = ARGV[4] == '1', tonumber(ARGV[6]), tonumber(ARGV[7])
local stride = k > 1 and 5 or 4
local written, event = 0, 0
local function put(key, value)
  if ittl > 0 then redis.call('SET', key, value, 'PX', ittl) else redis.call('SET', key, value) end
end
for at = 8, #ARGV, stride do
  event = event + 1
  local key = KEYS[1]
  if k > 1 then key = KEYS[tonumber(ARGV[at])] end
  local b = at + stride - 4
  local seen = dedupe and KEYS[k + event]
  if not (seen and redis.call('EXISTS', seen) == 1) then
    local member = redis.call('XADD', key, '*', 'e', ARGV[b + 3]) .. '|' .. key
    if seen then redis.call('SET', seen, '1', 'PX', ttl) end
    local first, caused = KEYS[tonumber(ARGV[b])], tonumber(ARGV[b + 1])
    if caused == 0 then put(first, member)
    else
      if redis.call('RPUSH', first, member) == 1 and ittl > 0 then
        redis.call('PEXPIRE', first, ittl)
      end
      put(KEYS[caused], ARGV[b + 2])
    end
    written = written + 1
  end
end
if trim ~= 'none' then
  for j = 1, k do redis.call('XTRIM', KEYS[j], trim, approx, limit) end
end
return written`;

/**
 * append without the correlation index (`journeys` off) — KEYS: each stream once, then with
 * dedupe one dedupe key per event. ARGV: the trim (`MAXLEN`/`MINID` or `none`, `~` or `=`, the
 * limit), `1` to dedupe, the dedupe TTL, the number of streams, then per event (its stream's
 * place in KEYS when there are several, and) its envelope JSON. Returns how many were written.
 */
export const APPEND_PLAIN = `local trim, approx, limit, ttl = ARGV[1], ARGV[2], ARGV[3], ARGV[5]
local dedupe, k = ARGV[4] == '1', tonumber(ARGV[6])
local stride = k > 1 and 2 or 1
local written, event = 0, 0
for at = 7, #ARGV, stride do
  event = event + 1
  local key = KEYS[1]
  if k > 1 then key = KEYS[tonumber(ARGV[at])] end
  local seen = dedupe and KEYS[k + event]
  if not (seen and redis.call('EXISTS', seen) == 1) then
    redis.call('XADD', key, '*', 'e', ARGV[at + stride - 1])
    if seen then redis.call('SET', seen, '1', 'PX', ttl) end
    written = written + 1
  end
end
if trim ~= 'none' then
  for j = 1, k do redis.call('XTRIM', KEYS[j], trim, approx, limit) end
end
return written`;

/**
 * redrive — KEYS: the dead-letter stream, then per dead letter the redrive stream of its stream
 * and group. ARGV: group, then per dead letter its entry id in the dead-letter stream. Each is
 * moved only if it is still there, so concurrent redrives move it once. Every entry is read and
 * checked before the first is moved: one that is not Herald's (its `f` is not a JSON list of
 * fields) fails the whole call with a `FOREIGN` error reply, and nothing moves. Returns how many
 * moved.
 */
export const REDRIVE = `local moves = {}
for i = 2, #KEYS do
  local id = ARGV[i]
  local d = redis.call('XRANGE', KEYS[1], id, id)
  if d[1] then
    local f = {}
    for j = 1, #d[1][2], 2 do f[d[1][2][j]] = d[1][2][j + 1] end
    local ok, fields = pcall(cjson.decode, f['f'] or '[]')
    local valid = ok and type(fields) == 'table' and #fields % 2 == 0
    if valid then
      for j = 1, #fields do
        if type(fields[j]) ~= 'string' and type(fields[j]) ~= 'number' then valid = false end
      end
    end
    if not valid then
      return redis.error_reply('FOREIGN dead letter ' .. id .. ' of ' .. KEYS[1] ..
        ' is not a Herald entry (its f field is not a JSON list of fields); nothing was moved')
    end
    if #fields == 0 then fields = {'e', ''} end
    moves[#moves + 1] = {KEYS[i], id, fields}
  end
end
for _, m in ipairs(moves) do
  redis.call('XADD', m[1], '*', unpack(m[3]))
  pcall(redis.call, 'XGROUP', 'CREATE', m[1], ARGV[1], '0', 'MKSTREAM')
  redis.call('XDEL', KEYS[1], m[2])
end
return #moves`;

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
    const call = await this.call(source, keys, args);
    try {
      return await this.#client.command(call, channel);
    } catch (err) {
      if (!(err instanceof RedisReplyError && err.reply === "NOSCRIPT")) throw err;
      await this.#client.command(["SCRIPT", "LOAD", source], channel);
      return await this.#client.command(call, channel);
    }
  }

  /** Loads `source` into Redis (after a `NOSCRIPT` reply in a pipeline). */
  async load(source: string, channel?: string): Promise<void> {
    await this.#client.command(["SCRIPT", "LOAD", source], channel);
  }

  /** The `EVALSHA` command that runs `source`, for a pipeline; see {@linkcode Scripts.run}. */
  async call(
    source: string,
    keys: readonly string[],
    args: readonly RedisArg[],
  ): Promise<RedisArg[]> {
    let sha = this.#shas.get(source);
    if (!sha) {
      sha = sha1(source);
      this.#shas.set(source, sha);
    }
    return ["EVALSHA", await sha, keys.length, ...keys, ...args];
  }
}

async function sha1(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-1", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * leave — KEYS: the streams (and redrive streams) a consumer read. ARGV: group, consumer. On
 * each that exists, deletes the consumer from the group when it has no pending entries (a
 * consumer with pending entries keeps them: deleting it would drop them). Returns how many
 * consumers were deleted.
 */
export const LEAVE = `local deleted = 0
for i = 1, #KEYS do
  local ok, pending = pcall(redis.call, 'XPENDING', KEYS[i], ARGV[1], '-', '+', 1, ARGV[2])
  if ok and #pending == 0 then
    deleted = deleted + redis.call('XGROUP', 'DELCONSUMER', KEYS[i], ARGV[1], ARGV[2])
  end
end
return deleted`;
