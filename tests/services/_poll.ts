/**
 * Waiting for a condition with a deadline, instead of sleeping a fixed time.
 *
 * @module
 */

/**
 * Calls `probe` until it returns something other than `undefined`/`false`, or the deadline.
 *
 * @param what Said in the error when the deadline passes.
 * @param probe The check.
 * @param timeoutMs The deadline.
 * @returns What `probe` returned.
 */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value as T;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(
    `Timed out after ${timeoutMs} ms waiting for ${what}` + (last ? `: ${last}` : ""),
  );
}
