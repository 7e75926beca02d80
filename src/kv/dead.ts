/**
 * Dead letters: listing them, and redriving some or all of them back to be claimed again.
 *
 * @module
 */
import type { DeadLetter } from "../backend.ts";
import { type DeadEntry, deadKey, deadPrefix, type RetryEntry, retryKey } from "./keys.ts";
import { commit, getMany, type KvStats, list } from "./store.ts";
import { countDead } from "./dead_bound.ts";

/** Dead letters moved per atomic operation: each carries its event (up to 60 KB). */
const REDRIVE_CHUNK = 10;

/** Lists a group's dead letters, oldest event first. */
export async function listDead(
  kv: Deno.Kv,
  stats: KvStats,
  group: string,
  limit?: number,
): Promise<DeadLetter[]> {
  const entries = await list<DeadEntry>(stats, kv, { prefix: deadPrefix(group) }, { limit });
  return entries.map(({ value: d }) => {
    const letter: {
      -readonly [K in keyof DeadLetter]: DeadLetter[K];
    } = {
      id: d.id,
      group,
      stream: d.stream,
      error: d.error,
      attempts: d.attempts,
      at: d.at,
    };
    if (d.envelope !== undefined) letter.envelope = d.envelope;
    else letter.raw = d.raw;
    return letter;
  });
}

/**
 * Moves dead letters back to be claimed at once, with a fresh attempt count; each carries a
 * copy of its event, since retention may have trimmed the original.
 *
 * @returns how many were moved.
 */
export async function redrive(
  kv: Deno.Kv,
  stats: KvStats,
  group: string,
  ids?: readonly string[],
): Promise<number> {
  let moved = 0;
  if (ids) {
    const unique = [...new Set(ids)];
    for (let i = 0; i < unique.length; i += REDRIVE_CHUNK) {
      moved += await move(kv, stats, group, unique.slice(i, i + REDRIVE_CHUNK));
    }
    return moved;
  }
  while (true) {
    const entries = await list<DeadEntry>(stats, kv, { prefix: deadPrefix(group) }, {
      limit: REDRIVE_CHUNK,
    });
    if (entries.length === 0) return moved;
    const n = await move(kv, stats, group, entries.map((e) => e.value.id));
    if (n === 0 && entries.length > 0) continue;
    moved += n;
  }
}

async function move(kv: Deno.Kv, stats: KvStats, group: string, ids: string[]): Promise<number> {
  for (let attempt = 0;; attempt++) {
    const entries = await getMany<DeadEntry>(stats, kv, ids.map((id) => deadKey(group, id)));
    const present = entries.filter((e) => e.versionstamp !== null) as Deno.KvEntry<DeadEntry>[];
    if (present.length === 0) return 0;
    const now = Date.now();
    const result = await commit(stats, kv, (op) => {
      for (const e of present) {
        const d = e.value;
        // `r`: it takes its key again when claimed (see keyhold.ts).
        const retry: RetryEntry = { a: 0, r: true };
        if (d.envelope !== undefined) retry.env = d.envelope;
        else {
          retry.raw = d.raw;
          retry.m = true;
        }
        op.check({ key: e.key, versionstamp: e.versionstamp });
        op.delete(e.key);
        op.set(retryKey(group, d.stream, now, d.seq), retry);
      }
      countDead(op, group, -present.length);
    });
    if (result.ok) return present.length;
    // Someone else redrove or rewrote one of them meanwhile: read again.
    if (attempt > 20) throw new Error(`Could not redrive dead letters of group "${group}"`);
  }
}
