/**
 * A small OTLP/HTTP receiver (JSON encoding) on 127.0.0.1 for tests: it keeps the spans and the
 * metric data points that `OTEL_DENO=true` processes export to it.
 *
 * @module
 */

/** A span as received, with the service that sent it. */
export interface ReceivedSpan {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  attributes: Record<string, unknown>;
  status?: { code?: number; message?: string };
}

/** One data point of a metric, with the service that sent it. */
export interface ReceivedPoint {
  service: string;
  metric: string;
  attributes: Record<string, unknown>;
  /** The value of a sum or gauge point; the count of a histogram point. */
  value: number;
}

// deno-lint-ignore no-explicit-any
type Json = any;

/** OTLP/JSON attribute values, flattened. */
function attrs(list: Json[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const a of list ?? []) {
    const v = a.value ?? {};
    out[a.key] = v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : undefined) ??
      v.doubleValue ?? v.boolValue;
  }
  return out;
}

/** Runs the receiver until `close()`. */
export class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  readonly points: ReceivedPoint[] = [];
  readonly #server: Deno.HttpServer<Deno.NetAddr>;

  constructor() {
    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      (req) => this.#receive(req),
    );
  }

  /** The endpoint to put in `OTEL_EXPORTER_OTLP_ENDPOINT`. */
  get endpoint(): string {
    return `http://127.0.0.1:${this.#server.addr.port}`;
  }

  /** The environment that points a `deno serve` process here. */
  env(): Record<string, string> {
    return {
      OTEL_DENO: "true",
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      OTEL_EXPORTER_OTLP_ENDPOINT: this.endpoint,
      OTEL_METRIC_EXPORT_INTERVAL: "500",
      OTEL_BSP_SCHEDULE_DELAY: "200",
    };
  }

  async #receive(req: Request): Promise<Response> {
    const path = new URL(req.url).pathname;
    const body: Json = await req.json().catch(() => ({}));
    if (path === "/v1/traces") this.#traces(body);
    else if (path === "/v1/metrics") this.#metrics(body);
    return Response.json({});
  }

  #traces(body: Json): void {
    for (const rs of body.resourceSpans ?? []) {
      const service = String(attrs(rs.resource?.attributes)["service.name"]);
      for (const ss of rs.scopeSpans ?? []) {
        for (const s of ss.spans ?? []) {
          this.spans.push({
            service,
            traceId: s.traceId,
            spanId: s.spanId,
            parentSpanId: s.parentSpanId ?? "",
            name: s.name,
            kind: s.kind,
            attributes: attrs(s.attributes),
            status: s.status,
          });
        }
      }
    }
  }

  #metrics(body: Json): void {
    for (const rm of body.resourceMetrics ?? []) {
      const service = String(attrs(rm.resource?.attributes)["service.name"]);
      for (const sm of rm.scopeMetrics ?? []) {
        for (const m of sm.metrics ?? []) {
          const points = m.sum?.dataPoints ?? m.gauge?.dataPoints ?? m.histogram?.dataPoints ?? [];
          for (const p of points) {
            const value = m.histogram ? Number(p.count) : Number(p.asInt ?? p.asDouble ?? 0);
            this.points.push({ service, metric: m.name, attributes: attrs(p.attributes), value });
          }
        }
      }
    }
  }

  /** The latest value of a metric for the series whose attributes include `match`. */
  latest(service: string, metric: string, match: Record<string, unknown>): number | undefined {
    let value: number | undefined;
    for (const p of this.points) {
      if (p.service !== service || p.metric !== metric) continue;
      if (Object.entries(match).every(([k, v]) => p.attributes[k] === v)) value = p.value;
    }
    return value;
  }

  /** Stops the receiver. */
  async close(): Promise<void> {
    await this.#server.shutdown();
  }
}
