/**
 * Scripts for the Redis backend's optional capabilities (see `../capabilities.ts`).
 *
 * @module
 */
import { NOW } from "./scripts.ts";

/**
 * take_rate — KEYS: the rate key (a hash of the window `w` and the permits taken `n`).
 * ARGV: max, perMs. Returns 0 when a permit was taken, else the milliseconds until the next
 * window. Windows are measured on Redis's clock, so every process agrees on them.
 */
export const TAKE_RATE = `${NOW}
local max, per = tonumber(ARGV[1]), tonumber(ARGV[2])
local w = math.floor(now / per)
local cur = redis.call('HMGET', KEYS[1], 'w', 'n')
if tonumber(cur[1]) ~= w then
  redis.call('HSET', KEYS[1], 'w', w, 'n', 1)
  redis.call('PEXPIRE', KEYS[1], per * 2)
  return 0
end
if tonumber(cur[2]) < max then
  redis.call('HINCRBY', KEYS[1], 'n', 1)
  return 0
end
return math.max(1, (w + 1) * per - now)
`;
