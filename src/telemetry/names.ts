/**
 * Herald's metrics, named once for both exports: the OpenTelemetry name (messaging semantic
 * conventions where one exists, `herald.*` otherwise) and the Prometheus name and labels.
 *
 * @module
 */

/** One metric as both exports name it. */
export interface MetricName {
  /** The OpenTelemetry instrument name. */
  otel: string;
  /** The Prometheus metric name. */
  prom: string;
  /** What it counts or measures. */
  help: string;
  /** The OpenTelemetry unit (UCUM). */
  unit: string;
  /** The Prometheus labels, in this order. */
  labels: readonly string[];
}

/** Latency buckets, in seconds (the semantic conventions' advice for messaging durations). */
export const BUCKETS: readonly number[] = [
  0.005,
  0.01,
  0.025,
  0.05,
  0.075,
  0.1,
  0.25,
  0.5,
  0.75,
  1,
  2.5,
  5,
  7.5,
  10,
];

/** Every counter and histogram Herald records, and the gauges it observes. */
export const METRICS = {
  sent: {
    otel: "messaging.client.sent.messages",
    prom: "messaging_client_sent_messages_total",
    help: "Events published (committed to the backend).",
    unit: "{message}",
    labels: ["stream"],
  },
  consumed: {
    otel: "messaging.client.consumed.messages",
    prom: "messaging_client_consumed_messages_total",
    help: "Deliveries handed to a handler.",
    unit: "{message}",
    labels: ["stream", "group"],
  },
  processDuration: {
    otel: "messaging.process.duration",
    prom: "messaging_process_duration_seconds",
    help: "How long handlers ran, by outcome.",
    unit: "s",
    labels: ["stream", "group", "outcome"],
  },
  handled: {
    otel: "herald.messages.handled",
    prom: "herald_messages_handled_total",
    help: "Deliveries settled, by outcome: ack, retry or dead.",
    unit: "{message}",
    labels: ["stream", "group", "outcome"],
  },
  redelivered: {
    otel: "herald.messages.redelivered",
    prom: "herald_messages_redelivered_total",
    help: "Deliveries after the first attempt of an event.",
    unit: "{message}",
    labels: ["stream", "group"],
  },
  latency: {
    otel: "herald.delivery.latency",
    prom: "herald_delivery_latency_seconds",
    help: "From an event's publish time to the start of its handler.",
    unit: "s",
    labels: ["stream", "group"],
  },
  lag: {
    otel: "herald.consumer.lag",
    prom: "herald_consumer_lag",
    help: "Events on the stream the group has not claimed yet.",
    unit: "{message}",
    labels: ["stream", "group"],
  },
  pending: {
    otel: "herald.consumer.pending",
    prom: "herald_consumer_pending",
    help: "Deliveries this instance holds leased (running or waiting for a slot).",
    unit: "{message}",
    labels: ["stream", "group"],
  },
  dead: {
    otel: "herald.dead_letters",
    prom: "herald_dead_letters",
    help: "Dead letters the group keeps (counted up to 1000).",
    unit: "{message}",
    labels: ["stream", "group"],
  },
  oldestAge: {
    otel: "herald.consumer.oldest_age",
    prom: "herald_consumer_oldest_age_seconds",
    help: "Age of the oldest event the group has not claimed yet.",
    unit: "s",
    labels: ["stream", "group"],
  },
} as const satisfies Record<string, MetricName>;

/** The key of a metric in {@linkcode METRICS}. */
export type MetricKey = keyof typeof METRICS;
/** The keys of the gauges. */
export type GaugeKey = "lag" | "pending" | "dead" | "oldestAge";
/** The keys of the counters. */
export type CounterKey = "sent" | "consumed" | "handled" | "redelivered";
/** The keys of the histograms. */
export type HistogramKey = "processDuration" | "latency";
