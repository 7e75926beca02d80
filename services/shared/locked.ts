/**
 * Retrying a write that SQLite refused because another connection held the database.
 *
 * @module
 */

/** How many times a locked write is tried before the error reaches the caller. */
const ATTEMPTS = 20;

/**
 * Runs `write`, again after a short random pause while it fails with "database is locked".
 *
 * A service's database is written by its HTTP isolate and its worker isolate (and replicas of
 * the service): separate SQLite connections, so a commit can meet another's lock. Event
 * handlers are retried by the worker anyway; HTTP requests should not fail for it.
 *
 * @param write The write; must be safe to run again (build the atomic operation inside it).
 * @returns What `write` returned.
 *
 * @example
 * ```ts ignore
 * const result = await retryLocked(() => bus.atomic(db).set(key, value).commit());
 * ```
 */
export async function retryLocked<T>(write: () => Promise<T>): Promise<T> {
  for (let attempt = 1;; attempt++) {
    try {
      return await write();
    } catch (err) {
      if (attempt >= ATTEMPTS || !/database is locked/i.test(String(err))) throw err;
      await new Promise((r) => setTimeout(r, 2 + Math.random() * 8 * attempt));
    }
  }
}
