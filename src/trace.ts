/**
 * Following one request across services: every event of a correlation id (found through an
 * index the backend writes with each append, never by scanning a stream), the causation tree
 * they form across streams, and what became of each event in every group of its stream.
 *
 * @module
 */
import type { ErrorInfo } from "./backend.ts";
import type { Envelope } from "./envelope.ts";
import { NotFoundError } from "./errors.ts";

/**
 * What became of an event in one group:
 * - `waiting`: appended after the group's position, not handed to it yet;
 * - `pending`: leased to a consumer now (`attempt` is the delivery's attempt);
 * - `retrying`: failed, waiting for its next attempt (`at`: when it is due);
 * - `handled`: the group moved past it and holds nothing of it: acknowledged;
 * - `dead`: the group gave up (`at`: when; `error`: why).
 */
export type ReachState = "waiting" | "pending" | "retrying" | "handled" | "dead";

/** One group an event reached, and where it stands there. */
export interface Reach {
  /** The consumer group. */
  group: string;
  /** Where the event stands in it. */
  state: ReachState;
  /** The attempt in flight (`pending`), the last one made (`retrying`), or all made (`dead`). */
  attempt?: number;
  /** When it was dead-lettered (`dead`) or when its next attempt is due (`retrying`). */
  at?: string;
  /** The last error (`dead`, and `retrying` when the backend kept it). */
  error?: ErrorInfo;
}

/** One event of a correlation, as {@linkcode Tracer.trace} finds it. */
export interface TracedEvent {
  /** The event. */
  envelope: Envelope;
  /** Its position in its stream (opaque). */
  position: string;
  /** Every group of its stream, and where the event stands there. */
  reached: Reach[];
}

/** Options of {@linkcode Tracer.trace}. */
export interface TraceOptions {
  /** The most events to return. @default 1000 */
  limit?: number;
}

/** The events of one correlation, found through the correlation index. */
export interface Trace {
  /** The correlation id the events share. */
  correlationId: string;
  /** Its events still in their streams, in publish order (by id). */
  events: TracedEvent[];
  /** Whether more events than `limit` share the correlation id. */
  truncated: boolean;
}

/**
 * Finding the events of a request. A backend made with `journeys: true` writes an index entry by
 * correlation id in the same atomic operation as each append, and a second one by event id for
 * events that do not start their chain; the index is trimmed with the stream (see
 * docs/operate.md). Without it, `trace()` rejects with {@linkcode journeysOff}'s error.
 */
export interface Tracer {
  /**
   * The events sharing `id`'s correlation: `id` is a correlation id, or the id of any event of
   * the chain. Unknown ids give no events.
   */
  trace(id: string, options?: TraceOptions): Promise<Trace>;
}

/**
 * The error `trace()` rejects with on a backend made without `journeys: true`: a
 * `NotFoundError` (`what` is `journeys`), so the admin API answers 404 with its message and
 * `herald trace` exits 3.
 *
 * @param backend The backend's name, for the message.
 */
export function journeysOff(backend: string): NotFoundError {
  return new NotFoundError(
    "journeys",
    `Journeys are off: the ${backend} backend was made without journeys: true, so no ` +
      "correlation index is written and no request can be followed. Turn it on in the " +
      "backend's options (it costs publish throughput, see docs/operate.md).",
  );
}

/** The default and the largest `limit` of a trace. */
export const TRACE_LIMIT = 1_000;

/** One node of a {@linkcode Journey}: an event, the groups it reached, what it caused. */
export interface JourneyNode extends TracedEvent {
  /** Milliseconds from the root event's publish to this one's. */
  sincePublishMs: number;
  /** Milliseconds from its cause's publish to its own (how long the cause's handler took). */
  afterCauseMs?: number;
  /** The events its handlers published, in publish order. */
  caused: JourneyNode[];
}

/** The causation tree of one request, across streams. */
export interface Journey {
  /** The correlation id. */
  correlationId: string;
  /** The events with no cause in the trace (normally one: the request's first event). */
  roots: JourneyNode[];
  /** How many events the journey holds. */
  count: number;
  /** Whether the index held more events than were read. */
  truncated: boolean;
}

/**
 * Builds the causation tree from a trace: each event under the event whose id is its
 * `causationid`; an event whose cause is not in the trace (trimmed, or never indexed) is a root.
 *
 * @param trace What {@linkcode Tracer.trace} found.
 * @returns The journey.
 *
 * @example Building the tree of a traced request
 * ```ts
 * import { z } from "zod";
 * import { createBus, createMemoryBackend, defineEvent, journey } from "@herald/herald";
 *
 * const Placed = defineEvent({
 *   stream: "orders",
 *   type: "order.placed",
 *   schema: z.object({ n: z.number() }),
 * });
 * const backend = createMemoryBackend({ journeys: true });
 * const bus = createBus({ backend, source: "shop" });
 * const envelope = await bus.publish(Placed, { n: 1 });
 * const tree = journey(await backend.trace(envelope.id));
 * console.log(tree.roots[0].envelope.type); // "order.placed"
 * await bus.close();
 * ```
 */
export function journey(trace: Trace): Journey {
  const events = [...trace.events].sort((a, b) => (a.envelope.id < b.envelope.id ? -1 : 1));
  const nodes = new Map<string, JourneyNode>();
  for (const e of events) nodes.set(e.envelope.id, { ...e, sincePublishMs: 0, caused: [] });
  const roots: JourneyNode[] = [];
  for (const node of nodes.values()) {
    const cause = node.envelope.causationid ? nodes.get(node.envelope.causationid) : undefined;
    if (cause && cause !== node) {
      cause.caused.push(node);
      node.afterCauseMs = timeOf(node) - timeOf(cause);
    } else roots.push(node);
  }
  const start = Math.min(...roots.map(timeOf));
  for (const node of nodes.values()) node.sincePublishMs = timeOf(node) - start;
  return {
    correlationId: trace.correlationId,
    roots,
    count: nodes.size,
    truncated: trace.truncated,
  };
}

function timeOf(e: TracedEvent): number {
  const t = Date.parse(e.envelope.time);
  return Number.isNaN(t) ? 0 : t;
}

/** Checks a trace's limit. */
export function traceLimit(options: TraceOptions | undefined): number {
  const limit = options?.limit ?? TRACE_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > TRACE_LIMIT) {
    throw new RangeError(`limit must be an integer from 1 to ${TRACE_LIMIT}`);
  }
  return limit;
}
