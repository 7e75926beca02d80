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
  type Meter,
  metrics,
  propagation,
  ProxyTracerProvider,
  ROOT_CONTEXT,
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

/** The W3C `traceparent` of `ctx`'s span, through the registered propagator. */
export function traceparentOf(ctx: Context): string | undefined {
  const carrier: { traceparent?: string } = {};
  propagation.inject(ctx, carrier);
  return carrier.traceparent;
}

/** The context a W3C `traceparent` names, as a parent for new spans. */
export function contextFrom(traceparent: string | undefined): Context {
  const root = ROOT_CONTEXT;
  if (!traceparent) return root;
  return propagation.extract(root, { traceparent });
}

/** Common messaging attributes of a stream. */
export function streamAttributes(stream: string): Attributes {
  return { "messaging.system": SYSTEM, "messaging.destination.name": stream };
}
