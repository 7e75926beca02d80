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
 * append — KEYS: the k distinct stream keys, then one dedupe key per event when deduping.
 * ARGV: trim ("none" | "MAXLEN" | "MINID"), trim approx ("~" | "="), trim arg, dedupe ("0"|"1"),
 * dedupe ttl ms, k, then per event its stream's place in KEYS (only when k > 1) and its envelope
 * JSON. Returns how many were written.
 *
 * Each stream is named once, not once per event: a batch of 100 on one stream is then 100 fewer
 * keys for the client to encode and Redis to parse (measured with 100 events per call: Redis
 * 2.9 -> 2.3-2.5 µs per event, client and network included 5.3-6.3 -> 4.2-4.7). Each stream is
 * trimmed once, after its entries are added, rather than by every XADD: inside one script nobody
 * sees the difference, and 100 XADDs that trim cost Redis about 15% more.
 */
export const APPEND = `local trim, approx, limit, ttl = ARGV[1], ARGV[2], ARGV[3], ARGV[5]
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
    const call = await this.call(source, keys, args);
    try {
      return await this.#client.command(call, channel);
    } catch (err) {
      if (!(err instanceof RedisReplyError && err.code === "NOSCRIPT")) throw err;
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
