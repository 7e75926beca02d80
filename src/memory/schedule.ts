/**
 * The in-memory backend's schedule of delayed events (see `schedule.ts`).
 *
 * @module
 */
import { type Envelope, envelopeProblem } from "../envelope.ts";
import type { ScheduledEvent } from "../schedule.ts";

/** Scheduled events by id, in the order they were scheduled. */
export class MemorySchedule {
  readonly #events = new Map<string, ScheduledEvent>();

  /**
   * Adds events not scheduled yet, all or none.
   *
   * @returns the earliest due time among them.
   * @throws {TypeError} when an entry is not an envelope with a due time.
   */
  add(events: readonly ScheduledEvent[]): number {
    let earliest = Infinity;
    for (const { envelope, dueAt } of events) {
      const problem = envelopeProblem(envelope);
      if (problem) throw new TypeError(`Cannot schedule a malformed envelope: ${problem}`);
      if (!Number.isFinite(dueAt)) throw new TypeError("dueAt must be a finite number");
      earliest = Math.min(earliest, dueAt);
    }
    for (const { envelope, dueAt } of events) {
      if (this.#events.has(envelope.id)) continue;
      this.#events.set(envelope.id, { envelope: structuredClone(envelope), dueAt });
    }
    return earliest;
  }

  /** Removes a scheduled event; `false` when it is not in the schedule. */
  cancel(id: string): boolean {
    return this.#events.delete(id);
  }

  /** Takes up to `max` events due at `now`, earliest first, and when the next one is due. */
  take(now: number, max: number): { due: Envelope[]; next?: number } {
    const due = [...this.#events.values()]
      .filter((e) => e.dueAt <= now)
      .sort((a, b) => a.dueAt - b.dueAt)
      .slice(0, max);
    for (const e of due) this.#events.delete(e.envelope.id);
    let next: number | undefined;
    for (const e of this.#events.values()) if (next === undefined || e.dueAt < next) next = e.dueAt;
    return { due: due.map((e) => e.envelope), next };
  }
}
