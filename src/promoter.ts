/**
 * The promoter: moves due events from a backend's schedule into their streams. Each backend that
 * keeps a schedule runs one, started when its process schedules an event or subscribes a group
 * (a worker starting), so every process that publishes delayed events or consumes promotes.
 *
 * It sleeps until the earliest due time it knows of, bounded by a slow backstop poll: another
 * process may schedule an earlier event and stop before it is due. The moves are atomic in the
 * backend, so promoters in many processes never append an event twice.
 *
 * @module
 */
import type { Promotion } from "./schedule.ts";

/**
 * How long a promoter that lost a race to another waits before it looks again, in milliseconds:
 * the winner goes on with the rest, and every losing try would take the database's write lock
 * (Deno KV) from it. Should the winner stop, this one takes over after the wait.
 */
const LOST_WAIT_MS = 50;

/** Moves due events into their streams, waking at the earliest due time. */
export class Promoter {
  #timer?: ReturnType<typeof setTimeout>;
  /** When the armed timer fires. */
  #at = Infinity;
  #running?: Promise<void>;
  #again = false;
  #started = false;
  #closed = false;

  /**
   * @param promote The backend's promotion (see `Scheduler.promote`).
   * @param backstopMs The longest sleep between two looks at the schedule.
   * @param onError Told of a promotion that failed; the next look tries again.
   * @param batch How many due events one promotion moves at most (one atomic step each).
   */
  constructor(
    private readonly promote: (now: number, max: number) => Promise<Promotion>,
    private readonly backstopMs: number,
    private readonly onError: (err: unknown) => void,
    private readonly batch = 100,
  ) {}

  /** Starts looking at the schedule (once; later calls do nothing). */
  start(): void {
    if (this.#started || this.#closed) return;
    this.#started = true;
    this.#kick();
  }

  /** An event due at `dueAt` was scheduled by this process: wake for it. */
  scheduled(dueAt: number): void {
    if (this.#closed) return;
    if (!this.#started) return this.start();
    if (this.#running) this.#again = true;
    else if (dueAt < this.#at) this.#arm(dueAt);
  }

  /** Stops, after the promotion in flight. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    await this.#running;
  }

  #arm(at: number): void {
    clearTimeout(this.#timer);
    this.#at = at;
    this.#timer = setTimeout(() => {
      this.#at = Infinity;
      this.#kick();
    }, Math.max(0, at - Date.now()));
    // A schedule alone keeps no process alive: another process promotes by its backstop.
    Deno.unrefTimer(this.#timer as unknown as number);
  }

  #kick(): void {
    if (this.#closed) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = this.#loop().finally(() => this.#running = undefined);
  }

  async #loop(): Promise<void> {
    let next: number | undefined;
    do {
      this.#again = false;
      next = await this.#drain();
    } while (this.#again && !this.#closed);
    if (this.#closed) return;
    this.#arm(Math.min(next ?? Infinity, Date.now() + this.backstopMs));
  }

  /** Promotes until nothing due is left; returns when the next event is due. */
  async #drain(): Promise<number | undefined> {
    while (!this.#closed) {
      let r: Promotion;
      try {
        r = await this.promote(Date.now(), this.batch);
      } catch (err) {
        if (!this.#closed) this.onError(err);
        return undefined;
      }
      if (r.lost) return Date.now() + LOST_WAIT_MS;
      const more = r.moved >= this.batch || (r.next !== undefined && r.next <= Date.now());
      if (!more) return r.next;
    }
    return undefined;
  }
}
