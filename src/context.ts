/**
 * The context a handler receives: publishing with correlation carried over, and "applied once"
 * bookkeeping in the handler's own database.
 *
 * @module
 */
import type { Bus } from "./bus.ts";
import type { EventContract, EventInput } from "./contract.ts";
import type { Envelope, PublishOptions } from "./envelope.ts";
import type { HandlerContext } from "./handler.ts";
import { OutboxAtomic } from "./outbox.ts";

/** The key prefix under which groups record the events they applied. */
export const APPLIED_PREFIX: readonly ["herald_applied"] = ["herald_applied"];

/**
 * How long an "applied" marker is kept by default, in milliseconds (7 days): far past the
 * longest redelivery of the default retry policy, and Deno KV then deletes it (`expireIn`).
 */
export const DEFAULT_DEDUPE_WINDOW_MS = 7 * 24 * 3_600_000;

/**
 * The context of one delivery of `event` to `group`. A class, so that a delivery costs one small
 * object: the publishing options and the "applied" key are made only when a handler uses them.
 */
export class DeliveryContext implements HandlerContext {
  readonly #bus: Bus;
  readonly #event: Envelope;
  readonly #abort: { readonly signal: AbortSignal };

  /**
   * @param abort Where the handler's signal comes from, read when the handler asks for it: a
   *   worker makes it only then (see `flight.ts`).
   * @param dedupeWindowMs How long the "applied" marker of `atomic` is kept.
   */
  constructor(
    bus: Bus,
    readonly group: string,
    event: Envelope,
    readonly attempt: number,
    abort: { readonly signal: AbortSignal },
    readonly dedupeWindowMs: number = DEFAULT_DEDUPE_WINDOW_MS,
  ) {
    this.#bus = bus;
    this.#event = event;
    this.#abort = abort;
  }

  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  publish<C extends EventContract>(
    contract: C,
    data: EventInput<C>,
    options?: PublishOptions,
  ): Promise<Envelope> {
    return this.#bus.publish(contract, data, { ...this.#caused(), ...options });
  }

  atomic(kv: Deno.Kv): OutboxAtomic {
    const bus = this.#bus;
    const make = (c: EventContract, d: unknown, o?: PublishOptions) => bus.envelope(c, d, o);
    const applied = { key: this.#appliedKey(), expireIn: this.dedupeWindowMs };
    return new OutboxAtomic(bus.backend, kv, make, this.#caused(), applied);
  }

  async applied(kv: Deno.Kv): Promise<boolean> {
    return (await kv.get(this.#appliedKey())).versionstamp !== null;
  }

  /** Correlation carried over, this event as the cause. */
  #caused(): PublishOptions {
    const e = this.#event;
    return { correlationid: e.correlationid, causationid: e.id, traceparent: e.traceparent };
  }

  #appliedKey(): Deno.KvKey {
    return [...APPLIED_PREFIX, this.group, this.#event.id];
  }
}
