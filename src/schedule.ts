/**
 * Delayed and scheduled events: the optional backend capability that keeps events out of their
 * streams until they are due, and the rules of `delay` and `at`.
 *
 * A scheduled event is visible to no group before its due time. At its due time a promoter (see
 * `promoter.ts`, run by every process that publishes delayed events or consumes) moves it into
 * its stream in one atomic step: it leaves the schedule and is appended together, so several
 * promoters at once never append it twice. From then on it is an ordinary event: it fans out to
 * every group subscribed to its stream and takes its place in its key's order.
 *
 * @module
 */
import type { Backend } from "./backend.ts";
import type { Envelope } from "./envelope.ts";

/** The longest delay accepted, in milliseconds (365 days; Deno KV's `enqueue` allows 30). */
export const MAX_DELAY_MS = 365 * 24 * 3_600_000;

/** One event waiting in the schedule, and when it is due (milliseconds since the epoch). */
export interface ScheduledEvent {
  /** The event, as it will be appended. */
  envelope: Envelope;
  /** When it enters its stream, in milliseconds since the epoch. */
  dueAt: number;
}

/** What one promotion did. */
export interface Promotion {
  /** How many events moved into their streams. */
  moved: number;
  /**
   * When the earliest event left in the schedule is due, if any: at or before `now` when due
   * events were left for the next promotion.
   */
  next?: number;
  /** Another promoter (or a cancel) committed first: nothing moved, that one is at work. */
  lost?: boolean;
}

/**
 * Optional capability of a backend: a schedule of events that enter their streams at a due time.
 * Memory, Deno KV and Redis have it.
 *
 * Guarantees, checked by the conformance suite:
 * - `schedule` writes all of its events or none; an id already in the schedule is skipped.
 * - A scheduled event is in no stream, so no group sees it, until `promote` moves it.
 * - `promote` moves each due event once, atomically (out of the schedule and into its stream),
 *   however many promoters run at once, across processes.
 * - `cancel` removes an event that is still in the schedule, and only such an event.
 */
export interface Scheduler {
  /** Writes events into the schedule, all or none. */
  schedule(events: readonly ScheduledEvent[]): Promise<void>;
  /**
   * Removes a scheduled event that has not entered its stream yet.
   *
   * @returns whether it was removed (`false`: unknown, cancelled before, or already due and moved).
   */
  cancel(id: string): Promise<boolean>;
  /** Moves up to `max` events due at `now` (ms since the epoch) into their streams. */
  promote(now: number, max: number): Promise<Promotion>;
}

/** Tells whether a backend keeps a schedule of delayed events. */
export function isScheduler(backend: Backend): backend is Backend & Scheduler {
  const b = backend as Partial<Scheduler>;
  return typeof b.schedule === "function" && typeof b.cancel === "function" &&
    typeof b.promote === "function";
}

/**
 * The due time of a publish's `delay` or `at`, or `undefined` for an event to append now.
 *
 * @throws {TypeError} when `at` is not a valid Date, or both are given.
 * @throws {RangeError} when `delay` is negative, not finite, or either lies past {@linkcode MAX_DELAY_MS}.
 */
export function dueOf(
  options: { delay?: number; at?: Date } | undefined,
  now: number,
): number | undefined {
  if (options === undefined) return undefined;
  const { delay, at } = options;
  if (delay === undefined && at === undefined) return undefined;
  if (delay !== undefined && at !== undefined) {
    throw new TypeError("Give delay or at, not both");
  }
  let due: number;
  if (delay !== undefined) {
    if (typeof delay !== "number" || !Number.isFinite(delay) || delay < 0) {
      throw new RangeError(`delay must be a finite number of milliseconds >= 0, got ${delay}`);
    }
    due = now + delay;
  } else {
    if (!(at instanceof Date) || Number.isNaN(at.getTime())) {
      throw new TypeError("at must be a valid Date");
    }
    due = at.getTime();
  }
  if (due - now > MAX_DELAY_MS) {
    throw new RangeError(
      `A delayed event may be due at most ${MAX_DELAY_MS / 86_400_000} days ahead`,
    );
  }
  return due > now ? Math.ceil(due) : undefined;
}
