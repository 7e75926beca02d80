/**
 * Drives one handler with one event, without a worker or a broker.
 *
 * @module
 */
import type { EventContract, EventData, EventInput } from "../contract.ts";
import { DeliveryContext } from "../context.ts";
import type { Envelope, PublishOptions } from "../envelope.ts";
import { compose, type Handler, type Middleware } from "../handler.ts";
import { createTestBus, type TestBus } from "./test_bus.ts";

/** Options of {@linkcode handle}. */
export interface HandleOptions {
  /** The bus the handler publishes through; a fresh `createTestBus()` by default. */
  bus?: TestBus;
  /**
   * The consumer group the handler runs as.
   * @default {"test"}
   */
  group?: string;
  /**
   * The delivery number the handler sees.
   * @default {1}
   */
  attempt?: number;
  /** Middlewares to run around the handler, outermost first. */
  middlewares?: Middleware[];
  /** Envelope fields of the event (key, correlation). */
  event?: PublishOptions;
}

/** What {@linkcode handle} returns. */
export interface HandleResult<C extends EventContract> {
  /** The event the handler received. */
  event: Envelope<EventData<C>>;
  /** The events the handler published, oldest first. */
  published: Envelope[];
  /** The bus it published through. */
  bus: TestBus;
}

/**
 * Validates `data` against the contract, wraps it in an envelope and runs the handler with a
 * real handler context. A handler that throws makes `handle` reject with its error.
 *
 * @param contract The event's contract.
 * @param handler The handler under test.
 * @param data The payload.
 * @param options The group, attempt, bus and middlewares.
 * @returns The event and what the handler published.
 *
 * @example Testing a handler that publishes
 * ```ts
 * import { z } from "zod";
 * import { defineEvent, type Handler } from "@herald/herald";
 * import { handle } from "@herald/herald/testing";
 *
 * const OrderPlaced = defineEvent({
 *   stream: "orders",
 *   type: "order.placed",
 *   schema: z.object({ id: z.string() }),
 * });
 * const OrderBilled = defineEvent({
 *   stream: "billing",
 *   type: "order.billed",
 *   schema: z.object({ id: z.string() }),
 * });
 * const bill: Handler<typeof OrderPlaced> = async (event, ctx) => {
 *   await ctx.publish(OrderBilled, { id: event.data.id });
 * };
 * const { event, published, bus } = await handle(OrderPlaced, bill, { id: "o1" });
 * console.log(published[0].causationid === event.id); // true
 * await bus.close();
 * ```
 */
export async function handle<C extends EventContract>(
  contract: C,
  handler: Handler<C>,
  data: EventInput<C>,
  options: HandleOptions = {},
): Promise<HandleResult<C>> {
  const bus = options.bus ?? createTestBus();
  const event = bus.envelope(contract, data, options.event) as Envelope<EventData<C>>;
  const before = bus.published().length;
  const ctx = new DeliveryContext(
    bus,
    options.group ?? "test",
    event,
    options.attempt ?? 1,
    new AbortController(),
  );
  await compose(options.middlewares ?? [], handler as Handler)(event, ctx);
  return { event, published: bus.published().slice(before), bus };
}
