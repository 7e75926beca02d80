/**
 * Deleting forwarded outbox entries: the commits forwarded while one deletion commits are
 * deleted together by the next, so a burst of outbox commits pays one extra commit per round
 * instead of one each (`bench/e2e_app.ts`: Auth and Users deleted once per registration).
 *
 * @module
 */
import { retryLocked } from "./locked.ts";

/** Keys one deletion commit holds at most (Deno KV allows 1,000 mutations a commit). */
const MAX_KEYS = 500;

interface Pending {
  keys: Deno.KvKey[];
  done: PromiseWithResolvers<void>;
}

/** Per database: the deletions waiting, and whether one commits now. */
const queues = new WeakMap<Deno.Kv, { pending: Pending[]; running: boolean }>();

/**
 * Deletes `keys` from `kv`, in one commit with the deletions asked for while the previous one
 * committed. The first deletion of an idle database commits at once.
 *
 * @param kv The caller's database.
 * @param keys The forwarded entries' keys.
 * @returns When a commit deleted them; rejects with that commit's error.
 */
export function deleteForwarded(kv: Deno.Kv, keys: Deno.KvKey[]): Promise<void> {
  let queue = queues.get(kv);
  if (!queue) queues.set(kv, queue = { pending: [], running: false });
  const done = Promise.withResolvers<void>();
  queue.pending.push({ keys, done });
  if (!queue.running) drain(kv, queue);
  return done.promise;
}

async function drain(kv: Deno.Kv, queue: { pending: Pending[]; running: boolean }) {
  queue.running = true;
  while (queue.pending.length > 0) {
    let n = 0;
    let size = 0;
    while (
      n < queue.pending.length && (n === 0 || size + queue.pending[n].keys.length <= MAX_KEYS)
    ) {
      size += queue.pending[n++].keys.length;
    }
    const batch = queue.pending.splice(0, n);
    try {
      await retryLocked(() => {
        const op = kv.atomic();
        for (const { keys } of batch) for (const key of keys) op.delete(key);
        return op.commit();
      });
      for (const { done } of batch) done.resolve();
    } catch (err) {
      for (const { done } of batch) done.reject(err);
    }
  }
  queue.running = false;
}
