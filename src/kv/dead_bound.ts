/**
 * The bound on a group's dead letters: a counter per group (`["herald", "deadn", group]`) that
 * settling, redriving and purging keep, and a trimmer that deletes the oldest dead letters (by
 * event id, so by event time) past `deadLetterMaxLen`. Each deletion is counted in
 * `stats.deadTrimmed` and logged: dead letters never go in silence.
 *
 * @module
 */
import { defaultLogger } from "../telemetry/log.ts";
import type { DeadEntry } from "./keys.ts";
import { deadPrefix } from "./keys.ts";
import { commit, get, type KvStats, list } from "./store.ts";

const log = defaultLogger("herald");

/** The key of a group's dead-letter counter (outside `deadPrefix`, so lists never see it). */
export const deadCountKey = (group: string): Deno.KvKey => ["herald", "deadn", group];

const WRAP = 1n << 64n;
/** Dead letters deleted per atomic operation: each carries its event (up to 60 KB). */
const PAGE = 10;

/** Adds `n` (negative to subtract) to a group's dead-letter counter within `op`. */
export function countDead(op: Deno.AtomicOperation, group: string, n: number): void {
  if (n === 0) return;
  const v = n > 0 ? BigInt(n) : WRAP - BigInt(-n);
  op.sum(deadCountKey(group), v);
}

/** Reads a group's dead-letter counter; a counter pushed below zero reads as zero. */
export async function deadCount(kv: Deno.Kv, stats: KvStats, group: string): Promise<number> {
  const v = (await get<Deno.KvU64>(stats, kv, deadCountKey(group))).value?.value ?? 0n;
  return v >= WRAP / 2n ? 0 : Number(v);
}

/** Keeps each group's dead letters under a bound, trimming after dead letters were written. */
export class DeadBound {
  #running = new Map<string, Promise<unknown>>();
  #again = new Set<string>();

  constructor(
    private readonly kv: Deno.Kv,
    private readonly stats: KvStats,
    private readonly max: number,
  ) {}

  /** Dead letters were written for `group`: trims in the background, one trim at a time. */
  wrote(group: string): void {
    if (this.#running.has(group)) {
      this.#again.add(group);
      return;
    }
    const p = this.trim(group)
      .catch((err) => {
        log.warn("trimming dead letters failed", { group, error: err });
      })
      .finally(() => {
        this.#running.delete(group);
        if (this.#again.delete(group)) this.wrote(group);
      });
    this.#running.set(group, p);
  }

  /** Waits for background trims. */
  async idle(): Promise<void> {
    while (this.#running.size > 0) await Promise.all(this.#running.values());
  }

  /**
   * Deletes the oldest dead letters of `group` past the bound.
   *
   * @returns how many were deleted.
   */
  async trim(group: string): Promise<number> {
    let deleted = 0;
    while (true) {
      const excess = (await deadCount(this.kv, this.stats, group)) - this.max;
      if (excess <= 0) break;
      const page = await list<DeadEntry>(this.stats, this.kv, { prefix: deadPrefix(group) }, {
        limit: Math.min(PAGE, excess),
      });
      if (page.length === 0) break;
      const result = await commit(this.stats, this.kv, (op) => {
        for (const e of page) op.check(e).delete(e.key);
        countDead(op, group, -page.length);
      });
      if (!result.ok) continue; // redriven or purged meanwhile: count again
      deleted += page.length;
    }
    if (deleted > 0) {
      this.stats.deadTrimmed += deleted;
      log.warn(
        `deleted the ${deleted} oldest dead letters, past deadLetterMaxLen (${this.max}); ` +
          "redrive or purge them sooner to keep them",
        { group, dead_trimmed_in_all: this.stats.deadTrimmed },
      );
    }
    return deleted;
  }
}
