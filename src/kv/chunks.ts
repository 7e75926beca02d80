/**
 * How events sit in a stream: the events one append writes to a stream are stored together in
 * one value (a chunk) under the sequence number of the first, because Deno KV's cost is mostly
 * per entry written or read. A single event is stored as the plain envelope. Any other value
 * found under a stream's key is one (malformed) entry.
 *
 * @module
 */
import type { Envelope } from "../envelope.ts";
import { eventKey, eventPrefix } from "./keys.ts";
import { type KvStats, list } from "./store.ts";

/** Several events appended together, stored under the first one's sequence number. */
export interface Chunk {
  /** Marks a chunk (envelopes have no such field). */
  herald_chunk: 1;
  /** The events, numbered from the key's sequence number up. */
  e: Envelope[];
}

/**
 * The most bytes of events put in one chunk (Deno KV values hold at most 64 KiB). Kept well under
 * that: Deno KV's SQLite table keeps each value inside its key's row, and a search that passes a
 * row too big for its page reads the whole row, overflow pages and all, to compare keys. Every
 * lookup of a key near a stream's events passes a few of them, so its cost grows with the size of
 * a chunk, and so does the page cache that the rows passed by the next append of every stream
 * appended to need. Smaller chunks cost more writes per append: see `docs/backends.md`.
 */
export const CHUNK_BYTES = 16_000;

/** Whether a stored value is a chunk. */
export function isChunk(value: unknown): value is Chunk {
  return typeof value === "object" && value !== null &&
    (value as Partial<Chunk>).herald_chunk === 1 && Array.isArray((value as Chunk).e);
}

/** The entries a stored value holds, as [sequence number, value] pairs. */
export function unpack(first: number, value: unknown): [number, unknown][] {
  if (!isChunk(value)) return [[first, value]];
  return value.e.map((e, i) => [first + i, e]);
}

/** The events a stored value holds, in order (one for anything but a chunk). */
export function eventsOf(value: unknown): unknown[] {
  return isChunk(value) ? value.e : [value];
}

/** The last sequence number a stored value holds. */
export function lastOf(first: number, value: unknown): number {
  return isChunk(value) ? first + value.e.length - 1 : first;
}

/** What to store for events numbered from `first`. */
export function pack(events: Envelope[]): unknown {
  return events.length === 1 ? events[0] : { herald_chunk: 1, e: events } satisfies Chunk;
}

/**
 * The size of an envelope as Deno KV stores it (V8's encoding), at most, from its JSON and that
 * JSON's UTF-8 size: a string with any character above U+00FF takes two bytes a character.
 */
export function storedSize(json: string, utf8: number): number {
  // deno-lint-ignore no-control-regex
  return (/[^\x00-\xff]/.test(json) ? 2 * json.length : utf8) + 64;
}

/** Splits one stream's events into runs that each fit in one chunk. */
export function runs(events: Envelope[], sizes: number[]): Envelope[][] {
  const out: Envelope[][] = [];
  let run: Envelope[] = [];
  let bytes = 0;
  events.forEach((e, i) => {
    if (run.length > 0 && bytes + sizes[i] > CHUNK_BYTES) {
      out.push(run);
      run = [];
      bytes = 0;
    }
    run.push(e);
    bytes += sizes[i];
  });
  if (run.length > 0) out.push(run);
  return out;
}

/** Reads the events with the given sequence numbers (absent ones were trimmed). */
export async function eventsAt(
  kv: Deno.Kv,
  stats: KvStats,
  stream: string,
  seqs: readonly number[],
): Promise<Map<number, unknown>> {
  const found = new Map<number, unknown>();
  const covered = new Set<number>();
  for (const seq of [...new Set(seqs)].sort((a, b) => a - b)) {
    if (covered.has(seq)) continue;
    const [e] = await list(stats, kv, {
      prefix: eventPrefix(stream),
      end: eventKey(stream, seq + 1),
    }, {
      reverse: true,
      limit: 1,
    });
    if (!e || typeof e.key[3] !== "number") continue;
    for (const [n, v] of unpack(e.key[3], e.value)) {
      covered.add(n);
      found.set(n, v);
    }
  }
  return new Map(seqs.filter((s) => found.has(s)).map((s) => [s, found.get(s)]));
}
