/**
 * Low-level helpers over `Deno.Kv`: Deno KV's per-operation limits, commits that ride out
 * SQLite's "database is locked" when several processes write one file, and batched reads.
 *
 * @module
 */
import { sleep } from "../sleep.ts";

/** Deno KV's limits on one atomic operation (measured on Deno 2.9: over them, commit throws). */
export const LIMITS = {
  checks: 100,
  mutations: 1000,
  /** Keys plus values of all mutations, in bytes. */
  mutationBytes: 819_200,
  /** Keys of all mutations and checks, in bytes. */
  keyBytes: 81_920,
  /** One value, in bytes. */
  valueBytes: 65_536,
  /** Keys per `getMany`. */
  getMany: 10,
} as const;

/**
 * Counters of what the backend had to work around; cheap, for debugging and benchmarks.
 *
 * @example Reading the counters
 * ```ts
 * import { createKvBackend } from "@herald/herald";
 * const backend = createKvBackend({ path: ":memory:" });
 * console.log(backend.stats.lockedRetries); // 0
 * await backend.close();
 * ```
 */
export interface KvStats {
  /** Commits retried because SQLite reported "database is locked" (another process writing). */
  lockedRetries: number;
  /** Milliseconds spent waiting between those retries. */
  lockedWaitMs: number;
  /** Appends retried because another writer moved a stream's sequence first. */
  appendConflicts: number;
  /** Claims retried because another consumer of the group took the same work first. */
  claimConflicts: number;
  /** Atomic commits of appended events. */
  appendCommits: number;
  /** Doorbell rings heard from other processes (see `KvOptions.watch`). */
  rings: number;
  /** Looks for work made by claims (an idle consumer waits for a ring instead). */
  looks: number;
  /** `settle` calls written inside a claim's commit instead of one of their own. */
  carriedSettles: number;
  /**
   * Times a consumer stood by because another consumer of its group took everything as it came
   * (it then looks where the group stands now and then instead of claiming).
   */
  standbys: number;
  /**
   * Events that retention deleted before a group handled them (unread by a lagging group, or a
   * retry that was due, or a lease that expired): each is also logged as a warning.
   */
  trimmedUnhandled: number;
  /** {@linkcode KvStats.trimmedUnhandled}, by consumer group. */
  trimmedByGroup: Record<string, number>;
  /** Dead letters deleted because their group had more than `deadLetterMaxLen` (each logged). */
  deadTrimmed: number;
}

/** Makes a zeroed {@linkcode KvStats}. */
export function newStats(): KvStats {
  return {
    lockedRetries: 0,
    lockedWaitMs: 0,
    appendConflicts: 0,
    claimConflicts: 0,
    appendCommits: 0,
    rings: 0,
    looks: 0,
    carriedSettles: 0,
    standbys: 0,
    trimmedUnhandled: 0,
    trimmedByGroup: {},
    deadTrimmed: 0,
  };
}

const LOCKED = /database is locked|database table is locked|SQLITE_BUSY/i;

/** Whether an error is SQLite's transient lock contention. */
export function isLocked(err: unknown): boolean {
  return err instanceof Error && LOCKED.test(err.message);
}

/** How long to keep retrying a locked database before giving up, in milliseconds. */
const LOCKED_GIVE_UP_MS = 30_000;
/**
 * Retries whose pause is shorter than a timer can wait. Only the first few: a lock still held
 * after them is another process's commit waiting on its fsync, and spinning on it burns the CPU
 * the other processes need; timer sleeps after that. Enough of them that a paced consumer rarely
 * meets a timer's lateness.
 */
const SHORT_RETRIES = 6;
/**
 * Short retries of an append: a publisher has nothing else to do while it waits, and a consumer's
 * commit it waits for ends within a millisecond, so spinning longer costs only its own CPU and
 * takes the lock the moment it is free.
 */
