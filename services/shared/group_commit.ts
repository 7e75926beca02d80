/**
 * Group commit for a replica's writes: while one commit is on its way to the database, the
 * writes of other handlers gather, and go together in the next. A burst of events then costs a
 * few SQLite commits instead of one each, queued behind one another. Each write keeps its own
 * checks; when a shared commit fails one, every write in it is tried alone, so a conflict fails
 * only its own event. Two writes checking the same key never share a commit (both checks would
 * pass against the state before it): the later one waits for the next, and its check sees the
 * first.
 *
 * @module
 */

/** One handler's write: its checks, and the mutations it adds. */
export interface GroupedWrite {
  /** What must still hold for the write to apply. */
  checks: Deno.AtomicCheck[];
  /** Adds the write's mutations to an operation. */
  apply(op: Deno.AtomicOperation): void;
}

/** Writes in one shared commit: two checks each stays within Deno KV's 100 checks. */
const MAX_WRITES = 40;

/**
 * Makes the group commit of one database.
 *
 * @param db The database.
 * @returns `commit(write)`: resolves `true` when the write applied, `false` when a check failed.
 *
 * @example
 * ```ts ignore
 * const commit = createGroupCommit(db);
 * const ok = await commit({ checks: [entry], apply: (op) => op.set(key, value) });
 * ```
 */
export function createGroupCommit(db: Deno.Kv): (write: GroupedWrite) => Promise<boolean> {
  let queue: { write: GroupedWrite; done: PromiseWithResolvers<boolean> }[] = [];
  let running = false;

  const alone = async (item: (typeof queue)[number]) => {
    try {
      const op = db.atomic().check(...item.write.checks);
      item.write.apply(op);
      item.done.resolve((await op.commit()).ok);
    } catch (err) {
      item.done.reject(err);
    }
  };

  /** The next writes that check distinct keys, at most {@linkcode MAX_WRITES}. */
  const takeBatch = () => {
    const seen = new Set<string>();
    const batch: typeof queue = [];
    const rest: typeof queue = [];
    for (const item of queue) {
      const keys = item.write.checks.map((c) => keyId(c.key));
      if (batch.length < MAX_WRITES && !keys.some((k) => seen.has(k))) {
        for (const k of keys) seen.add(k);
        batch.push(item);
      } else {
        rest.push(item);
      }
    }
    queue = rest;
    return batch;
  };

  const flush = async () => {
    running = true;
    while (queue.length > 0) {
      const batch = takeBatch();
      if (batch.length === 1) {
        await alone(batch[0]);
        continue;
      }
      let ok = false;
      try {
        const op = db.atomic();
        for (const { write } of batch) write.apply(op.check(...write.checks));
        ok = (await op.commit()).ok;
      } catch {
        // Too big, or two writes to one key: each alone says which.
      }
      if (ok) { for (const item of batch) item.done.resolve(true); }
      else for (const item of batch) await alone(item);
    }
    running = false;
  };

  return (write) => {
    const done = Promise.withResolvers<boolean>();
    queue.push({ write, done });
    if (!running) flush();
    return done.promise;
  };
}

function keyId(key: Deno.KvKey): string {
  return key.map((part) => `${typeof part}:${String(part)}`).join("\u0000");
}
