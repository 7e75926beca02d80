/**
 * The deliveries a worker holds (running, or waiting behind their key), each with the abort
 * signal its handler sees.
 *
 * Both are made for every event, so both are cheap: the signal's `AbortController` is made only
 * when a handler asks for it (most never do), and the set is an array in which each flight knows
 * its place, not a `Map` keyed by delivery.
 *
 * @module
 */
import type { Delivery } from "./backend.ts";

/** One delivery a worker holds. */
export class Flight {
  /** Its place in {@linkcode Flights}, or -1 once it left. */
  index = -1;
  /** Whether its handler was told to stop (lease lost, or stopped past the grace period). */
  aborted = false;
  /** Whether it was aborted because its handler ran past its `timeoutMs` (then it is retried). */
  timedOut = false;
  #controller?: AbortController;
  #reason?: unknown;

  constructor(readonly delivery: Delivery) {}

  /** The handler's signal, made on first use; already aborted if the flight was. */
  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  /** Tells the handler to stop, once. */
  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
  }
}

/** The flights of one worker: added and removed in constant time, no hashing. */
export class Flights {
  #all: Flight[] = [];

  /** How many flights there are. */
  get size(): number {
    return this.#all.length;
  }

  /** Adds a flight for `delivery`. */
  add(delivery: Delivery): Flight {
    const flight = new Flight(delivery);
    flight.index = this.#all.length;
    this.#all.push(flight);
    return flight;
  }

  /** Removes `flight` (the last one takes its place). */
  delete(flight: Flight): void {
    const at = flight.index;
    if (at < 0 || this.#all[at] !== flight) return;
    const last = this.#all.pop()!;
    if (last !== flight) {
      this.#all[at] = last;
      last.index = at;
    }
    flight.index = -1;
  }

  /** A copy of the flights, safe to iterate while they change. */
  list(): Flight[] {
    return this.#all.slice();
  }
}
