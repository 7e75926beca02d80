/**
 * Waiting in tests for a condition with a deadline, instead of sleeping a fixed time.
 *
 * @module
 */

/**
 * Calls `check` every `everyMs` until it returns true, or throws when `timeoutMs` passes.
 *
 * @param check The condition.
 * @param timeoutMs The deadline.
 * @param everyMs How often to look.
 */
export async function until(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  everyMs = 10,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
