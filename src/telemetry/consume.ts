/**
 * The consumer side: a span per delivery (`process <stream>`, kind consumer, child of the
 * producer's context from the envelope's `traceparent`), the handler runs inside it (so
 * `ctx.publish` continues the trace), and its outcome is counted, logged and handed to hooks.
 *
 * @module
 */
import { type Context, context, type Span, SpanKind, trace } from "@opentelemetry/api";
import type { Backend, Delivery, Settlement } from "../backend.ts";
import type { Envelope } from "../envelope.ts";
import { idTime } from "../id.ts";
import type { WorkerErrorInfo, WorkerObserveOptions } from "./hooks.ts";
import { defaultLogger, type Logger } from "./log.ts";
import {
  addGaugeSource,
  count,
  type GaugeRow,
  record,
  recording,
  refreshGauges,
  type Series,
  series,
} from "./metrics.ts";
import { contextFrom, heraldMeter, heraldTracer, SYSTEM } from "./otel.ts";
import { failSpan } from "./publish.ts";

/** One delivery being observed. */
export interface Run {
  /** The consumer span, when tracing. */
  readonly span?: Span;
  /** The context the handler runs in, when tracing. */
  readonly ctx?: Context;
  /** When the handler started (`performance.now()`), when recording metrics. */
  readonly started: number;
}

/** How often a worker refreshes the gauges an OpenTelemetry meter reads, in milliseconds. */
const GAUGE_REFRESH_MS = 10_000;

interface StreamSeries {
  base: Series;
  outcomes: Map<string, Series>;
}

/** A worker's spans, metrics, logs and hooks. */
export class WorkerTelemetry {
  /** Where the worker logs. */
  readonly logger: Logger;
  readonly #options: WorkerObserveOptions;
  readonly #series = new Map<string, StreamSeries>();

  /**
   * @param group The consumer group.
   * @param options The worker's logger and hooks.
   * @param busLogger The bus's logger, used when the worker has none.
   */
  constructor(readonly group: string, options: WorkerObserveOptions, busLogger?: Logger) {
    this.#options = options;
    this.logger = options.logger ?? busLogger ?? defaultLogger("herald");
  }

  /** Starts observing a delivery whose handler starts now; `undefined` when nothing records. */
  begin(event: Envelope, attempt: number): Run | undefined {
    const tracer = heraldTracer();
    const metrics = recording();
    if (!tracer && !metrics) return undefined;
    if (metrics) {
      const s = this.#stream(event.stream).base;
      count("consumed", s);
      if (attempt > 1) count("redelivered", s);
      record("latency", s, Math.max(0, Date.now() - idTime(event.id)) / 1000);
    }
    if (!tracer) return { started: performance.now() };
    const parent = contextFrom(event.traceparent);
    const span = tracer.startSpan(`process ${event.stream}`, {
      kind: SpanKind.CONSUMER,
      attributes: {
        "messaging.system": SYSTEM,
        "messaging.operation.name": "process",
        "messaging.operation.type": "process",
        "messaging.destination.name": event.stream,
        "messaging.consumer.group.name": this.group,
        "messaging.message.id": event.id,
        "messaging.message.conversation_id": event.correlationid,
        "herald.event.type": event.type,
        "herald.attempt": attempt,
      },
    }, parent);
    return { span, ctx: trace.setSpan(parent, span), started: performance.now() };
  }

  /** Runs `fn` (the handler) inside the delivery's span, when there is one. */
  within<T>(run: Run | undefined, fn: () => T): T {
    return run?.ctx ? context.with(run.ctx, fn) : fn();
  }

