/**
 * Records Herald's metrics into whatever listens in this isolate: the OpenTelemetry meter (when
 * a meter provider is registered, as with `OTEL_DENO=true`) and the Prometheus registry (when
 * `/metrics` is served). With neither, callers skip recording altogether (see `recording()`).
 *
 * @module
 */
import type {
  Attributes,
  Counter,
  Histogram,
  ObservableGauge,
  ObservableResult,
} from "@opentelemetry/api";
import { heraldMeter, SYSTEM } from "./otel.ts";
import { type CounterKey, type GaugeKey, type HistogramKey, METRICS } from "./names.ts";
import { enablePrometheus, promSink } from "./prometheus.ts";

/** A metric series: its Prometheus labels and OpenTelemetry attributes, made once and reused. */
export interface Series {
  /** Prometheus labels. */
  readonly labels: Readonly<Record<string, string>>;
  /** OpenTelemetry attributes. */
  readonly attrs: Attributes;
}

const ATTRIBUTE: Record<string, string> = {
  stream: "messaging.destination.name",
  group: "messaging.consumer.group.name",
  outcome: "herald.outcome",
};

/** Makes a series from its labels (`stream`, `group`, `outcome`). */
export function series(labels: Record<string, string>): Series {
  const attrs: Attributes = { "messaging.system": SYSTEM };
  for (const [k, v] of Object.entries(labels)) attrs[ATTRIBUTE[k] ?? k] = v;
  return { labels, attrs };
}

interface OtelInstruments {
  counters: Record<CounterKey, Counter>;
  histograms: Record<HistogramKey, Histogram>;
}

let otel: OtelInstruments | null | undefined;

function instruments(): OtelInstruments | null {
  if (otel !== undefined) return otel;
  const meter = heraldMeter();
  if (!meter) return otel = null;
  const c = (k: CounterKey) =>
    meter.createCounter(METRICS[k].otel, { description: METRICS[k].help, unit: METRICS[k].unit });
  const h = (k: HistogramKey) =>
    meter.createHistogram(METRICS[k].otel, {
      description: METRICS[k].help,
      unit: METRICS[k].unit,
    });
  return otel = {
    counters: {
      sent: c("sent"),
      consumed: c("consumed"),
      handled: c("handled"),
      redelivered: c("redelivered"),
    },
    histograms: { processDuration: h("processDuration"), latency: h("latency") },
  };
}

/** Tells whether anything records metrics in this isolate. */
export function recording(): boolean {
  return instruments() !== null || promSink() !== undefined;
}

/** Adds `n` to a counter. */
export function count(key: CounterKey, s: Series, n = 1): void {
  instruments()?.counters[key].add(n, s.attrs);
  promSink()?.counters[key].inc(s.labels, n);
}

/** Records a value (seconds) in a histogram. */
export function record(key: HistogramKey, s: Series, value: number): void {
  instruments()?.histograms[key].record(value, s.attrs);
  promSink()?.histograms[key].observe(s.labels, value);
}

/** One stream of one group, as the gauges report it. */
export interface GaugeRow {
  /** The stream. */
  stream: string;
  /** The consumer group. */
  group: string;
  /** Values known; a gauge left out is not reported for this row. */
  values: Partial<Record<GaugeKey, number>>;
}

/** Something that reports gauge rows: a running worker. */
export type GaugeSource = () => Promise<GaugeRow[]>;

const sources = new Set<GaugeSource>();
let rows: GaugeRow[] = [];
let observed = false;

/** Adds a gauge source until the returned function is called. */
export function addGaugeSource(source: GaugeSource): () => void {
  sources.add(source);
  observeGauges();
  return () => {
    sources.delete(source);
  };
}

/** Asks every source for its rows now, and keeps them for the gauges. */
export async function refreshGauges(): Promise<void> {
  const all = await Promise.all([...sources].map((s) => s().catch(() => [] as GaugeRow[])));
  rows = all.flat();
  const prom = promSink();
  if (!prom) return;
  for (const g of Object.values(prom.gauges)) g.reset();
  for (const row of rows) {
    const labels = { stream: row.stream, group: row.group };
    for (const [k, v] of Object.entries(row.values)) prom.gauges[k as GaugeKey].set(labels, v);
  }
}

/** Serves `/metrics` from this isolate from now on (see `prometheus.ts`). */
export function enablePromMetrics(): Promise<unknown> {
  return enablePrometheus(refreshGauges);
}

// The OpenTelemetry gauges read the rows the last refresh kept (a running worker refreshes them).
function observeGauges(): void {
  const meter = heraldMeter();
  if (observed || !meter) return;
  observed = true;
  for (const k of ["lag", "pending", "dead", "oldestAge"] as const) {
    const gauge: ObservableGauge = meter.createObservableGauge(METRICS[k].otel, {
      description: METRICS[k].help,
      unit: METRICS[k].unit,
    });
    gauge.addCallback((result: ObservableResult) => {
      for (const row of rows) {
        const v = row.values[k];
        if (v !== undefined) {
          result.observe(v, series({ stream: row.stream, group: row.group }).attrs);
        }
      }
    });
  }
}
