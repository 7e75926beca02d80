/**
 * Key order on Deno KV (see "Key order" in `backend.ts`): which event holds each key of a group,
 * and the events parked behind it.
 *
 * A claim that takes a keyed event new to the group (or redriven) writes the key's
 * {@linkcode KeyHold} when the key is free, or else parks the event (a copy, so retention cannot
 * lose it) under `parkKey` and counts it in the hold. Both check the hold's versionstamp, so a
 * claim and the settlement that frees the key never cross. The ack or dead letter of the holder
 * frees the key: it deletes the hold, or hands it to the first parked event (the hold keeps the
 * first parked numbers, so this needs no read) and makes that one ready as a retry entry with
 * attempt 0 naming its parked copy, for any consumer; the claim that takes it deletes the copy. Retries, expired leases and releases
 * never touch the hold: the event keeps its key.
 *
 * @module
 */
import { envelopeProblem } from "../envelope.ts";
import { holdKey, type KeyHold } from "./keys.ts";
import { getMany, type KvStats, LIMITS } from "./store.ts";

/** A hold as last read or written by this process: `versionstamp` null when there is none. */
export interface KnownHold {
  versionstamp: string | null;
  hold: KeyHold | null;
}

/** The most parked sequence numbers a hold keeps (`KeyHold.q`); past them, read the park list. */
export const QUEUE_MAX = 200;

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

/** The most holds one process remembers; past it, it forgets them all and reads again. */
const BOOK_MAX = 100_000;

/**
 * The holds this process wrote or read last, by group, stream and key: a claim assumes them (or,
 * for a key it knows nothing of, that the key is free) and its checks tell when another process
 * changed them, so the common case costs no read.
 */
export class HoldBook {
  #known = new Map<string, KnownHold>();

  /** The hold as this process last saw it, if it did. */
  get(group: string, stream: string, key: string): KnownHold | undefined {
    return this.#known.get(id(group, stream, key));
  }

  /** Records a hold as written or read (`hold` null: the key is free). */
  set(group: string, stream: string, key: string, known: KnownHold): void {
    if (this.#known.size >= BOOK_MAX) this.#known.clear();
    if (known.hold === null) this.#known.delete(id(group, stream, key));
    else this.#known.set(id(group, stream, key), known);
  }

  /** Forgets a hold (a check of it failed). */
  delete(group: string, stream: string, key: string): void {
    this.#known.delete(id(group, stream, key));
  }
}

function id(group: string, stream: string, key: string): string {
  return `${group}\u0000${stream}\u0000${key}`;
}

/** The key of a stored event, when it is an envelope with one. */
export function keyOf(value: unknown): string | undefined {
  const key = (value as { key?: unknown } | null | undefined)?.key;
  return typeof key === "string" && envelopeProblem(value) === undefined ? key : undefined;
}

/** Reads the holds of `keys` of a group on a stream, ten a read, all reads at once. */
export async function readHolds(
  kv: Deno.Kv,
  stats: KvStats,
  group: string,
  stream: string,
  keys: readonly string[],
): Promise<KnownHold[]> {
  const reads: Promise<Deno.KvEntryMaybe<KeyHold>[]>[] = [];
  for (let i = 0; i < keys.length; i += LIMITS.getMany) {
    const part = keys.slice(i, i + LIMITS.getMany).map((k) => holdKey(group, stream, k));
    reads.push(getMany<KeyHold>(stats, kv, part));
  }
  return (await Promise.all(reads)).flat().map((e) => ({
    versionstamp: e.versionstamp,
    hold: e.value,
  }));
}
