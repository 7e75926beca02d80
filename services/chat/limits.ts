/**
 * What one chat socket may send: a token bucket of messages, so one client flooding a room
 * is cut off before it slows everyone else.
 *
 * @module
 */

/** Messages per second a socket may keep up. */
export const RATE_PER_S = 20;
/** Messages a socket may send at once before the rate applies. */
export const BURST = 40;
/** Messages dropped in a row (over the rate) after which the socket is closed with 4429. */
export const MAX_DROPPED = 1_000;
/** Sockets one user may hold open on one Chat instance. */
export const MAX_SOCKETS_PER_USER = 5;

/**
 * A token bucket: `take()` says whether one more message fits.
 *
 * @param ratePerS Tokens added per second.
 * @param burst The bucket's size.
 * @returns The bucket.
 *
 * @example
 * ```ts ignore
 * const bucket = createBucket(20, 40);
 * if (!bucket.take()) ws.close(4429, "Too many messages");
 * ```
 */
export function createBucket(ratePerS = RATE_PER_S, burst = BURST): { take(): boolean } {
  let tokens = burst;
  let last = performance.now();
  return {
    take() {
      const now = performance.now();
      tokens = Math.min(burst, tokens + ((now - last) / 1000) * ratePerS);
      last = now;
      if (tokens < 1) return false;
      tokens -= 1;
      return true;
    },
  };
}
