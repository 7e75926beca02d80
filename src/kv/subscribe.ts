/**
 * Creating a group's cursor on a stream at its start position. The cursor holds the last
 * sequence number the group has taken, so "earliest" is before the first event kept.
 *
 * @module
 */
import type { StartPosition } from "../backend.ts";
import { envelopeProblem } from "../envelope.ts";
import { lastOf, unpack } from "./chunks.ts";
import type { Cursor } from "./claim.ts";
import { cursorKey, eventKey, eventPrefix, MAX_SEQ, seqKey } from "./keys.ts";
import { commit, get, type KvStats, list } from "./store.ts";

/** Creates the group's cursor on `stream` unless it exists. */
export async function subscribeStream(
  kv: Deno.Kv,
  stats: KvStats,
  group: string,
  stream: string,
  start: StartPosition,
): Promise<void> {
  const key = cursorKey(group, stream);
  if ((await get(stats, kv, key)).versionstamp !== null) return;
  const cursor = await startCursor(kv, stats, stream, start);
  // Another instance of the group may create it meanwhile: theirs stands.
  await commit(stats, kv, (op) => op.check({ key, versionstamp: null }).set(key, cursor));
}

export async function startCursor(
  kv: Deno.Kv,
  stats: KvStats,
  stream: string,
  start: StartPosition,
): Promise<Cursor> {
  const last = Number((await get<number>(stats, kv, seqKey(stream))).value ?? 0);
  if (start === "latest") return [last, last + 1];
  if (start === "earliest") {
    // The first event kept: what retention deleted before the group existed is not a loss.
    const [first] = await list(stats, kv, { prefix: eventPrefix(stream) }, { limit: 1 });
    return first ? [(first.key[3] as number) - 1, first.key[3] as number] : [last, last + 1];
  }
  // A time: the first event whose time is at or after it. Binary search over the stored
  // entries by their last event's time (times follow append order closely; an entry without a
  // time counts as older), then a look inside the entry found.
  const target = start.getTime();
  const after = (seq: number) =>
    list(stats, kv, { start: eventKey(stream, seq), end: eventKey(stream, MAX_SEQ) }, { limit: 1 });
  const [firstEntry] = await list(stats, kv, { prefix: eventPrefix(stream) }, { limit: 1 });
  let lo = firstEntry ? (firstEntry.key[3] as number) : last + 1;
  let hi = last + 1;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    const [e] = await after(mid);
    const first = e?.key[3] as number;
    if (!e || first >= hi) {
      hi = mid;
      continue;
    }
    const events = unpack(first, e.value);
    if (timeOf(events[events.length - 1][1]) >= target) hi = mid;
    else lo = lastOf(first, e.value) + 1;
  }
  const [e] = await after(lo);
  if (!e) return [last, last + 1];
  const first = e.key[3] as number;
  for (const [seq, value] of unpack(first, e.value)) {
    if (timeOf(value) >= target) return [seq - 1, first];
  }
  return [lastOf(first, e.value), lastOf(first, e.value) + 1];
}

/** An event's time in milliseconds; `-Infinity` for an entry that is not an envelope. */
export function timeOf(value: unknown): number {
  if (envelopeProblem(value) !== undefined) return -Infinity;
  const t = Date.parse((value as { time: string }).time);
  return Number.isNaN(t) ? -Infinity : t;
}
