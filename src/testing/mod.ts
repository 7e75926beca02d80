/**
 * Herald's test kit: an in-memory bus that records what was published, a way to drive one
 * handler with one event, and the conformance suite every backend runs.
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
export {
  type CaseName,
  type ConformanceOptions,
  type ConformanceTarget,
  testBackendConformance,
} from "./conformance.ts";
export { handle, type HandleOptions, type HandleResult } from "./handle.ts";
export { type TestBus, testBus } from "./test_bus.ts";
