/**
 * Time and payloads shared by every bench process. Times are wall-clock milliseconds with
 * sub-millisecond precision, so a stamp taken in one process can be compared with a reading in
 * another on the same machine.
 *
 * @module
 */

/** Wall-clock milliseconds, sub-millisecond precision, comparable across processes. */
export function now(): number {
  return performance.timeOrigin + performance.now();
}

/** Size of every benchmark event's payload, in bytes. */
export const EVENT_BYTES = 200;

/** The fields every benchmark event carries. */
export interface Tick {
  /** Sequence number, 0-based, unique in a run. */
  seq: number;
  /** Publish time stamp (see {@linkcode now}). */
  t: number;
  /** Padding up to {@linkcode EVENT_BYTES}. */
  pad: string;
}

/** A tick whose JSON encoding is exactly {@linkcode EVENT_BYTES} bytes long. */
export function tick(seq: number): Tick {
  const t = now();
  const bare = JSON.stringify({ seq, t, pad: "" }).length;
  return { seq, t, pad: "x".repeat(Math.max(0, EVENT_BYTES - bare)) };
}

/** {@linkcode tick} encoded as JSON: a 200-byte string. */
export function tickJson(seq: number): string {
  return JSON.stringify(tick(seq));
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Never notified: `Atomics.wait` on it is a precise pause. */
const PAUSER = new Int32Array(new SharedArrayBuffer(4));
/** Timers here fire ~1–3 ms late; waits shorter than this are done by blocking instead. */
const TIMER_SLACK_MS = 3;

/**
 * Waits until the wall-clock time `at` (see {@linkcode now}) with sub-millisecond precision:
 * a timer for all but the last few milliseconds, then a blocking pause. A producer paced by
 * timers alone publishes in bursts (a 0.5–2 ms timer fires 2–3 ms late, and the events behind
 * it go out back to back), which measures queueing after a burst rather than a steady rate.
 * Only for roles with nothing else to do while they wait: the pause blocks the event loop.
 */
export async function until(at: number): Promise<void> {
  const ahead = at - now();
  if (ahead > TIMER_SLACK_MS) await sleep(ahead - TIMER_SLACK_MS);
  const rest = at - now();
  if (rest > 0) Atomics.wait(PAUSER, 0, 0, rest);
}
