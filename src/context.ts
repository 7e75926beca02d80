/**
 * The context a handler receives: publishing with correlation carried over, and "applied once"
 * bookkeeping in the handler's own database.
 *
 * @module
 */
import type { Bus } from "./bus.ts";
import type { EventContract } from "./contract.ts";
import type { Envelope, PublishOptions } from "./envelope.ts";
import type { HandlerContext } from "./handler.ts";
import { OutboxAtomic } from "./outbox.ts";

/** The key prefix under which groups record the events they applied. */
export const APPLIED_PREFIX: readonly ["herald_applied"] = ["herald_applied"];

/** Builds the context for one delivery of `event` to `group`. */
export function createContext(
  bus: Bus,
  group: string,
  event: Envelope,
  attempt: number,
  signal: AbortSignal,
): HandlerContext {
  const caused: PublishOptions = {
    correlationid: event.correlationid,
    causationid: event.id,
    traceparent: event.traceparent,
  };
  const appliedKey = [...APPLIED_PREFIX, group, event.id];
  return {
    group,
    attempt,
    signal,
    publish: (contract, data, options) => bus.publish(contract, data, { ...caused, ...options }),
    atomic(kv) {
      const make = (c: EventContract, d: unknown, o?: PublishOptions) => bus.envelope(c, d, o);
      return new OutboxAtomic(bus.backend, kv, make, caused, appliedKey);
    },
    async applied(kv) {
      return (await kv.get(appliedKey)).versionstamp !== null;
    },
  };
}
