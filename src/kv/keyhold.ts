/**
 * Key order on Deno KV (see "Key order" in `backend.ts`): which event holds each key of a group,
 * and the events parked behind it.
 *
 * A claim that takes a keyed event new to the group (or redriven) writes the key's
 * {@linkcode KeyHold} when the key is free, or else parks the event (a copy, so retention cannot
 * lose it) under `parkKey` and counts it in the hold. Holds are stored in {@linkcode BUCKETS}
 * entries per group and stream (a key's bucket is a hash of it): every write of a hold checks
 * its bucket's versionstamp, so a claim and the settlement that frees the key never cross, and
 * one claim or settlement of hundreds of keys checks and writes a few entries, not one per key. The ack or dead letter of the holder
 * frees the key: it deletes the hold, or hands it to the first parked event (the hold keeps the
 * first parked numbers, so this needs no read) and makes that one ready as a retry entry with
 * attempt 0 naming its parked copy, for any consumer; the claim that takes it deletes the copy. Retries, expired leases and releases
 * never touch the hold: the event keeps its key.
 *
 * @module
 */
import { envelopeProblem } from "../envelope.ts";
import { type HoldBucket, holdKey, type KeyHold } from "./keys.ts";
import { getMany, type KvStats, LIMITS } from "./store.ts";

/** Buckets of holds per group and stream: at most this many checks per claim or settlement. */
export const BUCKETS = 16;
/**
 * The most bytes one bucket of holds takes: a claim leaves keys that would pass it for a later
 * claim, and a settlement writing every bucket stays within Deno KV's bytes per operation.
 */
export const BUCKET_BYTES = 24_000;

/** A hold as last read or written by this process: `versionstamp` (its bucket's) null when none. */
export interface KnownHold {
  versionstamp: string | null;
  hold: KeyHold | null;
}

/** A bucket of holds as this process last read or wrote it; never changed in place. */
export interface KnownBucket {
  /** The bucket entry's versionstamp; `null`: there is none (no key of the bucket is held). */
  versionstamp: string | null;
  holds: ReadonlyMap<string, KeyHold>;
}

/** The most parked sequence numbers a hold keeps (`KeyHold.q`); past them, read the park list. */
export const QUEUE_MAX = 16;

/** A hold with `seq` parked behind it. */
export function park(hold: KeyHold, seq: number): KeyHold {
  const q = [...hold.q ?? []];
  // `q` lists the first parked events, all of them while `w` is no more than it holds.
  if (q.length === hold.w || seq < q[q.length - 1]) {
    const at = q.findIndex((x) => x > seq);
    q.splice(at < 0 ? q.length : at, 0, seq);
    if (q.length > QUEUE_MAX) q.pop();
  }
  return { s: hold.s, w: hold.w + 1, q };
}

/** The bucket of a key: FNV-1a of its UTF-16 code units. */
export function bucketOf(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % BUCKETS;
}

/** About how many bytes a hold takes in its bucket. */
export function holdBytes(key: string, hold: KeyHold): number {
  return key.length * 3 + 40 + 12 * (hold.q?.length ?? 0);
}

/** About how many bytes a bucket takes. */
export function bucketBytes(holds: ReadonlyMap<string, KeyHold>): number {
  let n = 16;
  for (const [key, hold] of holds) n += holdBytes(key, hold);
  return n;
}

/** The most buckets one process remembers; past it, it forgets them all and reads again. */
const BOOK_MAX = 20_000;

/**
 * The buckets of holds this process wrote or read last, by group, stream and bucket: a claim or
 * settlement assumes them and its checks tell when another process changed them, so the common
 * case costs no read.
 */
export class HoldBook {
  #known = new Map<string, KnownBucket>();
  #tail: Promise<void> = Promise.resolve();

  /**
   * Waits for this process's other writes of holds to end, so that its own claims and
   * settlements do not fail each other's checks; returns the function that lets the next go.
   */
  async lock(): Promise<() => void> {
    let release!: () => void;
    const done = new Promise<void>((resolve) => release = resolve);
    const before = this.#tail;
    this.#tail = before.then(() => done);
    await before;
    return release;
  }

  /** The hold of a key as this process last saw its bucket, if it did. */
  get(group: string, stream: string, key: string): KnownHold | undefined {
    const b = this.#known.get(id(group, stream, bucketOf(key)));
    return b && { versionstamp: b.versionstamp, hold: b.holds.get(key) ?? null };
  }

  /** A bucket as this process last saw it, if it did. */
  bucket(group: string, stream: string, bucket: number): KnownBucket | undefined {
    return this.#known.get(id(group, stream, bucket));
  }

  /** Records a bucket as written or read. */
  set(group: string, stream: string, bucket: number, known: KnownBucket): void {
    if (this.#known.size >= BOOK_MAX) this.#known.clear();
    this.#known.set(id(group, stream, bucket), known);
  }

  /** Forgets a bucket (a check of it failed, or may have). */
  forget(group: string, stream: string, bucket: number): void {
    this.#known.delete(id(group, stream, bucket));
  }
}

function id(group: string, stream: string, bucket: number): string {
  return `${group}\u0000${stream}\u0000${bucket}`;
}

/** The key of a stored event, when it is an envelope with one. */
export function keyOf(value: unknown): string | undefined {
  const key = (value as { key?: unknown } | null | undefined)?.key;
  return typeof key === "string" && envelopeProblem(value) === undefined ? key : undefined;
}

/** Reads buckets of holds of a group on a stream, ten a read, all reads at once. */
export async function readBuckets(
  kv: Deno.Kv,
  stats: KvStats,
  group: string,
  stream: string,
  buckets: readonly number[],
): Promise<KnownBucket[]> {
  const reads: Promise<Deno.KvEntryMaybe<HoldBucket>[]>[] = [];
  for (let i = 0; i < buckets.length; i += LIMITS.getMany) {
    const part = buckets.slice(i, i + LIMITS.getMany).map((b) => holdKey(group, stream, b));
    reads.push(getMany<HoldBucket>(stats, kv, part));
  }
  return (await Promise.all(reads)).flat().map((e) => ({
    versionstamp: e.versionstamp,
    holds: new Map(Object.entries(e.value ?? {})),
  }));
}

/**
 * Checks a bucket against the versionstamp it was known at and writes its new holds (deletes it
 * when none is left).
 */
export function writeBucket(
  op: Deno.AtomicOperation,
  key: Deno.KvKey,
  base: KnownBucket,
  holds: ReadonlyMap<string, KeyHold>,
): void {
  op.check({ key, versionstamp: base.versionstamp });
  if (holds.size === 0) op.delete(key);
  else op.set(key, Object.fromEntries(holds) as HoldBucket);
}
