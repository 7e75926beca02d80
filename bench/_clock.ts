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
