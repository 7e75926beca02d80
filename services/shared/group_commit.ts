/**
 * Group commit for a replica's writes: while one commit is on its way to the database, the
 * writes of other handlers gather, and go together in the next. A burst of events then costs a
 * few SQLite commits instead of one each, queued behind one another. Each write keeps its own
 * checks; when a shared commit fails one, a read of the checked keys finds the writes whose
 * checks no longer hold, and the others commit together again (each is tried alone as a last
 * resort), so a conflict fails only its own event. Two writes checking the same key never share
 * a commit (both checks would pass against the state before it): the later one waits for the
 * next, and its check sees the first.
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
/** How often a failed shared commit is narrowed down by reading before each write goes alone. */
const REVALIDATE_ROUNDS = 3;
/** Deno KV's most keys in one `getMany`. */
const GET_MANY = 10;

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

  /** Commits a batch as one operation; `undefined` when it throws (too big, a key twice). */
  const together = async (batch: typeof queue) => {
    try {
      const op = db.atomic();
      for (const { write } of batch) write.apply(op.check(...write.checks));
      return (await op.commit()).ok;
    } catch {
      return undefined;
    }
  };

  /**
   * Commits a batch. When a check fails, one read of the checked keys finds whose: those fail,
   * and the rest commit together again, instead of one commit each in turn (a burst of
   * registrations queued 40 commits behind one conflict).
   */
  const commitBatch = async (batch: typeof queue) => {
    for (let round = 0; batch.length > 1 && round < REVALIDATE_ROUNDS; round++) {
      const ok = await together(batch);
      if (ok) {
        for (const item of batch) item.done.resolve(true);
        return;
      }
      const stale = ok === false ? await failing(db, batch.map((i) => i.write)) : undefined;
      if (!stale || stale.size === 0) break;
      for (const i of stale) batch[i].done.resolve(false);
      batch = batch.filter((_, i) => !stale.has(i));
    }
    for (const item of batch) await alone(item);
  };

  const flush = async () => {
    running = true;
    while (queue.length > 0) await commitBatch(takeBatch());
    running = false;
  };

  return (write) => {
    const done = Promise.withResolvers<boolean>();
    queue.push({ write, done });
    if (!running) flush();
    return done.promise;
  };
}

/**
 * The indexes of the writes whose checks no longer hold; `undefined` when the read failed.
 */
async function failing(db: Deno.Kv, writes: GroupedWrite[]): Promise<Set<number> | undefined> {
  const checks = writes.flatMap((w, i) => w.checks.map((c) => ({ c, i })));
  const chunks = Array.from(
    { length: Math.ceil(checks.length / GET_MANY) },
    (_, n) => checks.slice(n * GET_MANY, (n + 1) * GET_MANY),
  );
  try {
    const read = await Promise.all(chunks.map((ch) => db.getMany(ch.map(({ c }) => c.key))));
    const stale = new Set<number>();
    read.flat().forEach((entry, n) => {
      if (entry.versionstamp !== checks[n].c.versionstamp) stale.add(checks[n].i);
    });
    return stale;
  } catch {
    return undefined;
  }
}

function keyId(key: Deno.KvKey): string {
  return key.map((part) => `${typeof part}:${String(part)}`).join("\u0000");
}
