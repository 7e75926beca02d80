/**
 * Shutdown signals, registered so that they can be removed again (tests must not leak
 * listeners) and tolerant of platforms without them (Windows has no SIGTERM listener, Deno
 * Deploy none at all).
 *
 * @module
 */

/** The signals that ask a service to stop. */
export const SHUTDOWN_SIGNALS: readonly Deno.Signal[] = ["SIGTERM", "SIGINT"];

/**
 * Calls `handler` on SIGTERM and SIGINT until the returned function is called. Calling that
 * function again does nothing.
 */
export function onShutdownSignals(handler: (signal: Deno.Signal) => void): () => void {
  const added: [Deno.Signal, () => void][] = [];
  for (const signal of SHUTDOWN_SIGNALS) {
    const listener = () => handler(signal);
    try {
      Deno.addSignalListener(signal, listener);
      added.push([signal, listener]);
    } catch {
      // Not supported here (SIGTERM on Windows, Deno Deploy): the platform stops the process.
    }
  }
  return () => {
    for (const [signal, listener] of added.splice(0)) {
      try {
        Deno.removeSignalListener(signal, listener);
      } catch {
        // Already gone.
      }
    }
  };
}