export const APPEND_SHORT_RETRIES = 12;
/** The longest timer sleep of the first retries after the short ones, in milliseconds. */
const SLEEP_SPAN_MS = 3;
/** Never notified: `Atomics.wait` on it is a precise sleep that uses no CPU. */
const PAUSER = new Int32Array(new SharedArrayBuffer(4));
/** A key nobody writes: reading it is a round trip to the database thread and nothing more. */
const TICK_KEY: Deno.KvKey = ["herald", "tick"];

/**
 * Runs `fn` (a read or a commit) again while the database is locked by another process, so
 * callers never see that transient error.
 *
 * With several processes on one file, a commit that checks versionstamps reads before it writes,
 * and SQLite then fails it at once ("database is locked") when another process holds the write
 * lock or committed since the read: it does not wait. The other commit ends within a fraction of
 * a millisecond, so the first retry is immediate and the next ones pause a fraction of a
 * millisecond (see {@linkcode backoff}) — not a timer, which cannot wait that little.
 * A database that stays locked (a long checkpoint) gets timer pauses after that.
 *
 * @param stats Counters to update.
 * @param fn The read or commit.
 * @param kv The database, for the short pauses; without it, pauses use timers.
 * @param shortRetries How many retries pause briefly before timer sleeps (see {@linkcode backoff}).
 */
export async function unlocked<T>(
  stats: KvStats,
  fn: () => Promise<T>,
  kv?: Deno.Kv,
  shortRetries = SHORT_RETRIES,
): Promise<T> {
  let attempt = 0;
  const start = Date.now();
  while (true) {
    try {
      return await fn();
    } catch (err) {
      if (!isLocked(err) || Date.now() - start > LOCKED_GIVE_UP_MS) throw err;
      stats.lockedRetries++;
      const t = performance.now();
      await backoff(attempt++, kv, shortRetries);
      stats.lockedWaitMs += performance.now() - t;
    }
  }
}

/**
 * Blocks this thread for 0.05–0.65 ms (growing with `attempt`, jittered): about what another
 * process's commit has left to run. Blocking is the point: Deno's timers cannot wait that little,
 * and a database read as a pause costs more CPU than the wait. Returns `false` where blocking
 * waits are not allowed.
 */
function shortPause(attempt: number): boolean {
  try {
    Atomics.wait(PAUSER, 0, 0, 0.05 + Math.random() * 0.15 * Math.min(attempt, 4));
    return true;
  } catch {
    return false;
  }
}

/**
 * Pauses before retry number `attempt` (from 0) after contention: none for the first, then
 * short blocking waits, jittered and growing (or one database round trip where blocking is not
 * allowed); after `shortRetries` of them, jittered timer sleeps of up to
 * {@linkcode SLEEP_SPAN_MS}, growing after a few more (a long checkpoint).
 */
export async function backoff(
  attempt: number,
  kv?: Deno.Kv,
  shortRetries = SHORT_RETRIES,
): Promise<void> {
  if (attempt <= 0) return;
  if (attempt <= shortRetries && shortPause(attempt)) return;
  if (kv && attempt <= shortRetries) {
    try {
      await kv.get(TICK_KEY); // where blocking waits are not allowed: one database round trip
    } catch {
      // closing, or locked too: the retry will tell
    }
  } else {
    const over = attempt - shortRetries;
    await sleep(Math.random() * SLEEP_SPAN_MS * Math.min(Math.max(1, over - 2), 10));
  }
}

/**
 * Commits the operation `build` makes, rebuilding it after a locked database.
 *
 * @param shortRetries How many retries pause briefly before timer sleeps (see {@linkcode backoff}).
 */
export function commit(
  stats: KvStats,
  kv: Deno.Kv,
  build: (op: Deno.AtomicOperation) => void,
  shortRetries = SHORT_RETRIES,
): Promise<Deno.KvCommitResult | Deno.KvCommitError> {
  return unlocked(
    stats,
    () => {
      const op = kv.atomic();
      build(op);
      return op.commit();
    },
    kv,
    shortRetries,
  );
}

