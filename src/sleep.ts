/**
 * Waiting that a stop signal can cut short. Internal: not exported from the package.
 *
 * @module
 */

/**
 * Waits `ms` milliseconds, or less if `signal` aborts; never rejects, so callers check the
 * signal themselves afterwards.
 *
 * @param ms How long to wait.
 * @param signal Ends the wait early.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}
