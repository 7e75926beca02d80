/**
 * What a handler is, what it receives, and the one middleware shape that wraps it.
 *
 * @module
 */
import type { EventContract, EventData, EventInput } from "./contract.ts";
import type { Envelope, PublishOptions } from "./envelope.ts";
import type { OutboxAtomic } from "./outbox.ts";
import type { RetryPolicy } from "./retry.ts";
import type { RateLimit } from "./flow.ts";

/** What a handler receives beside the event. */
export interface HandlerContext {
  /** The consumer group handling the event. */
  readonly group: string;
  /** This delivery's number, from 1. */
  readonly attempt: number;
  /** Aborted when the lease is lost or the worker stops past its grace period. */
  readonly signal: AbortSignal;
  /**
   * Publishes an event caused by this one: its correlation id is carried over and its
   * causation id is this event's id.
   */
  publish<C extends EventContract>(
    contract: C,
    data: EventInput<C>,
    options?: PublishOptions,
  ): Promise<Envelope>;
  /**
   * Starts an atomic operation on `kv` that also records "this event was applied by this group":
   * a redelivery's commit fails with `duplicate: true` instead of applying twice. Events
   * published through it carry correlation and causation like `publish`.
   */
  atomic(kv: Deno.Kv): OutboxAtomic;
  /** Tells whether this group recorded this event as applied in `kv` (see `atomic`). */
  applied(kv: Deno.Kv): Promise<boolean>;
}

/**
 * Handles one event of a contract.
 *
 * @typeParam C The contract.
 */
export type Handler<C extends EventContract = EventContract> = (
  event: Envelope<EventData<C>>,
  ctx: HandlerContext,
) => void | Promise<void>;

/**
 * Wraps every handler of a worker: call `next()` to go on, throw to fail the delivery.
 *
 * @example Logging how long each handler takes
 * ```ts
 * import type { Middleware } from "@herald/herald";
 * const timing: Middleware = async (event, _ctx, next) => {
 *   const t0 = performance.now();
 *   await next();
 *   console.log(event.type, performance.now() - t0);
 * };
 * ```
 */
export type Middleware = (
  event: Envelope,
  ctx: HandlerContext,
  next: () => Promise<void>,
) => Promise<void>;

/** Options of one handler. */
export interface HandlerOptions {
  /**
   * How many events this handler runs at once in this worker.
   * @default {16}
   */
  concurrency?: number;
  /** Overrides of the worker's retry policy. */
  retry?: Partial<RetryPolicy>;
  /**
   * At most `max` runs of this handler start in each `perMs` window, across every instance of
   * the group (the count is kept in the backend). Deliveries wait for a permit under lease.
   * @default {no limit}
   */
  rateLimit?: RateLimit;
  /**
   * Past this many milliseconds `ctx.signal` is aborted with a `HandlerTimeoutError` and the
   * delivery is retried (or dead-lettered after its attempts).
   * @default {no limit}
   */
  timeoutMs?: number;
}

/** Runs `handler` inside `middlewares`, outermost first. */
export function compose(
  middlewares: readonly Middleware[],
  handler: (event: Envelope, ctx: HandlerContext) => void | Promise<void>,
): (event: Envelope, ctx: HandlerContext) => Promise<void> {
  return (event, ctx) => {
    const run = async (i: number): Promise<void> => {
      if (i === middlewares.length) return await handler(event, ctx);
      let called = false;
      await middlewares[i](event, ctx, () => {
        if (called) return Promise.reject(new Error("next() called twice"));
        called = true;
        return run(i + 1);
      });
    };
    return run(0);
  };
}
