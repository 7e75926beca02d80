/**
 * Herald's metrics in the Prometheus text format, through `prom-client` (loaded only when asked
 * for). Each isolate keeps its own registry; the service's isolate asks its worker's Web Worker
 * for that registry's metrics as JSON and aggregates them with its own (prom-client's
 * `AggregatorRegistry`, made for cluster workers), so one scrape shows both.
 *
 * @module
 */
import type { Counter, Gauge, Histogram, Registry } from "prom-client";
import { BUCKETS, type CounterKey, type GaugeKey, type HistogramKey, METRICS } from "./names.ts";

type PromClient = typeof import("prom-client");

/** One isolate's metrics as JSON (prom-client's `getMetricsAsJSON()`), as posted between isolates. */
export type PromJson = Awaited<ReturnType<Registry["getMetricsAsJSON"]>>;

/** This isolate's registry and its instruments, once enabled. */
export interface PromSink {
  readonly client: PromClient;
  readonly registry: Registry;
  readonly counters: Record<CounterKey, Counter>;
  readonly histograms: Record<HistogramKey, Histogram>;
  readonly gauges: Record<GaugeKey, Gauge>;
}

let sink: PromSink | undefined;
let enabling: Promise<PromSink> | undefined;

/** This isolate's Prometheus sink, when enabled. */
export function promSink(): PromSink | undefined {
  return sink;
}

/**
 * Starts recording into a Prometheus registry in this isolate (idempotent).
 *
 * @param refresh Called before each collection, to bring the gauges up to date.
 */
export function enablePrometheus(refresh: () => Promise<void>): Promise<PromSink> {
  let running: Promise<void> | undefined;
  const shared = () =>
    running ??= refresh().finally(() => {
      running = undefined;
    });
  enabling ??= (async () => {
    const client = (await import("prom-client")).default;
    const registry = new client.Registry();
    const registers = [registry];
    const counter = (k: CounterKey) =>
      new client.Counter({ name: M(k).prom, help: M(k).help, labelNames: M(k).labels, registers });
    const histogram = (k: HistogramKey) =>
      new client.Histogram({
        name: M(k).prom,
        help: M(k).help,
        labelNames: M(k).labels,
        buckets: [...BUCKETS],
        registers,
      });
    const gauges = {} as Record<GaugeKey, Gauge>;
    for (const k of ["lag", "pending", "dead", "oldestAge"] as const) {
      gauges[k] = new client.Gauge({
        name: M(k).prom,
        help: M(k).help,
        labelNames: M(k).labels,
        registers,
        // Across the isolates of one process: a group's age is the oldest, the rest add up.
        aggregator: k === "oldestAge" ? "max" : "sum",
        // prom-client collects metrics concurrently: every gauge waits for one shared refresh.
        collect: () => shared(),
      });
    }
    sink = {
      client,
      registry,
      counters: {
        sent: counter("sent"),
        consumed: counter("consumed"),
        handled: counter("handled"),
        redelivered: counter("redelivered"),
      },
      histograms: { processDuration: histogram("processDuration"), latency: histogram("latency") },
      gauges,
    };
    return sink;
  })();
  return enabling;
}

/** This isolate's metrics as JSON, to post to the isolate that serves `/metrics`. */
export async function promJson(): Promise<PromJson> {
  return sink ? await sink.registry.getMetricsAsJSON() : [];
}

/**
 * The Prometheus text of this isolate's metrics aggregated with those posted by others.
 *
 * @param others `promJson()` of other isolates (the worker's Web Worker).
 */
export async function promText(others: readonly PromJson[]): Promise<string> {
  const own = sink!;
  const all = [await own.registry.getMetricsAsJSON(), ...others.filter((o) => o.length > 0)];
  if (all.length === 1) return await own.registry.metrics();
  return await own.client.AggregatorRegistry.aggregate(all).metrics();
}

/** The content type of the Prometheus text format. */
export function promContentType(): string {
  return sink?.registry.contentType ?? "text/plain; version=0.0.4; charset=utf-8";
}

function M<K extends keyof typeof METRICS>(k: K): (typeof METRICS)[K] & { labels: string[] } {
  return { ...METRICS[k], labels: [...METRICS[k].labels] };
}
