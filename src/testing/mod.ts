/**
 * Herald's test kit: an in-memory bus that records what was published, and a way to drive one
 * handler with one event. The conformance suite every backend runs is in
 * `@herald/herald/backend`.
 *
 * @example Testing a handler without a broker
 * ```ts
 * import { z } from "zod";
 * import { defineEvent } from "@herald/herald";
 * import { handle } from "@herald/herald/testing";
 *
 * const Ping = defineEvent({ stream: "pings", type: "ping", schema: z.object({ n: z.number() }) });
 * const seen: number[] = [];
 * const { bus } = await handle(Ping, (event) => {
 *   seen.push(event.data.n);
 * }, { n: 1 });
 * console.log(seen); // [1]
 * await bus.close();
 * ```
 *
 * @module
 */
export { handle, type HandleOptions, type HandleResult } from "./handle.ts";
export { createTestBus, type TestBus } from "./test_bus.ts";
