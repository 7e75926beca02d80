/**
 * Whether the bus answers: each backend has a tracker that its users (the worker's claims, the
 * bus's publishes, the Redis client's reconnects) tell when a call failed for want of the backend
 * and when one went through again. `/readyz` reads them.
 *
 * @module
 */
import { defaultLogger, type Logger } from "./log.ts";

/** Since when a backend has been unreachable, and why. */
export interface Outage {
  /** When the first failed call of the outage happened, in milliseconds since the epoch. */
  since: number;
  /** The error of that call. */
  reason: string;
}

/** One backend's reachability. */
export class Reachability {
  /** Set while the backend is unreachable. */
  outage?: Outage;
  /** Where the outage's start and end are logged. */
  logger: Logger = defaultLogger("herald");

  /** A call failed because the backend did not answer. */
  down(err: unknown): void {
    if (this.outage) return;
    const reason = err instanceof Error ? err.message : String(err);
    this.outage = { since: Date.now(), reason };
    outages.add(this);
    this.logger.warn("the bus is unreachable; retrying with backoff until it is back", {
      error: err,
    });
    notify();
  }

  /** The backend was closed: whatever its state, it no longer counts. */
  forget(): void {
    this.outage = undefined;
    if (outages.delete(this)) notify();
  }

  /** A call went through. */
  up(): void {
    if (!this.outage) return;
    const ms = Date.now() - this.outage.since;
    this.outage = undefined;
    outages.delete(this);
    this.logger.info("the bus is reachable again", { unreachable_ms: ms });
    notify();
  }
}

const trackers = new WeakMap<object, Reachability>();
const outages = new Set<Reachability>();
const listeners = new Set<() => void>();

/** The reachability tracker of a backend (made on first use). */
export function reachability(backend: object): Reachability {
  let r = trackers.get(backend);
  if (!r) trackers.set(backend, r = new Reachability());
  return r;
}

/** The longest outage of any backend in this isolate, if one is unreachable now. */
export function longestOutage(): Outage | undefined {
  let worst: Outage | undefined;
  for (const r of outages) if (!worst || r.outage!.since < worst.since) worst = r.outage;
  return worst;
}

/** Calls `listener` whenever a backend of this isolate goes down or comes back. */
export function onReachability(listener: () => void): () => void {
  listeners.add(listener);
  return () => {
    listeners.delete(listener);
  };
}

function notify(): void {
  for (const l of listeners) l();
}
