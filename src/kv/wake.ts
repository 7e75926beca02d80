/**
 * Wakes waiting claims when something may have arrived: at once for writes made in this
 * process, within a millisecond or two for another process's writes to the same file (through a
 * file-system watch on the doorbell files of the streams this process consumes, see `bell.ts` —
 * never on the database's own folder), and by a slow poll as the backstop.
 *
 * Deno KV offers nothing better across processes: `kv.watch` does not see another process's
 * writes, and `listenQueue` delivers across processes on a 60 s tick.
 *
 * @module
 */
import { type Ring, ringOf } from "./bell.ts";

/**
 * A look for work as the waker sees it: the wake-ups counted before it began, and when it began
 * (milliseconds since the epoch, as `Date.now()` in every process on the machine).
 */
export interface Mark {
  generation: number;
  at: number;
}

/** How many recent wake-ups keep their ring time, to tell whether they came after a mark. */
const HISTORY = 64;

/** One shared waker per backend: one watcher and one set of waiters, whatever their number. */
export class Waker {
  #generation = 0;
  /** When each recent wake-up's news was committed at the latest, by generation (see `notify`). */
  #ringTimes: number[] = [];
  #waiters = new Map<() => void, number>();
  #watcher?: Deno.FsWatcher;
  #watching?: Promise<void>;
  #closed = false;
  #watchFailed = false;
  /** Resolves the watch loop's pause when a waiter arrives (see `#startWatching`). */
  #wanted?: () => void;
  /** Whether the watch was closed by {@linkcode Waker.rest}. */
  #rested = false;
  /** When the watch loop last read an event (or the watch opened): later rings may be unread. */
  #heardAt = 0;
  /** The streams this process's claims consume: only their rings are watched (see `want`). */
  #streams = new Set<string>();

  /**
   * @param watchPaths The bell files to watch for claims on these streams; without it, nothing is
   *   watched (the database is this process's alone, or watching is off).
   * @param onRequeued Called when another process rang "requeued" (retries or releases).
   * @param onRing Called for each ring heard.
   * @param alone Whether no other process can write the database (`:memory:`).
   * @param ringTime When a ring of a kind (of a stream's appends) was last rung, if the doorbell
   *   tells (see `bell.ts`).
   */
  constructor(
    private readonly watchPaths?: (streams: readonly string[]) => string[],
    private readonly onRequeued?: () => void,
    private readonly onRing?: () => void,
    private readonly alone = false,
    private readonly ringTime: (kind: Ring, stream?: string) => number | undefined = () =>
      undefined,
  ) {}

