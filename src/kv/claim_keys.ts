/**
 * Key order in a claim (see keyhold.ts): which keyed events of a look take their key, which are
 * parked behind it, and where the cursors stop when one claim cannot check or park more.
 *
 * @module
 */
import { type HoldBook, keyOf, type KnownHold, park, readHolds } from "./keyhold.ts";
import type { Candidate, Cursor, Look } from "./look.ts";
import { type KvStats, LIMITS, utf8Bytes } from "./store.ts";

/**
 * The most keys one claim takes or parks events behind: each is a check, and Deno KV allows 100
 * checks an operation, shared with the cursors, the entries a claim replaces and its riders.
 */
export const HOLDS_PER_CLAIM = 60;
/** New events read for a look on a stream whose last look could not take all it read. */
export const KEYED_READ = 2 * HOLDS_PER_CLAIM;
/** The most events one claim parks behind their keys (each a mutation with its key's bytes). */
const PARKS_PER_CLAIM = 200;
/** The most bytes of events one claim parks (copies, so retention cannot lose them). */
const PARK_BYTES = 300_000;

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
 * is parked behind it otherwise (see keyhold.ts). Holds are those this process knows, or
 * (with `read`, or for keys it knows nothing of that it must read) read now. New events past
 * what one claim can check or park are left for the next claim: the cursor stops before them.
 *
 * @returns whether a hold was assumed rather than read, and the streams whose new events
 *   stopped early.
 */
export async function holdKeys(
  ctx: HoldContext,
  look: Look,
  group: string,
  read: boolean,
  checkBudget: number,
): Promise<{ assumed: boolean; cut: Set<string> }> {
  const keyed = new Map<Candidate, string>();
  for (const c of look.found) {
    if (!c.has || (c.to === undefined && !c.redriven)) continue;
    const key = keyOf(c.value);
    if (key !== undefined) keyed.set(c, key);
  }
  if (keyed.size === 0) return { assumed: false, cut: new Set() };
  const known = await knownHolds(ctx, group, keyed, read);
  const drop = new Set<Candidate>();
  const cut = new Map<string, Cursor | undefined>(); // streams whose new events stop early
  const lastTo = new Map<string, Cursor>();
  let parkBytes = 0;
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
      const id = `${c.stream}\u0000${key}`;
      let plan = look.holds.get(id);
      // Each hold is a check, beside the cursors' and the replaced entries'.
      const room = checkBudget - look.replaced.length - look.cursors.size;
      if (!plan && look.holds.size >= Math.min(HOLDS_PER_CLAIM, room)) {
        stop(c);
        continue;
      }
      if (!plan) {
        const k = known.get(id)!;
        const hold = k.hold ? { ...k.hold } : { s: c.seq, w: 0 };
        plan = { stream: c.stream, key, versionstamp: k.versionstamp, hold };
        look.holds.set(id, plan);
      }
      if (plan.hold.s !== c.seq) {
        const bytes = storedBytes(c.value);
        if (look.parked.length >= PARKS_PER_CLAIM || parkBytes + bytes > PARK_BYTES) {
          stop(c);
          continue;
        }
        parkBytes += bytes;
        plan.hold = park(plan.hold, c.seq);
        look.parked.push({ stream: c.stream, key, seq: c.seq, value: c.value });
        drop.add(c);
      }
    }
    if (c.to !== undefined) lastTo.set(c.stream, c.to);
  }
  for (const [s, to] of cut) {
    if (to) look.cursors.get(s)!.to = to;
    else look.cursors.delete(s);
  }
  if (drop.size > 0) look.found = look.found.filter((c) => !drop.has(c));
  return { assumed: !read, cut: new Set(cut.keys()) };
}

/** The holds of the keys `keyed` names: as this process knows them, or read. */
async function knownHolds(
  ctx: HoldContext,
  group: string,
  keyed: Map<Candidate, string>,
  read: boolean,
): Promise<Map<string, KnownHold>> {
  const known = new Map<string, KnownHold>();
  const toRead = new Map<string, Set<string>>();
  for (const [c, key] of keyed) {
    const id = `${c.stream}\u0000${key}`;
    if (known.has(id)) continue;
    // Unknown to this process: assume the key is free; the claim's check tells otherwise.
    const k = read ? undefined : ctx.holds.get(group, c.stream, key);
    known.set(id, k ?? { versionstamp: null, hold: null });
    if (read && (toRead.get(c.stream)?.size ?? 0) < HOLDS_PER_CLAIM) {
      if (!toRead.has(c.stream)) toRead.set(c.stream, new Set());
      toRead.get(c.stream)!.add(key);
    }
  }
  await Promise.all([...toRead].map(async ([s, keys]) => {
    const list = [...keys];
    const holds = await readHolds(ctx.kv, ctx.stats, group, s, list);
    list.forEach((key, i) => known.set(`${s}\u0000${key}`, holds[i]));
  }));
  return known;
}
