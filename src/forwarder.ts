/**
 * Forwarding deferred outbox entries as soon as the backend answers again: when a commit's
 * immediate forward fails (the backend is down), its database is retried with backoff (100 ms,
 * doubling, at most 2 s) until the outbox is empty, instead of waiting for the next sweep.
 *
 * @module
 */
import type { Backend } from "./backend.ts";
import { reachability } from "./telemetry/health.ts";
import { BackendUnavailableError } from "./errors.ts";

/** The first wait before forwarding again, in milliseconds. */
const FIRST_MS = 100;
/** The longest wait between two tries while the backend stays down, in milliseconds. */
export const FORWARD_MAX_WAIT_MS = 2_000;

type Flush = (backend: Backend, kv: Deno.Kv) => Promise<number>;

const forwarders = new WeakMap<Backend, Forwarder>();
/** Backends whose bus closed: nothing is forwarded to them any more. */
const closed = new WeakSet<Backend>();

/** Forwards `kv`'s outbox to `backend` once it answers again (see the module doc). */
export function forwardSoon(backend: Backend, kv: Deno.Kv, flush: Flush): void {
  if (closed.has(backend)) return;
  let f = forwarders.get(backend);
  if (!f) forwarders.set(backend, f = new Forwarder(backend, flush));
  f.add(kv);
}

/** Stops forwarding to `backend` (it is closing); its sweeps still find what is left. */
export function stopForwarding(backend: Backend): void {
  closed.add(backend);
  forwarders.get(backend)?.stop();
  forwarders.delete(backend);
}

class Forwarder {
  #kvs = new Set<Deno.Kv>();
  #timer?: ReturnType<typeof setTimeout>;
  #waitMs = FIRST_MS;

  constructor(private readonly backend: Backend, private readonly flush: Flush) {}

  add(kv: Deno.Kv): void {
    this.#kvs.add(kv);
    this.#timer ??= unref(setTimeout(() => this.#run(), this.#waitMs));
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#kvs.clear();
  }

  async #run(): Promise<void> {
    for (const kv of [...this.#kvs]) {
      try {
        const n = await this.flush(this.backend, kv);
        this.#kvs.delete(kv);
        if (n > 0) {
          reachability(this.backend).logger.info("forwarded deferred outbox events", { n });
        }
      } catch (err) {
        // Still down: try again. Anything else (the database closed): the sweep is the backstop.
        if (err instanceof BackendUnavailableError) continue;
        this.#kvs.delete(kv);
        reachability(this.backend).logger.warn("outbox forward stopped", { error: err });
      }
    }
    if (this.#timer === undefined) return; // stopped meanwhile
    if (this.#kvs.size === 0) {
      this.#timer = undefined;
      this.#waitMs = FIRST_MS;
      return;
    }
    this.#waitMs = Math.min(FORWARD_MAX_WAIT_MS, this.#waitMs * 2);
    this.#timer = unref(setTimeout(() => this.#run(), this.#waitMs));
  }
}

/** A timer that does not keep the process alive by itself (the sweep is the backstop). */
function unref(timer: ReturnType<typeof setTimeout>): ReturnType<typeof setTimeout> {
  Deno.unrefTimer(timer as unknown as number);
  return timer;
}
