/**
 * Waiting between polls, for clients that cannot block (REST): the wait starts at 1 ms and
 * doubles while polls come back empty, up to a ceiling; a poll that finds work resets it. An
 * append through the same backend wakes every waiter at once.
 *
 * @module
 */
import type { RedisClient } from "./client.ts";

/** Adaptive poll waits, one interval per consumer. */
export class Poller {
  #max: number;
  #intervals = new Map<string, number>();
  #waiters = new Set<() => void>();

  /** @param maxMs The longest wait. */
  constructor(maxMs: number) {
    this.#max = maxMs;
  }

  /** A poll by `key` found work: poll again at once. */
  found(key: string): void {
    this.#intervals.delete(key);
  }

  /** Waits before `key`'s next poll: its interval, at most `limitMs`, less if woken or aborted. */
  wait(key: string, limitMs: number, signal?: AbortSignal): Promise<void> {
    const interval = this.#intervals.get(key) ?? 1;
    this.#intervals.set(key, Math.min(this.#max, interval * 2));
    if (signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(done);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, Math.min(interval, limitMs)));
      this.#waiters.add(done);
      signal?.addEventListener("abort", done, { once: true });
    });
  }

  /** Something was appended (or the backend closes): end every wait now. */
  wakeAll(): void {
    for (const done of [...this.#waiters]) done();
  }
}

/**
 * Runs a blocking command on `channel`'s connection; when `signal` aborts, ends it with
 * `client.unblock`, again every 20 ms until it returns, because the abort may come before
 * Redis has started to block.
 */
export async function interruptible<T>(
  client: RedisClient,
  channel: string,
  signal: AbortSignal | undefined,
  run: () => Promise<T>,
): Promise<T> {
  const unblock = client.unblock?.bind(client);
  if (!signal || !unblock) return await run();
  let done = false;
  let stopping: Promise<void> | undefined;
  const abort = () => {
    stopping ??= (async () => {
      while (!done) {
        await unblock(channel).catch(() => {});
        if (!done) await new Promise((r) => setTimeout(r, 20));
      }
    })();
  };
  if (signal.aborted) abort();
  else signal.addEventListener("abort", abort, { once: true });
  try {
    return await run();
  } finally {
    done = true;
    signal.removeEventListener("abort", abort);
    await stopping;
  }
}
