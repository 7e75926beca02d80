/**
 * Herald's OpenTelemetry: a tracer and a meter from `@opentelemetry/api`, which Deno exports with
 * `OTEL_DENO=true` (no SDK). Whether anything listens is asked once per isolate, so that with
 * OpenTelemetry off a publish or a delivery makes no span, attributes or context at all.
 *
 * @module
 */
import {
  type Attributes,
  type Context,
  createNoopMeter,
  isSpanContextValid,
  type Meter,
  metrics,
  ProxyTracerProvider,
  ROOT_CONTEXT,
  type Span,
  trace,
  type Tracer,
} from "@opentelemetry/api";

/** The instrumentation scope of Herald's spans and metrics. */
export const SCOPE = "herald";
/** `messaging.system` of every span and metric. */
export const SYSTEM = "herald";

let tracer: Tracer | null | undefined;
let meter: Meter | null | undefined;

/** Herald's tracer, or `null` when no tracer provider is registered (OpenTelemetry off). */
export function heraldTracer(): Tracer | null {
  if (tracer === undefined) {
    const provider = trace.getTracerProvider();
    // Unregistered, the API hands out a proxy over its no-op provider.
    const noop = new ProxyTracerProvider().getDelegate();
    const off = provider instanceof ProxyTracerProvider && provider.getDelegate() === noop;
    tracer = off ? null : trace.getTracer(SCOPE);
  }
  return tracer;
}

/** Herald's meter, or `null` when no meter provider is registered. */
export function heraldMeter(): Meter | null {
  if (meter === undefined) {
    const m = metrics.getMeter(SCOPE);
    meter = m === createNoopMeter() ? null : m;
  }
  return meter;
}

/** Tells whether spans are recorded in this isolate. */
export function tracingOn(): boolean {
  return heraldTracer() !== null;
}

/**
 * The W3C `traceparent` of `span`. Formatted here rather than through the registered
 * propagator: the envelope's field is W3C by definition, and the propagator's inject costs
 * several calls into Deno's runtime per publish.
 */
export function traceparentOf(span: Span): string {
  const { traceId, spanId, traceFlags } = span.spanContext();
  return `00-${traceId}-${spanId}-${traceFlags === 1 ? "01" : hex2(traceFlags)}`;
}

function hex2(n: number): string {
  return (n & 0xff).toString(16).padStart(2, "0");
}

/** Version, trace id, parent id and flags of a W3C `traceparent` (later versions may add fields). */
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/**
 * The context a W3C `traceparent` names, as a parent for new spans; the root context when it
 * names none (missing, malformed, or all-zero ids).
 */
export function contextFrom(traceparent: string | undefined): Context {
  if (!traceparent) return ROOT_CONTEXT;
  const m = TRACEPARENT.exec(traceparent);
  // Version ff is invalid; version 00 has exactly four fields.
  if (!m || m[1] === "ff" || (m[1] === "00" && m[5] !== undefined)) return ROOT_CONTEXT;
  const parent = { traceId: m[2], spanId: m[3], traceFlags: parseInt(m[4], 16), isRemote: true };
  return isSpanContextValid(parent) ? trace.setSpanContext(ROOT_CONTEXT, parent) : ROOT_CONTEXT;
}

/** Common messaging attributes of a stream. */
export function streamAttributes(stream: string): Attributes {
  return { "messaging.system": SYSTEM, "messaging.destination.name": stream };
}
