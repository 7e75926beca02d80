/**
 * The Lua scripts that act on leases already handed out: settle and extend. A lease token is the
 * entry's owner and delivery count in the group's pending list (PEL); both scripts check it for
 * a whole run of entries (one source, one consumer) with one `XPENDING` over the run's id range,
 * not one per entry, so a batch of 100 acks costs three Redis calls.
 *
 * Arguments come in runs, made by {@linkcode leaseRuns}: KEYS hold each run's stream key and
 * timers key; ARGV holds each run's consumer, flags and entries.
 *
 * @module
 */
import type { RedisArg } from "./client.ts";
import { NOW } from "./scripts.ts";

// Which entries in [first, last] are pending for `consumer`, with their delivery counts.
const LEASED = `local function leased(sk, group, consumer, first, last)
  local found = {}
  local from = first
  while true do
    local p = redis.call('XPENDING', sk, group, from, last, 1000, consumer)
    for _, e in ipairs(p) do found[e[1]] = tonumber(e[4]) end
    if #p < 1000 then return found end
    from = '(' .. p[#p][1]
  end
end
`;

/**
 * settle — KEYS: the group's dead-letter stream, then per run its stream key and timers key.
 * ARGV: group, then per run: consumer, "1" when the source is a redrive stream (acked entries
 * are deleted there: nobody else reads it), first id, last id, entry count, then per entry an
 * outcome and its values: `a` id count | `r` id count delay | `l` id count | `d` id count
 * record fields. Returns how many were applied; the others had lost their lease and are left
 * to the new owner.
 */
export const SETTLE = NOW + LEASED + `local group = ARGV[1]
local applied = 0
local a = 2
for run = 1, (#KEYS - 1) / 2 do
  local sk, tk = KEYS[2 * run], KEYS[2 * run + 1]
  local consumer, redrive, n = ARGV[a], ARGV[a + 1] == '1', tonumber(ARGV[a + 4])
  local found = leased(sk, group, consumer, ARGV[a + 2], ARGV[a + 3])
  a = a + 5
  local done = {}
  for _ = 1, n do
    local outcome, id, count = ARGV[a], ARGV[a + 1], tonumber(ARGV[a + 2])
    local owned = found[id] == count
    if owned then applied = applied + 1 end
    if outcome == 'a' then
      if owned then done[#done + 1] = id end
      a = a + 3
    elseif outcome == 'r' then
      if owned then redis.call('ZADD', tk, now + tonumber(ARGV[a + 3]), id) end
      a = a + 4
    elseif outcome == 'l' then
      -- Not an attempt: take the count back, and make it due at once.
      if owned then
        redis.call('XCLAIM', sk, group, consumer, 0, id, 'RETRYCOUNT', count - 1, 'JUSTID')
        redis.call('ZADD', tk, 0, id)
      end
      a = a + 3
    else
      if owned then
        redis.call('XADD', KEYS[1], '*', 'd', ARGV[a + 3], 'f', ARGV[a + 4])
        done[#done + 1] = id
      end
      a = a + 5
    end
    -- Settled entries leave the found set: a second settlement of one lease changes nothing.
    if owned then found[id] = nil end
  end
  for j = 1, #done, 1000 do
    local part = {unpack(done, j, math.min(j + 999, #done))}
    redis.call('XACK', sk, group, unpack(part))
    redis.call('ZREM', tk, unpack(part))
    if redrive then redis.call('XDEL', sk, unpack(part)) end
  end
end
return applied`;

/**
 * extend — KEYS: per run its stream key and timers key. ARGV: group, lease ms, then per run:
 * consumer, first id, last id, entry count, then per entry: id, delivery count, its 1-based
 * index in the call. Returns the indexes of lost leases.
 */
export const EXTEND = NOW + LEASED + `local group, lease = ARGV[1], tonumber(ARGV[2])
local lost = {}
local a = 3
for run = 1, #KEYS / 2 do
  local sk, tk = KEYS[2 * run - 1], KEYS[2 * run]
  local consumer, n = ARGV[a], tonumber(ARGV[a + 3])
  local found = leased(sk, group, consumer, ARGV[a + 1], ARGV[a + 2])
  a = a + 4
  for _ = 1, n do
    local id = ARGV[a]
    if found[id] == tonumber(ARGV[a + 1]) and redis.call('ZSCORE', tk, id) then
      redis.call('ZADD', tk, now + lease, id)
    else
      lost[#lost + 1] = tonumber(ARGV[a + 2])
    end
    a = a + 3
  end
end
return lost`;

/** One entry of a run: its stream entry id, and what to send for it. */
export interface RunEntry {
  entryId: string;
  args: RedisArg[];
}

/** Entries sharing a source (stream key, timers key) and a consumer. */
export interface Run {
  keys: [string, string];
  consumer: string;
  /** The source is a redrive stream. */
  redrive: boolean;
  entries: RunEntry[];
}

/**
 * Groups entries into runs by source and consumer, each run sorted by entry id, so the scripts
 * can check a run's leases with one `XPENDING` over its id range.
 */
export function leaseRuns<T>(
  items: readonly T[],
  describe: (item: T) => Omit<Run, "entries"> & { entry: RunEntry },
): Run[] {
  const runs = new Map<string, Run>();
  for (const item of items) {
    const { keys, consumer, redrive, entry } = describe(item);
    const key = `${keys[0]}\n${consumer}`;
    let run = runs.get(key);
    if (!run) runs.set(key, run = { keys, consumer, redrive, entries: [] });
    run.entries.push(entry);
  }
  for (const run of runs.values()) run.entries.sort((x, y) => compareIds(x.entryId, y.entryId));
  return [...runs.values()];
}

/** Orders stream entry ids (`<ms>-<seq>`) as Redis does. */
export function compareIds(x: string, y: string): number {
  if (x === y) return 0;
  const [xm, xs] = x.split("-"), [ym, ys] = y.split("-");
  return compareDigits(xm, ym) || compareDigits(xs ?? "0", ys ?? "0");
}

function compareDigits(x: string, y: string): number {
  if (x.length !== y.length) return x.length - y.length;
  return x < y ? -1 : x > y ? 1 : 0;
}
