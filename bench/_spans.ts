/**
 * The least a traced bus on Deno KV does, for the raw rows beside Herald's telemetry rows: one
 * producer span per write, its `traceparent` stored with the event, and one consumer span per
 * event read, child of that `traceparent`. With `OTEL_DENO=true` this is what Deno's
 * OpenTelemetry costs by itself; with it off the API's no-op tracer makes it nothing.
 *
 * @module
 */
import { propagation, ROOT_CONTEXT, SpanKind, trace } from "@opentelemetry/api";

const tracer = trace.getTracer("bench");

/** A producer span around `write`, which gets the `traceparent` to store. */
export async function producerSpan(
  stream: string,
  write: (traceparent: string | undefined) => Promise<void>,
): Promise<void> {
  const span = tracer.startSpan(`publish ${stream}`, {
    kind: SpanKind.PRODUCER,
    attributes: { "messaging.system": "bench", "messaging.destination.name": stream },
  });
  const carrier: { traceparent?: string } = {};
  propagation.inject(trace.setSpan(ROOT_CONTEXT, span), carrier);
  try {
    await write(carrier.traceparent);
  } finally {
    span.end();
  }
}

/** A consumer span around `handle`, child of `traceparent`. */
export function consumerSpan(stream: string, traceparent: string | undefined, handle: () => void) {
  const parent = traceparent ? propagation.extract(ROOT_CONTEXT, { traceparent }) : ROOT_CONTEXT;
  const span = tracer.startSpan(`process ${stream}`, {
    kind: SpanKind.CONSUMER,
    attributes: { "messaging.system": "bench", "messaging.destination.name": stream },
  }, parent);
  try {
    handle();
  } finally {
    span.end();
  }
}
