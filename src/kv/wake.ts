/**
 * Wakes waiting claims when something may have arrived: at once for writes made in this
 * process, within a millisecond or two for another process's writes to the same file (through a
 * file-system watch on the database's doorbell folder, see `bell.ts` — never on the database's
 * own folder), and by a slow poll as the backstop.
 *
 * Deno KV offers nothing better across processes: `kv.watch` does not see another process's
 * writes, and `listenQueue` delivers across processes on a 60 s tick.
 *
 * @module
 */
import { ringOf } from "./bell.ts";

/**
 * Re-looks after a ring, in milliseconds. Rings come after the commit, so the first look should
 * see it; the re-look covers a ring that woke a claim which was already reading.
 */
const FOLLOW_UPS = [10];

/** One shared waker per backend: one watcher and one set of waiters, whatever their number. */
export class Waker {
  #generation = 0;
  #waiters = new Set<() => void>();
  #watcher?: Deno.FsWatcher;
  #watching?: Promise<void>;
  #followUps = new Map<number, ReturnType<typeof setTimeout>>();
  #closed = false;
  #watchFailed = false;
  /** Resolves the watch loop's pause when a waiter arrives (see `#startWatching`). */
  #wanted?: () => void;

  /**
   * @param watchDir The doorbell folder to watch, if any.
   * @param onRequeued Called when another process rang "requeued" (retries or releases).
   * @param onRing Called for each ring heard.
   * @param alone Whether no other process can write the database (`:memory:`).
   */
  constructor(
    private readonly watchDir?: string,
    private readonly onRequeued?: () => void,
    private readonly onRing?: () => void,
    private readonly alone = false,
  ) {}

  /**
   * Whether every write that may bring work reaches this waker as a wake-up: the database is
   * this process's alone, or the doorbell is being watched. Then a waiter that saw no wake-up
   * since its last look may wait without looking again first.
   */
  get complete(): boolean {
    return this.alone || (this.#watcher !== undefined && !this.#watchFailed);
  }

  /** Increases on every wake-up; a waiter that saw an older value does not wait. */
  get generation(): number {
    return this.#generation;
  }

  /** Wakes every waiter. */
  notify(): void {
    this.#generation++;
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const w of waiters) w();
  }

  /**
   * Waits up to `ms` for a wake-up that comes after `generation` was read, or for `signal`.
   */
  wait(generation: number, ms: number, signal?: AbortSignal): Promise<void> {
    if (this.#closed || generation !== this.#generation || signal?.aborted || ms <= 0) {
      return Promise.resolve();
    }
    this.#startWatching();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        this.#waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener("abort", done, { once: true });
      this.#waiters.add(done);
      this.#wanted?.();
    });
  }

  /** Stops watching and releases every waiter. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#wanted?.();
    for (const t of this.#followUps.values()) clearTimeout(t);
    this.#followUps.clear();
    this.notify();
    try {
      this.#watcher?.close();
    } catch {
      // already closed
    }
    await this.#watching;
  }

  #startWatching(): void {
    if (this.#watcher || !this.watchDir || this.#closed) return;
    try {
      this.#watcher = Deno.watchFs(this.watchDir, { recursive: false });
    } catch {
      this.#watchFailed = true;
      return; // no file events here (or no permission): the poll backstop remains
    }
    const watcher = this.#watcher;
    this.#watching = (async () => {
      try {
        for await (const event of watcher) {
          if (event.kind === "access") continue;
          const rings = event.paths.map(ringOf);
          if (rings.includes("requeued")) this.onRequeued?.();
          if (!rings.some((r) => r !== undefined)) continue;
          this.onRing?.();
          this.#fileEvent();
          // Nobody waits (the claims are busy): stop reading the watch until someone does.
          // The watch keeps what arrives meanwhile (at least one event; the rest are dropped),
          // so the first waiter is woken at once by it, and every later ring reaches a waiter.
          // A busy consumer's event loop then no longer runs for each ring (~50 µs of CPU per
          // ring read; a publisher rings up to 1,000 times a second); the watch's own thread
          // still wakes for each (13-18 µs per event in the single-publish row). A "requeued"
          // ring left unread meanwhile is found by the claims' periodic look for retries.
          if (this.#waiters.size === 0 && !this.#closed) {
            await new Promise<void>((resolve) => this.#wanted = resolve);
            this.#wanted = undefined;
          }
        }
      } catch {
        // the watch ended (folder removed, closed): the poll backstop remains
      }
      this.#watchFailed = true;
    })();
  }

  #fileEvent(): void {
    this.notify();
    for (const ms of FOLLOW_UPS) {
      if (this.#followUps.has(ms) || this.#closed) continue;
      this.#followUps.set(
        ms,
        setTimeout(() => {
          this.#followUps.delete(ms);
          this.notify();
        }, ms),
      );
    }
  }
}
