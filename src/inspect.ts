/**
 * The inspection and control contract of a backend: what an operator needs to see and steer
 * streams, consumer groups and dead letters. The admin HTTP API, the CLI and the dashboard are
 * thin layers over it, so they behave the same on every backend.
 *
 * Positions (`StreamEvent.position`, `GroupInfo.position`, `DeadLetter.cursor`) are opaque
 * strings a backend makes: pass them back as they are.
 *
 * @module
 */
import type { DeadLetter } from "./backend.ts";
import type { Envelope } from "./envelope.ts";
import { NotFoundError } from "./errors.ts";
import { idTime } from "./id.ts";

/**
 * Where to read a stream from, or where to reset a group to: its first event kept, its end, the
 * first event at or after a time, or one event by its id.
 */
export type Position = "earliest" | "latest" | Date | { eventId: string };

/** How long a stream keeps its events. */
export interface Retention {
  /** Events older than this are trimmed, in milliseconds. */
  maxAgeMs?: number;
  /** At most this many events are kept. */
  maxLength?: number;
}

/** One stream, as {@linkcode Inspector.streams} lists it. */
export interface StreamInfo {
  /** The stream's name. */
  stream: string;
  /** How many events it holds now. */
  length: number;
  /** The time of its first event kept, as an RFC 3339 timestamp. */
  firstTime?: string;
  /** The time of its last event. */
  lastTime?: string;
  /** Its retention; absent when it keeps everything. */
  retention?: Retention;
}

/** A consumer of a group. */
export interface ConsumerInfo {
  /** The consumer's name (a worker instance). */
  name: string;
  /** When it last claimed, as an RFC 3339 timestamp, when the backend knows. */
  lastSeen?: string;
}

/** One consumer group on one stream, as {@linkcode Inspector.groups} lists it. */
export interface GroupInfo {
  /** The group's name. */
  group: string;
  /** The stream. */
  stream: string;
  /**
   * The position of the last event before where the group reads next (opaque); `null` when it
   * reads from the start of the stream.
   */
  position: string | null;
  /** Events appended after the position: not yet handed to the group. */
  lag: number;
  /** Events handed out and not settled yet: leased, waiting for a retry, or released. */
  pending: number;
  /** How long ago the oldest pending event was appended, in milliseconds; absent with none. */
  oldestPendingMs?: number;
  /**
   * How long ago the oldest event not yet handed to the group (the first of `lag`) was appended,
   * in milliseconds; absent when `lag` is 0.
   */
  oldestWaitingMs?: number;
  /** The group's consumers. */
  consumers: ConsumerInfo[];
  /** How many dead letters the group holds (over every stream it reads). */
  deadLetters: number;
}

/** Which dead letters {@linkcode Inspector.deadLetters} lists, and how many. */
export interface DeadLetterQuery {
  /** The most to return. */
  limit?: number;
  /** Start after this `DeadLetter.cursor` (the next page). */
  after?: string;
  /** Only events of this type. */
  type?: string;
  /** Only those whose last error has this name, such as `ValidationError`. */
  errorName?: string;
  /** Only those dead-lettered at or after this time. */
  since?: Date;
  /** Only those dead-lettered before this time. */
  until?: Date;
}

/** Which dead letters {@linkcode Inspector.purgeDeadLetters} deletes. */
export interface PurgeOptions {
  /** Only these dead letters, by id. */
  ids?: readonly string[];
  /** Only those dead-lettered before this time. */
  before?: Date;
}

/** Options of {@linkcode Inspector.peek}. */
export interface PeekOptions {
  /** Where to start when `after` is not given. @default "earliest" */
  from?: Position;
  /** Continue after this position (a page's `next`). */
  after?: string;
  /** The most events to return. @default 50 */
  limit?: number;
}

/** One stored entry of a stream, read without claiming it. */
export interface StreamEvent {
  /** Where it sits in the stream (opaque). */
  position: string;
  /** The event, when the entry is one. */
  envelope?: Envelope;
  /** The stored entry, when it is not an envelope. */
  raw?: unknown;
}

/** A page of a stream's events. */
export interface PeekPage {
  /** The events, in stream order. */
  events: StreamEvent[];
  /** Pass as `after` to read on; at the end of the stream, ask again later for new events. */
  next: string;
}

