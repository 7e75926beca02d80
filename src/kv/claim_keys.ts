/**
 * Key order in a claim (see keyhold.ts): which keyed events of a look take their key, which are
 * parked behind it, and where the cursors stop when one claim cannot check, park or hold more.
 *
 * @module
 */
import {
  BUCKET_BYTES,
  bucketBytes,
  bucketOf,
  type HoldBook,
  holdBytes,
  keyOf,
  type KnownBucket,
  park,
  readBuckets,
} from "./keyhold.ts";
import type { Candidate, Cursor, Look } from "./look.ts";
import { type KvStats, LIMITS, utf8Bytes } from "./store.ts";

/** New events read for a look on a stream whose last look could not take all it read. */
export const KEYED_READ = 200;
/** The most events one claim parks behind their keys (each a mutation with its key's bytes). */
const PARKS_PER_CLAIM = 200;
/** The most bytes of events one claim parks (copies, so retention cannot lose them). */
const PARK_BYTES = 300_000;
/** The most bytes of buckets of holds one claim writes. */
const HOLD_BYTES = 250_000;

/** About how many bytes a parked copy of an event takes. */
function storedBytes(value: unknown): number {
  try {
    return utf8Bytes(JSON.stringify(value) ?? "") + 64;
  } catch {
    return LIMITS.valueBytes;
  }
}

/** What key planning reads and remembers with. */
export interface HoldContext {
  kv: Deno.Kv;
  stats: KvStats;
  holds: HoldBook;
}

/**
 * Key order: a keyed event new to the group (or redriven) takes its key when it is free, and
 * is parked behind it otherwise (see keyhold.ts). Buckets of holds are those this process knows,
 * or (for buckets it knows nothing of, or forgot when a claim failed) read now. New events past
 * what one claim can check, park or hold are left for the next claim: the cursor stops before
 * them.
 *
 * @returns the streams whose new events stopped early.
 */
export async function holdKeys(
  ctx: HoldContext,
  look: Look,
  group: string,
  checkBudget: number,
): Promise<{ cut: Set<string> }> {
  const keyed = new Map<Candidate, string>();
  for (const c of look.found) {
    if (!c.has || (c.to === undefined && !c.redriven)) continue;
    const key = keyOf(c.value);
    if (key !== undefined) keyed.set(c, key);
  }
  if (keyed.size === 0) return { cut: new Set() };
  const known = await knownBuckets(ctx, group, keyed);
  const drop = new Set<Candidate>();
  const cut = new Map<string, Cursor | undefined>(); // streams whose new events stop early
  const lastTo = new Map<string, Cursor>();
  const sizes = { parked: 0, holds: 0 };
  const stop = (c: Candidate) => {
    drop.add(c);
    if (c.to === undefined) {
      look.replaced = look.replaced.filter((r) => r !== c.entry); // stays for a later claim
    } else if (!cut.has(c.stream)) cut.set(c.stream, lastTo.get(c.stream));
  };
  for (const c of look.found) {
    if (c.to !== undefined && cut.has(c.stream)) {
      drop.add(c);
      continue;
    }
    const key = keyed.get(c);
    if (key !== undefined) {
      const taken = takeKey(look, c, key, known, checkBudget, sizes);
      if (taken === "stop") {
        stop(c);
        continue;
      }
      if (taken === "parked") drop.add(c);
    }
    if (c.to !== undefined) lastTo.set(c.stream, c.to);
  }
  for (const [s, to] of cut) {
    if (to) look.cursors.get(s)!.to = to;
    else look.cursors.delete(s);
  }
  if (drop.size > 0) look.found = look.found.filter((c) => !drop.has(c));
  return { cut: new Set(cut.keys()) };
}

/**
 * Plans a keyed candidate: it takes its key (written in its bucket), or is parked behind it; or
 * it does not fit in this claim (a new bucket past the checks, or past the bytes of parked
 * copies or of holds).
 */
function takeKey(
  look: Look,
  c: Candidate,
  key: string,
  known: Map<string, KnownBucket>,
  checkBudget: number,
  sizes: { parked: number; holds: number },
): "took" | "parked" | "stop" {
  const b = bucketOf(key);
  const bid = `${c.stream}\u0000${b}`;
  let bucket = look.buckets.get(bid);
  // Each bucket is a check, beside the cursors' and the replaced entries'.
  if (!bucket && look.buckets.size >= checkBudget - look.replaced.length - look.cursors.size) {
    return "stop";
  }
  const base = bucket?.base ?? known.get(bid)!;
  const bytesBefore = bucket?.bytes ?? bucketBytes(base.holds);
  const id = `${c.stream}\u0000${key}`;
  const was = look.holds.get(id)?.hold ?? base.holds.get(key);
  let hold = was ? { ...was } : { s: c.seq, w: 0 };
  const parks = hold.s !== c.seq;
  const bytes = parks ? storedBytes(c.value) : 0;
  if (parks) {
    if (look.parked.length >= PARKS_PER_CLAIM || sizes.parked + bytes > PARK_BYTES) return "stop";
    hold = park(hold, c.seq);
  }
  const grown = holdBytes(key, hold) - (was ? holdBytes(key, was) : 0);
  if (grown > 0 && (bytesBefore + grown > BUCKET_BYTES || sizes.holds + grown > HOLD_BYTES)) {
    return "stop";
  }
  if (!bucket) {
    bucket = { stream: c.stream, bucket: b, base, holds: new Map(base.holds), bytes: bytesBefore };
    look.buckets.set(bid, bucket);
    sizes.holds += bytesBefore;
  }
  bucket.holds.set(key, hold);
  bucket.bytes += grown;
  sizes.holds += grown;
  look.holds.set(id, { stream: c.stream, key, bucket: b, hold });
  if (!parks) return "took";
  sizes.parked += bytes;
  look.parked.push({ stream: c.stream, key, seq: c.seq, value: c.value });
  return "parked";
}

/**
 * The buckets of the keys `keyed` names, by `stream\0bucket`: as this process knows them, or
 * read (those it knows nothing of).
 */
async function knownBuckets(
  ctx: HoldContext,
  group: string,
  keyed: Map<Candidate, string>,
): Promise<Map<string, KnownBucket>> {
  const known = new Map<string, KnownBucket>();
  const toRead = new Map<string, Set<number>>();
  for (const [c, key] of keyed) {
    const b = bucketOf(key);
    const bid = `${c.stream}\u0000${b}`;
    if (known.has(bid) || toRead.get(c.stream)?.has(b)) continue;
    const k = ctx.holds.bucket(group, c.stream, b);
    if (k) {
      known.set(bid, k);
      continue;
    }
    if (!toRead.has(c.stream)) toRead.set(c.stream, new Set());
    toRead.get(c.stream)!.add(b);
  }
  await Promise.all([...toRead].map(async ([s, set]) => {
    const list = [...set];
    const buckets = await readBuckets(ctx.kv, ctx.stats, group, s, list);
    list.forEach((b, i) => {
      known.set(`${s}\u0000${b}`, buckets[i]);
      ctx.holds.set(group, s, b, buckets[i]);
    });
  }));
  return known;
}
