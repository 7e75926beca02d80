/**
 * Low-level helpers over `Deno.Kv`: Deno KV's per-operation limits, commits that ride out
 * SQLite's "database is locked" when several processes write one file, and batched reads.
 *
 * @module
 */

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
 * import { kv } from "@herald/herald";
 * const backend = kv({ path: ":memory:" });
 * console.log(backend.stats.lockedRetries); // 0
 * await backend.close();
 * ```
 */
export interface KvStats {
  /** Commits retried because SQLite reported "database is locked" (another process writing). */
  lockedRetries: number;
  /** Appends retried because another writer moved a stream's sequence first. */
  appendConflicts: number;
  /** Claims retried because another consumer of the group took the same work first. */
  claimConflicts: number;
  /** Atomic commits of appended events. */
  appendCommits: number;
  /** Doorbell rings heard from other processes (see `KvOptions.watch`). */
  rings: number;
}

/** Makes a zeroed {@linkcode KvStats}. */
export function newStats(): KvStats {
  return { lockedRetries: 0, appendConflicts: 0, claimConflicts: 0, appendCommits: 0, rings: 0 };
}

const LOCKED = /database is locked|database table is locked|SQLITE_BUSY/i;

/** Whether an error is SQLite's transient lock contention. */
export function isLocked(err: unknown): boolean {
  return err instanceof Error && LOCKED.test(err.message);
}

/** How long to keep retrying a locked database before giving up, in milliseconds. */
const LOCKED_GIVE_UP_MS = 30_000;

/**
 * Runs `fn` (a read or a commit) again with short jittered backoff while the database is locked
 * by another process, so callers never see that transient error.
 */
export async function unlocked<T>(stats: KvStats, fn: () => Promise<T>): Promise<T> {
  let attempt = 0;
  const start = Date.now();
  while (true) {
    try {
      return await fn();
    } catch (err) {
      if (!isLocked(err) || Date.now() - start > LOCKED_GIVE_UP_MS) throw err;
      stats.lockedRetries++;
      // Mostly a stale read snapshot (another process committed between our reads and our
      // write, which SQLite reports at once instead of waiting): try again at once, then with
      // short jittered pauses so writers that keep colliding spread out.
      if (attempt++ > 0) await sleep(Math.random() * Math.min(attempt, 4));
    }
  }
}

/** Commits the operation `build` makes, rebuilding it after a locked database. */
export function commit(
  stats: KvStats,
  kv: Deno.Kv,
  build: (op: Deno.AtomicOperation) => void,
): Promise<Deno.KvCommitResult | Deno.KvCommitError> {
  return unlocked(stats, () => {
    const op = kv.atomic();
    build(op);
    return op.commit();
  });
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
  return unlocked(stats, () => Array.fromAsync(kv.list<T>(selector, options)));
}

/** Reads a range in order until `enough` says so (or the range ends). */
export function scan<T>(
  stats: KvStats,
  kv: Deno.Kv,
  selector: Deno.KvListSelector,
  options: Deno.KvListOptions,
  enough: (read: Deno.KvEntry<T>[]) => boolean,
): Promise<Deno.KvEntry<T>[]> {
  return unlocked(stats, async () => {
    const read: Deno.KvEntry<T>[] = [];
    for await (const e of kv.list<T>(selector, options)) {
      read.push(e);
      if (enough(read)) break;
    }
    return read;
  });
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

/** Waits `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
