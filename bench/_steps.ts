/**
 * Running a raw part and Herald's part of the bench in turn, row by row.
 *
 * @module
 */

/** One or more bench rows, run together. */
export type Step = () => Promise<void>;

/**
 * Runs step i of `raw` just before step i of `herald`, for every i: each Herald row is then
 * judged against a raw limit measured a moment before it, not minutes earlier. On this 2-core
 * machine a raw row moves by a fifth within minutes (the REST pipeline row drew 42,508 events/s
 * in one `--only redis` set and 34,557 in the next), which decided targets more than Herald did.
 */
export async function alternate(raw: readonly Step[], herald: readonly Step[]): Promise<void> {
  for (let i = 0; i < Math.max(raw.length, herald.length); i++) {
    await raw[i]?.();
    await herald[i]?.();
  }
}
