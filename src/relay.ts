/**
 * The outbox relay: a loop that forwards what a service's outbox still holds.
 *
 * @module
 */
import { reachability } from "./telemetry/health.ts";
import type { Bus } from "./bus.ts";
import { sleep } from "./sleep.ts";

/** Options of {@linkcode relayOutbox}. */
export interface RelayOptions {
  /**
   * How often to sweep, in milliseconds.
   * @default {1000}
   */
  intervalMs?: number;
  /** Stops the relay. */
  signal?: AbortSignal;
}

/**
 * Sweeps `kv`'s outbox now and then every `intervalMs` until `signal` aborts, forwarding events
 * whose immediate forward did not happen (the process stopped between its commit and the
 * forward, or the backend was unreachable). The backend drops the duplicates by event id.
 *
 * @param bus The bus to forward to.
 * @param kv The service's own database, holding the outbox.
 * @param options The interval and the stop signal.
 * @returns Resolves once stopped.
 *
 * @example Running the relay beside a service
 * ```ts
 * import { createBus, createMemoryBackend, relayOutbox } from "@herald/herald";
 * const bus = createBus({ backend: createMemoryBackend(), source: "users" });
 * const db = await Deno.openKv(":memory:");
 * const stop = new AbortController();
 * const relay = relayOutbox(bus, db, { intervalMs: 500, signal: stop.signal });
 * stop.abort();
 * await relay;
 * db.close();
 * await bus.close();
 * ```
 */
export async function relayOutbox(
  bus: Bus,
  kv: Deno.Kv,
  options: RelayOptions = {},
): Promise<void> {
  const intervalMs = options.intervalMs ?? 1_000;
  if (!(intervalMs > 0)) throw new RangeError("intervalMs must be > 0");
  const signal = options.signal;
  while (!signal?.aborted) {
    try {
      await bus.relayOutbox(kv);
    } catch (err) {
      const logger = bus.logger ?? reachability(bus.backend).logger;
      logger.warn("outbox relay will retry", { source: bus.source, error: err });
    }
    await sleep(intervalMs, signal);
  }
}