/** Reads one key. */
export function get<T>(
  stats: KvStats,
  kv: Deno.Kv,
  key: Deno.KvKey,
): Promise<Deno.KvEntryMaybe<T>> {
  return unlocked(stats, () => kv.get<T>(key));
}

/** Reads a range into an array. */
export function list<T>(
  stats: KvStats,
  kv: Deno.Kv,
  selector: Deno.KvListSelector,
  options: Deno.KvListOptions = {},
): Promise<Deno.KvEntry<T>[]> {
  return unlocked(stats, async () => {
    const read: Deno.KvEntry<T>[] = [];
    for await (const e of kv.list<T>(selector, options)) read.push(detach(e));
    return read;
  });
}

/**
 * Reads a range in order until `enough` says so (or the range ends), one batch per list call.
 * Each list is read to its end, the entries past `enough` dropped: a list left half read keeps
 * its unread entries reachable (see {@linkcode detach}).
 */
export function scan<T>(
  stats: KvStats,
  kv: Deno.Kv,
  selector: Deno.KvListSelector,
  options: Deno.KvListOptions,
  enough: (read: Deno.KvEntry<T>[]) => boolean,
): Promise<Deno.KvEntry<T>[]> {
  const batchSize = options.batchSize ?? 100;
  return unlocked(stats, async () => {
    const read: Deno.KvEntry<T>[] = [];
    let cursor = options.cursor;
    while (true) {
      const it = kv.list<T>(selector, { ...options, batchSize, limit: batchSize, cursor });
      let got = 0;
      let done = false;
      for await (const e of it) {
        got++;
        const copy = detach(e);
        if (!done) {
          read.push(copy);
          done = enough(read);
        }
      }
      if (done || got < batchSize) return read;
      cursor = it.cursor;
    }
  });
}

/**
 * A copy of a listed entry, and the entry emptied of its value. Deno's list iterator keeps a
 * closure over the last entry it returned (for its `cursor`), and V8's scavenger keeps it alive
 * until the next full collection: with the value attached, every event a claim reads outlived two
 * young collections, was copied into the old generation and grew the young one to its limit.
 */
function detach<T>(e: Deno.KvEntry<T>): Deno.KvEntry<T> {
  const copy = { key: e.key, value: e.value, versionstamp: e.versionstamp };
  (e as { value: unknown }).value = undefined;
  return copy;
}

/** Reads any number of keys, in chunks of Deno KV's `getMany` limit, in parallel. */
export async function getMany<T>(
  stats: KvStats,
  kv: Deno.Kv,
  keys: readonly Deno.KvKey[],
): Promise<Deno.KvEntryMaybe<T>[]> {
  if (keys.length <= LIMITS.getMany) {
    return await unlocked(stats, () => kv.getMany<T[]>(keys as Deno.KvKey[]));
  }
  const chunks: Promise<Deno.KvEntryMaybe<T>[]>[] = [];
  for (let i = 0; i < keys.length; i += LIMITS.getMany) {
    const part = keys.slice(i, i + LIMITS.getMany) as Deno.KvKey[];
    chunks.push(unlocked(stats, () => kv.getMany<T[]>(part)));
  }
  return (await Promise.all(chunks)).flat();
}

const encoder = new TextEncoder();

/** The UTF-8 size of a string, in bytes. */
export function utf8Bytes(s: string): number {
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) > 127) return encoder.encode(s).byteLength;
  }
  return s.length;
}

/** The encoded size of a key, roughly (Deno KV's tuple encoding adds a byte or two a part). */
export function keyBytes(key: Deno.KvKey): number {
  let n = 0;
  for (const part of key) n += (typeof part === "string" ? utf8Bytes(part) : 9) + 2;
  return n;
}