  /** Records a delivery's outcome: span, metrics, and for retries and dead letters a log line and a hook. */
  settled(settlement: Settlement, run?: Run): void {
    const outcome = settlement.outcome;
    if (outcome === "release") return run?.span?.end();
    if (run?.span) {
      run.span.setAttribute("herald.outcome", outcome);
      if (outcome !== "ack") failSpan(run.span, settlement.error);
      run.span.end();
    }
    if ((run || outcome !== "ack") && recording()) {
      const s = this.#outcome(settlement.delivery.stream, outcome);
      count("handled", s);
      if (run) record("processDuration", s, (performance.now() - run.started) / 1000);
    }
    // In the delivery's span, so that JSON log lines carry its trace and span ids.
    if (outcome === "retry") this.within(run, () => this.#retried(settlement));
    else if (outcome === "dead") this.within(run, () => this.#dead(settlement));
  }

  /** Ends the span of a delivery that ended without an outcome (its lease was lost). */
  abandoned(run: Run | undefined, err: unknown): void {
    if (!run?.span) return;
    run.span.setAttribute("herald.outcome", "lease_lost");
    failSpan(run.span, err);
    run.span.end();
  }

  /**
   * Reports the group's gauges (lag, oldest age, dead letters, and what this instance holds)
   * until the returned function is called. With an OpenTelemetry meter, refreshes them on a timer.
   *
   * @param backend The worker's backend.
   * @param streams The streams the group reads.
   * @param held The deliveries this instance holds now.
   */
  watch(backend: Backend, streams: readonly string[], held: () => Delivery[]): () => void {
    const group = this.group;
    const remove = addGaugeSource(async () => {
      const rows = new Map<string, GaugeRow>();
      for (const stream of streams) {
        rows.set(stream, { stream, group, values: { pending: 0, dead: 0 } });
      }
      for (const d of held()) {
        const v = rows.get(d.stream)?.values;
        if (v) v.pending = (v.pending ?? 0) + 1;
      }
      // The Inspector, once per stream: lag, the oldest waiting event, the group's dead letters.
      await Promise.all([...rows.values()].map(async (row) => {
        const info = (await backend.groups(row.stream)).find((g) => g.group === group);
        row.values.lag = info?.lag ?? 0;
        row.values.oldestAge = (info?.oldestWaitingMs ?? 0) / 1000;
        row.values.dead = info?.deadLetters ?? 0;
      }));
      return [...rows.values()];
    });
    if (!heraldMeter()) return remove;
    const refresh = () => void refreshGauges();
    refresh();
    const timer = setInterval(refresh, GAUGE_REFRESH_MS);
    return () => {
      clearInterval(timer);
      remove();
    };
  }

  /** The worker's own work failed: logged at warn, and handed to `onError`. */
  failed(during: WorkerErrorInfo["during"], message: string, err: unknown, fields = {}): void {
    this.logger.warn(message, { group: this.group, ...fields, error: err });
    this.#hook("onError", { group: this.group, during, error: err });
  }

  #retried(s: Extract<Settlement, { outcome: "retry" }>): void {
    const event = s.delivery.envelope!;
    this.logger.warn("handler failed, retrying", {
      event: event.id,
      type: event.type,
      group: this.group,
      attempt: s.delivery.attempt,
      retry_in_ms: s.delayMs,
      error: s.error,
    });
    this.#hook("onRetry", {
      event,
      group: this.group,
      attempt: s.delivery.attempt,
      delayMs: s.delayMs,
      error: s.error,
    });
  }

  #dead(s: Extract<Settlement, { outcome: "dead" }>): void {
    const event = s.delivery.envelope;
    this.logger.warn("event dead-lettered", {
      event: event?.id,
      type: event?.type,
      stream: s.delivery.stream,
      group: this.group,
      attempt: s.delivery.attempt,
      error: s.error,
    });
    this.#hook("onDead", {
      event,
      stream: s.delivery.stream,
      group: this.group,
      attempt: s.delivery.attempt,
      error: s.error,
    });
  }

  // A hook that throws (or rejects) is logged; it never changes the delivery's outcome.
  #hook<K extends "onRetry" | "onDead" | "onError">(
    name: K,
    info: Parameters<NonNullable<WorkerObserveOptions[K]>>[0],
  ): void {
    const hook = this.#options[name] as ((i: typeof info) => unknown) | undefined;
    if (!hook) return;
    const fail = (err: unknown) =>
      this.logger.error(`${name} hook failed`, { group: this.group, error: err });
    try {
      const result = hook(info);
      if (result instanceof Promise) result.catch(fail);
    } catch (err) {
      fail(err);
    }
  }

  #stream(stream: string): StreamSeries {
    let s = this.#series.get(stream);
    if (!s) {
      s = { base: series({ stream, group: this.group }), outcomes: new Map() };
      this.#series.set(stream, s);
    }
    return s;
  }

  #outcome(stream: string, outcome: string): Series {
    const s = this.#stream(stream);
    let o = s.outcomes.get(outcome);
    if (!o) s.outcomes.set(outcome, o = series({ stream, group: this.group, outcome }));
    return o;
  }
}