/**
 * Seeing and steering streams, groups and dead letters, on any backend.
 *
 * Guarantees:
 * - Reading (`streams`, `groups`, `deadLetters`, `peek`) claims nothing and changes nothing;
 *   numbers are a snapshot that may be a moment old when it returns.
 * - `redrive` moves each dead letter once, even when called concurrently; a redriven event is
 *   delivered again with attempt 1.
 * - `purgeDeadLetters` and `deleteGroup` delete for good.
 * - `resetGroup` moves where the group reads new events next; deliveries already pending stay
 *   pending. Stop a group's workers before deleting it: a worker still running recreates it.
 * - Unknown streams and groups read as empty; an event id that cannot be found throws
 *   {@linkcode NotFoundError}.
 *
 * @example Finding groups that fall behind, and replaying one from an hour ago
 * ```ts
 * import { createBus, createMemoryBackend } from "@herald/herald";
 *
 * const bus = createBus({ backend: createMemoryBackend(), source: "ops" });
 * await bus.backend.subscribe("search", ["posts"], "earliest");
 * for (const g of await bus.backend.groups()) {
 *   if (g.lag > 1_000) console.log(`${g.group} is ${g.lag} events behind on ${g.stream}`);
 * }
 * await bus.backend.resetGroup("search", "posts", new Date(Date.now() - 3_600_000));
 * await bus.close();
 * ```
 */
export interface Inspector {
  /** Lists the streams with their length, first and last event time and retention. */
  streams(): Promise<StreamInfo[]>;
  /** Lists the consumer groups of `stream`, or of every stream: position, lag, pending. */
  groups(stream?: string): Promise<GroupInfo[]>;
  /** Lists a group's dead letters, oldest first, a page at a time, filtered by `query`. */
  deadLetters(group: string, query?: DeadLetterQuery): Promise<DeadLetter[]>;
  /**
   * Moves dead letters back to be delivered again with a fresh attempt count: the ones named, or
   * all of the group's.
   *
   * @returns how many were moved.
   */
  redrive(group: string, ids?: readonly string[]): Promise<number>;
  /**
   * Deletes a group's dead letters: all of them, or those `options` selects.
   *
   * @returns how many were deleted.
   */
  purgeDeadLetters(group: string, options?: PurgeOptions): Promise<number>;
  /**
   * Deletes a group on `stream`, or on every stream, with its leases and retries; with every
   * stream, its dead letters too.
   *
   * @returns whether there was anything to delete.
   */
  deleteGroup(group: string, stream?: string): Promise<boolean>;
  /** Moves where `group` reads `stream` next: replay from a time or an event, or skip ahead. */
  resetGroup(group: string, stream: string, to: Position): Promise<void>;
  /** Reads a stream's events from a position, a page at a time, without claiming them. */
  peek(stream: string, options?: PeekOptions): Promise<PeekPage>;
}

/** Checks a {@linkcode Position} given by a caller. */
export function checkPosition(to: unknown): Position {
  if (to === "earliest" || to === "latest") return to;
  if (to instanceof Date && !Number.isNaN(to.getTime())) return to;
  if (
    typeof to === "object" && to !== null && typeof (to as { eventId?: unknown }).eventId ===
      "string" &&
    (to as { eventId: string }).eventId.length > 0
  ) return to as { eventId: string };
  throw new TypeError('A position must be "earliest", "latest", a valid Date or { eventId }');
}

/** Whether a dead letter passes a query's filters (not its paging). */
export function matchesQuery(d: DeadLetter, q: DeadLetterQuery): boolean {
  if (q.type !== undefined && d.envelope?.type !== q.type) return false;
  if (q.errorName !== undefined && d.error.name !== q.errorName) return false;
  const at = Date.parse(d.at);
  if (q.since !== undefined && !(at >= q.since.getTime())) return false;
  if (q.until !== undefined && !(at < q.until.getTime())) return false;
  return true;
}

/** Whether a purge's options select a dead letter. */
export function purgeSelects(d: DeadLetter, o: PurgeOptions): boolean {
  if (o.ids !== undefined && !o.ids.includes(d.id)) return false;
  if (o.before !== undefined && !(Date.parse(d.at) < o.before.getTime())) return false;
  return true;
}

/** How far before an event id's time a search for it starts: publishers' clocks differ. */
export const FIND_SKEW_MS = 60_000;
/** The most events a search for an event id reads before it gives up. */
export const FIND_MAX_EVENTS = 100_000;

/**
 * Finds an event by id through `peek`, starting a little before the time its id carries (ids are
 * time-sortable), and reading at most {@linkcode FIND_MAX_EVENTS}.
 *
 * @returns the position of the event.
 * @throws {NotFoundError} when it is not there.
 */
export async function findEvent(
  peek: (options: PeekOptions) => Promise<PeekPage>,
  stream: string,
  eventId: string,
): Promise<string> {
  const t = idTime(eventId);
  const plausible = Number.isFinite(t) && t > 0 && t < Date.now() + 365 * 86_400_000;
  let page = await peek({ from: plausible ? new Date(t - FIND_SKEW_MS) : "earliest", limit: 500 });
  let read = 0;
  while (page.events.length > 0 && read < FIND_MAX_EVENTS) {
    for (const e of page.events) {
      if (e.envelope?.id === eventId) return e.position;
    }
    read += page.events.length;
    page = await peek({ after: page.next, limit: 500 });
  }
  throw new NotFoundError("event", `No event "${eventId}" on stream "${stream}"`);
}
