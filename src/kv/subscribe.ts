/**
 * Creating a group's cursor on a stream at its start position. The cursor is the last sequence
 * number the group has taken, so "earliest" is just before the first event kept.
 *
 * @module
 */
import type { StartPosition } from "../backend.ts";
import { envelopeProblem } from "../envelope.ts";
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

async function startCursor(
  kv: Deno.Kv,
  stats: KvStats,
  stream: string,
  start: StartPosition,
): Promise<number> {
  const last = Number((await get<number>(stats, kv, seqKey(stream))).value ?? 0);
  if (start === "latest") return last;
  if (start === "earliest") return 0;
  // A time: the first event whose time is at or after it, by binary search over the numbers
  // (times follow append order closely; an entry without a time counts as older).
  const target = start.getTime();
  const [first] = await list(stats, kv, { prefix: eventPrefix(stream) }, { limit: 1 });
  let lo = first ? (first.key[3] as number) : last + 1;
  let hi = last + 1;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    const [e] = await list(stats, kv, {
      start: eventKey(stream, mid),
      end: eventKey(stream, MAX_SEQ),
    }, {
      limit: 1,
    });
    if (!e || (e.key[3] as number) >= hi) {
      hi = mid;
      continue;
    }
    if (timeOf(e.value) >= target) hi = mid;
    else lo = (e.key[3] as number) + 1;
  }
  return lo - 1;
}

function timeOf(value: unknown): number {
  if (envelopeProblem(value) !== undefined) return -Infinity;
  const t = Date.parse((value as { time: string }).time);
  return Number.isNaN(t) ? -Infinity : t;
}
