/**
 * Retrying a Deno KV operation that SQLite refused because another connection held the file
 * ("database is locked"): replicas of a service, or its HTTP and worker isolates, share one
 * file, and a commit that meets another's lock fails at once instead of waiting.
 *
 * @module
 */
import { sleep } from "./sleep.ts";

const LOCKED = /database is locked|database table is locked|SQLITE_BUSY/i;

/** How long a database may stay locked before the error reaches the caller, in milliseconds. */
const GIVE_UP_MS = 30_000;

/** Whether `err` is SQLite's transient lock contention. */
export function isLockedError(err: unknown): boolean {
  return err instanceof Error && LOCKED.test(err.message);
}

/**
 * Runs `fn` again while it fails with "database is locked": at once, then after pauses of a
 * few milliseconds with jitter, for up to 30 s. `fn` must be safe to run again (build the atomic
 * operation inside it).
 */
export async function retryLocked<T>(fn: () => Promise<T>): Promise<T> {
  const start = Date.now();
  for (let attempt = 0;; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isLockedError(err) || Date.now() - start > GIVE_UP_MS) throw err;
      if (attempt > 0) await sleep(Math.random() * Math.min(50, 2 * attempt));
    }
  }
}
