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
   */
  constructor(
    bus: Bus,
    readonly group: string,
    event: Envelope,
    readonly attempt: number,
    abort: { readonly signal: AbortSignal },
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
    return new OutboxAtomic(bus.backend, kv, make, this.#caused(), this.#appliedKey());
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
