/**
 * The producer side: a span per publish (`publish <stream>`, kind producer) whose context goes
 * into the envelopes' `traceparent`, and the count of events sent. The span's parent is the
 * active context (an HTTP request's span, or the consumer span of the handler that publishes),
 * else the `traceparent` the caller passed.
 *
 * @module
 */
import { context, type Span, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import type { Envelope } from "../envelope.ts";
import { count, recording, type Series, series } from "./metrics.ts";
import { contextFrom, heraldTracer, SYSTEM, traceparentOf } from "./otel.ts";

/** Tells whether a publish has anything to record: spans or metrics. */
export function publishObserved(): boolean {
  return heraldTracer() !== null || recording();
}

/**
 * Runs a publish inside a producer span, hands it the `traceparent` to stamp, and counts what it
 * sent. Call only when {@linkcode publishObserved} says so.
 *
 * @param streams The streams published to.
 * @param traceparent The `traceparent` the caller passed, if any.
 * @param run Publishes, stamping the given `traceparent` into every envelope.
 */
export async function observePublish(
  streams: readonly string[],
  traceparent: string | undefined,
  run: (traceparent: string | undefined) => Promise<Envelope[]>,
): Promise<Envelope[]> {
  const span = startSpan("publish", streams, traceparent);
  try {
    const envelopes = await run(span ? span.traceparent : traceparent);
    if (span && envelopes.length === 1) {
      span.span.setAttribute("messaging.message.id", envelopes[0].id);
    }
    countSent(envelopes);
    return envelopes;
  } catch (err) {
    if (span) failSpan(span.span, err);
    throw err;
  } finally {
    span?.span.end();
  }
}

/**
 * The `traceparent` for an event built now and sent later (the outbox): a `create <stream>`
 * span, ended at once, under the active context.
 */
export function createTraceparent(
  stream: string,
  traceparent: string | undefined,
): string | undefined {
  const span = startSpan("create", [stream], traceparent);
  if (!span) return traceparent;
  span.span.end();
  return span.traceparent;
}

/** Counts events sent (committed to the backend). */
export function countSent(envelopes: readonly Envelope[]): void {
  if (!recording()) return;
  for (const e of envelopes) count("sent", streamSeries(e.stream));
}

function startSpan(
  operation: "publish" | "create",
  streams: readonly string[],
  traceparent: string | undefined,
): { span: Span; traceparent: string | undefined } | undefined {
  const tracer = heraldTracer();
  if (!tracer) return undefined;
  const active = context.active();
  const parent = trace.getSpan(active) ? active : contextFrom(traceparent);
  const name = streams.length === 1 ? `${operation} ${streams[0]}` : operation;
  const span = tracer.startSpan(name, {
    kind: SpanKind.PRODUCER,
    attributes: {
      "messaging.system": SYSTEM,
      "messaging.operation.name": operation,
      "messaging.operation.type": operation === "publish" ? "send" : "create",
      ...(streams.length === 1 ? { "messaging.destination.name": streams[0] } : {}),
    },
  }, parent);
  return { span, traceparent: traceparentOf(span) };
}

/** Marks a span failed with the error. */
export function failSpan(span: Span, err: unknown): void {
  const e = typeof err === "object" && err !== null && "message" in err
    ? err as { name?: string; message: string; stack?: string }
    : { name: "Error", message: String(err) };
  span.recordException({ name: e.name ?? "Error", message: e.message, stack: e.stack });
  span.setAttribute("error.type", e.name);
  span.setStatus({ code: SpanStatusCode.ERROR, message: e.message });
}

const streamSeriesCache = new Map<string, Series>();

function streamSeries(stream: string): Series {
  let s = streamSeriesCache.get(stream);
  if (!s) streamSeriesCache.set(stream, s = series({ stream }));
  return s;
}