  /**
   * Notes the streams a claim is about to look at: from now on their rings are heard. Rings for
   * other streams are not: each would cost this process a wake-up and a look for nothing (see
   * `bell.ts`).
   */
  want(streams: readonly string[]): void {
    let added = false;
    for (const s of streams) {
      if (this.#streams.has(s)) continue;
      this.#streams.add(s);
      added = true;
    }
    if (!added || !this.watchPaths || this.#closed) return;
    const watcher = this.#watcher;
    if (!watcher) return; // the next wait opens the watch with every file
    // Closed as by a rest: the next wait opens it again, with the new file, and learns from the
    // bell files' times of what rang meanwhile. Those waiting now wait again, on that watch.
    this.#rested = true;
    this.#watcher = undefined;
    try {
      watcher.close();
    } catch {
      // already closed
    }
    this.#wanted?.(); // a paused watch loop ends on the closed watch
    this.notify();
  }

  /** Whether a claim of this process consumes `stream` (rings for others are not heard). */
  wants(stream: string): boolean {
    return !this.watchPaths || this.#streams.has(stream);
  }

  /**
   * Whether every write that may bring work reaches this waker as a wake-up: the database is
   * this process's alone, or the doorbell is being watched. Then a waiter that saw no wake-up
   * since its last look may wait without looking again first.
   */
  get complete(): boolean {
    return this.alone ||
      ((this.#watcher !== undefined || this.#rested) && !this.#watchFailed);
  }

  /** Increases on every wake-up. */
  get generation(): number {
    return this.#generation;
  }

  /** Marks the start of a look for work: take it just before the look reads anything. */
  mark(): Mark {
    return { generation: this.#generation, at: Date.now() };
  }

  /**
   * Whether a wake-up since `mark` may bring something its look did not see. A ring whose
   * commit was made before the look began is not news: the look read after it. Such rings come
   * in numbers: a consumer busy with its last claim (or lingering) does not read the watch, which
   * keeps the rings meanwhile and hands them over once it waits again — without this check, one
   * empty look each.
   *
   * A ring's time is read from the bell file when the ring is heard, so it is the latest ring's:
   * news is never taken for old, but for one case. Two processes ring at the same moment and the
   * one that read the clock first writes last; the file then shows the older time. A waiter whose
   * look began between the two then sleeps through the newer ring, until the next ring or the
   * backstop poll (`pollMs`, 1 s by default).
   */
  changedSince(mark: Mark): boolean {
    const behind = this.#generation - mark.generation;
    if (behind === 0) return false;
    if (behind > this.#ringTimes.length) return true;
    for (let i = this.#ringTimes.length - behind; i < this.#ringTimes.length; i++) {
      if (!isStale(this.#ringTimes[i], mark)) return true;
    }
    return false;
  }

  /**
   * Wakes every waiter whose look may have missed what happened.
   *
   * @param committedBy When the news was committed at the latest; unknown (the default) wakes all.
   */
  notify(committedBy = Infinity): void {
    this.#generation++;
    this.#ringTimes.push(committedBy);
    if (this.#ringTimes.length > HISTORY) this.#ringTimes.shift();
    for (const [w, at] of this.#waiters) {
      if (isStale(committedBy, { generation: 0, at })) continue;
      this.#waiters.delete(w);
      w();
    }
  }

  /**
   * Waits up to `ms` for a wake-up that may bring something the look marked by `mark` did not
   * see, or for `signal`.
   */
  wait(mark: Mark, ms: number, signal?: AbortSignal): Promise<void> {
    if (this.#closed || this.changedSince(mark) || signal?.aborted || ms <= 0) {
      return Promise.resolve();
    }
    const rested = this.#rested, heardAt = this.#heardAt;
    this.#startWatching();
    if (rested && this.#rangWhileResting(mark, heardAt)) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        this.#waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener("abort", done, { once: true });
      this.#waiters.set(done, mark.at);
      this.#wanted?.();
    });
  }

  /** Stops watching and releases every waiter. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#wanted?.();
    this.notify();
    try {
      this.#watcher?.close();
    } catch {
      // already closed
    }
    await this.#watching;
  }

  /**
   * Closes the watch while nobody waits, for a consumer that will not wait for a while: one that
   * lingers because events come faster than one a millisecond. Until it waits again, rings cost
   * it nothing (an open watch wakes its own thread for every ring, and hands the rings over when
   * the consumer waits again, each at a cost). The next wait reopens the watch and
   * reads the bell files' times for the rings it missed (see `#rangWhileResting`).
   */
  rest(): void {
    if (this.#waiters.size > 0 || !this.#watcher || this.#closed) return;
    // Only where the bell tells when it rang: elsewhere a ring missed meanwhile would be lost.
    if (this.#appendedAt() === undefined) return;
    this.#rested = true;
    const watcher = this.#watcher;
    this.#watcher = undefined;
    try {
      watcher.close();
    } catch {
      // already closed
    }
    this.#wanted?.(); // a paused watch loop ends on the closed watch
  }

  /**
   * After a rest, with the watch open again: whether a ring came meanwhile that `mark`'s look may
   * not have seen. A "requeued" ring the closed watch may not have handed over (one since it last
   * read an event, `heardAt`: a paused watch keeps such rings, and closing it dropped them) is
   * always news.
   */
  #rangWhileResting(mark: Mark, heardAt: number): boolean {
    this.#rested = false;
    const requeued = this.ringTime("requeued"); // undefined: never rung
    if (requeued !== undefined && requeued + 1 >= heardAt) {
      this.onRequeued?.();
      this.notify();
      return true;
    }
    const appended = this.#appendedAt();
    if (appended === undefined || !isStale(appended, mark)) {
      this.notify(appended ?? Infinity);
      return true;
    }
    return false;
  }

  /** When appends to the streams this process consumes were last rung (the latest of them). */
  #appendedAt(): number | undefined {
    let latest: number | undefined;
    for (const s of this.#streams) {
      const at = this.ringTime("appended", s);
      if (at !== undefined && (latest === undefined || at > latest)) latest = at;
    }
    return latest;
  }

  #startWatching(): void {
    if (this.#watcher || !this.watchPaths || this.#closed) return;
    try {
      this.#watcher = Deno.watchFs(this.watchPaths([...this.#streams]), { recursive: false });
    } catch {
      this.#watchFailed = true;
      return; // no file events here (or no permission): the poll backstop remains
    }
    const watcher = this.#watcher;
    this.#heardAt = Date.now();
    this.#watching = (async () => {
      try {
        for await (const event of watcher) {
          this.#heardAt = Date.now();
          if (event.kind === "access") continue;
          const rings = event.paths.map(ringOf);
          if (!rings.some((r) => r !== undefined)) continue;
          this.onRing?.();
          if (rings.includes("requeued")) {
            // Retries are looked for only by a look that knows of them: always news.
            this.onRequeued?.();
            this.notify();
          } else {
            this.notify(this.#appendedAt() ?? Infinity);
          }
          // Nobody waits (the claims are busy): stop reading the watch until someone does.
          // The watch keeps what arrives meanwhile, so the first waiter hears those rings; the
          // ones for commits its look already saw wake nobody (see `changedSince`).
          // A busy consumer's event loop then no longer runs for each ring (a publisher rings
          // after every commit); the watch's own thread still wakes for each. A "requeued"
          // ring it keeps is heard by the next waiter; one dropped by a rest is caught on reopening
          // (see `#rangWhileResting`).
          if (this.#waiters.size === 0 && !this.#closed && this.#watcher === watcher) {
            await new Promise<void>((resolve) => {
              const wanted = () => {
                if (this.#wanted === wanted) this.#wanted = undefined;
                resolve();
              };
              this.#wanted = wanted;
            });
          }
        }
      } catch {
        // the watch ended (folder removed, closed): the poll backstop remains
      }
      // Closed by `rest`, it opens again on the next wait; otherwise it failed.
      if (this.#watcher === watcher) this.#watchFailed = true;
    })();
  }
}

/**
 * Whether news committed by `committedBy` was seen by a look that began at `mark.at`. Both are
 * whole milliseconds of one clock, so the news must be a millisecond older than the look.
 */
function isStale(committedBy: number, mark: Mark): boolean {
  return committedBy + 1 <= mark.at;
}
