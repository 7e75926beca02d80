/**
 * Batches a worker's settlements: outcomes gathered while one `settle` call is in flight go
 * out together in the next, so a busy worker makes one backend write per batch, not per event.
 *
 * @module
 */
import { reachability } from "./telemetry/health.ts";
import type { Logger } from "./telemetry/log.ts";
import type { Backend, Delivery, Settlement } from "./backend.ts";
import { sleep } from "./sleep.ts";

/** The most settlements in one backend call. */
const MAX_BATCH = 256;

/** Gathers settlements and writes them in batches, one write at a time. */
export class Settler {
  #pending: Settlement[] = [];
  #flushing?: Promise<void>;
  #closed = false;
  #giveUp = new AbortController();

  /**
   * @param backend Where outcomes are recorded.
   * @param group The consumer group.
   */
  constructor(
    private readonly backend: Backend,
    private readonly group: string,
    private readonly logger: Logger = reachability(backend).logger,
  ) {}

  /** Queues an outcome; it is written soon, together with others. */
  add(settlement: Settlement): void {
    // After close the backend may be gone; an unrecorded outcome only lapses into a redelivery.
    if (this.#closed) return;
    this.#pending.push(slim(settlement));
    this.#flushing ??= this.#flush();
  }

  /**
   * Writes everything queued, waiting at most `timeoutMs` while the backend keeps failing; what
   * is still unwritten then is given up (its leases lapse into redeliveries).
   *
   * @returns whether every outcome was written.
   */
  async close(timeoutMs = Infinity): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.#flushing && Date.now() < deadline) {
      if (!await within(this.#flushing, deadline - Date.now())) break;
    }
    this.#closed = true;
    this.#giveUp.abort();
    if (this.#pending.length > 0) {
      this.logger.warn("outcomes not written by stop: their events are delivered again", {
        group: this.group,
        unwritten: this.#pending.length,
      });
      this.#pending = [];
      return false;
    }
    return true;
  }

  async #flush(): Promise<void> {
    // Let outcomes that finish in the same tick join this batch.
    await Promise.resolve();
    let failures = 0;
    while (this.#pending.length > 0 && !this.#closed) {
      const batch = this.#pending.splice(0, MAX_BATCH);
      try {
        await this.backend.settle(this.group, batch);
        failures = 0;
      } catch (err) {
        // Keep the outcomes: until they are written, the leases would only lapse into retries.
        this.#pending.unshift(...batch);
        failures++;
        const wait = Math.min(5_000, 50 * 2 ** Math.min(failures, 7));
        this.logger.warn("settle failed, retrying", {
          group: this.group,
          retry_in_ms: wait,
          error: err,
        });
        await sleep(wait, this.#giveUp.signal);
      }
    }
    this.#flushing = undefined;
  }
}

/**
 * An ack or a release of `delivery`, as it waits to be written: for an event without a key, one
 * that names its delivery only (stream, ref, attempt), which is all a backend reads of it.
 * Settlements wait in the settler and in the backend (Deno KV holds them up to 100 ms for a claim
 * to carry), so with the event attached every event a draining worker handled outlived two young
 * collections and was copied into the old generation.
 */
export function settlementOf(outcome: "ack" | "release", delivery: Delivery): Settlement {
  if (delivery.envelope?.key !== undefined) return { delivery, outcome };
  return new Bare(outcome, new Named(delivery.stream, delivery.ref, delivery.attempt));
}

/** The settlement as it waits to be written (see {@linkcode settlementOf}). */
function slim(s: Settlement): Settlement {
  if (s instanceof Bare || (s.outcome !== "ack" && s.outcome !== "release")) return s;
  return settlementOf(s.outcome, s.delivery);
}

// Classes, not object literals: V8 moved a literal made for every event, with the ones it
// allocates, into the old generation (allocation-site pretenuring), where what it named lived on
// until the next full collection.

/** A delivery named by its stream, ref and attempt only. */
class Named implements Delivery {
  constructor(readonly stream: string, readonly ref: string, readonly attempt: number) {}
}

/** An ack or a release of a {@linkcode Named} delivery. */
class Bare {
  constructor(readonly outcome: "ack" | "release", readonly delivery: Delivery) {}
}

/** Waits for `promise` up to `ms`; tells whether it settled in time. Leaves no timer behind. */
async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  if (ms === Infinity) return await promise.then(() => true, () => true);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<false>((resolve) => timer = setTimeout(() => resolve(false), ms));
  try {
    return await Promise.race([promise.then(() => true, () => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
