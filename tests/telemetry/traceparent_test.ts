/**
 * Herald formats and parses the envelope's W3C `traceparent` itself (not through the registered
 * propagator): what it writes, what it accepts as a parent, and what it turns away.
 */
import { assertEquals } from "@std/assert";
import { trace } from "@opentelemetry/api";
import { contextFrom, traceparentOf } from "../../src/telemetry/otel.ts";

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN = "00f067aa0ba902b7";

Deno.test("traceparentOf() writes version 00 with the span's ids and flags", () => {
  const span = (traceFlags: number) =>
    trace.wrapSpanContext({ traceId: TRACE, spanId: SPAN, traceFlags });
  assertEquals(traceparentOf(span(1)), `00-${TRACE}-${SPAN}-01`);
  assertEquals(traceparentOf(span(0)), `00-${TRACE}-${SPAN}-00`);
});

Deno.test("contextFrom() names the remote parent of a valid traceparent", () => {
  for (
    const [tp, flags] of [[`00-${TRACE}-${SPAN}-01`, 1], [`00-${TRACE}-${SPAN}-00`, 0]] as const
  ) {
    assertEquals(trace.getSpanContext(contextFrom(tp)), {
      traceId: TRACE,
      spanId: SPAN,
      traceFlags: flags,
      isRemote: true,
    });
  }
  // A later version may append fields; its first four are read as version 00's.
  assertEquals(trace.getSpanContext(contextFrom(`01-${TRACE}-${SPAN}-01-later`))?.spanId, SPAN);
});

Deno.test("contextFrom() gives the root context for a missing or invalid traceparent", () => {
  const invalid = [
    undefined,
    "",
    "not a traceparent",
    `ff-${TRACE}-${SPAN}-01`,
    `00-${TRACE}-${SPAN}-01-extra`,
    `00-${"0".repeat(32)}-${SPAN}-01`,
    `00-${TRACE}-${"0".repeat(16)}-01`,
    `00-${TRACE.toUpperCase()}-${SPAN}-01`,
    `00-${TRACE.slice(1)}-${SPAN}-01`,
  ];
  for (const tp of invalid) assertEquals(trace.getSpanContext(contextFrom(tp)), undefined, tp);
});
