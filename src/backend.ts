/**
 * The contract between Herald's core and a storage backend. It is deliberately narrow: a
 * backend appends events, hands them out to consumer groups under leases, and records what
 * became of each delivery. Everything else (routing, validation, retry policy, middleware)
 * lives in the core and is the same on every backend.
 *
 * `Backend` is three small interfaces: {@linkcode Storage} (append, subscribe, claim, extend,
 * settle, close), `Inspector` (streams, groups, dead letters; see `inspect.ts`) and
 * {@linkcode Locks} (`tryLock`).
 *
 * Guarantees every backend gives, checked by the conformance suite in `./backend`:
 * - **Fan-out**: every group subscribed to a stream receives every event appended to it after
 *   its start position.
 * - **Load-sharing**: within a group, a delivery is leased to one consumer at a time; while the
 *   lease holds, no other consumer of the group is handed the same event.
 * - **At least once**: a delivery whose lease expires before it is settled is handed out again,
 *   with `attempt` one higher.
 * - **Order**: per stream, new events are handed out in append order.
 * - **Key order**: within a group, events of one stream with the same `key` are handed out one at
 *   a time, in append order, across every consumer of the group. An event holds its key from
 *   when it is claimed until it is acked or dead-lettered: a retry, an expired lease and a
 *   release keep holding it (it comes back before any later event of its key). A keyed event
 *   whose key is held is neither handed out nor lost: it waits, and other keys and unkeyed
 *   events flow past it; once the holder is acked or dead, the next event of the key is ready
 *   for any consumer. A redriven event takes its key again, waiting behind the holder if there
 *   is one. Events without a key are never held.
 * - **Atomic append**: `append` writes all of its events or none.
 * - Every method may be called concurrently with the others.
 *
 * @module
 */
import type { Envelope } from "./envelope.ts";
import type { SchemaIssue } from "./errors.ts";
import type { Inspector } from "./inspect.ts";
import type { Tracer } from "./trace.ts";

/** Where a new consumer group starts reading a stream. */
export type StartPosition = "earliest" | "latest" | Date;

/** An error as recorded with a retry or a dead letter. */
export interface ErrorInfo {
  /** The error's class name, such as `TypeError`. */
  name: string;
  /** Its message. */
  message: string;
  /** Its stack, when there was one. */
  stack?: string;
  /** Schema issues, when the event failed its contract. */
  issues?: SchemaIssue[];
}

/** One event handed to a consumer under a lease. */
export interface Delivery {
  /** The stream the event was read from. */
  readonly stream: string;
  /** A backend-made token naming this delivery and its lease; opaque to the core. */
  readonly ref: string;
  /** The event; `undefined` when the stored entry is not an envelope (see `malformed`). */
  readonly envelope?: Envelope;
  /** Why the stored entry could not be read as an envelope, and what it held. */
  readonly malformed?: { reason: string; raw: unknown };
  /** 1 on the first delivery; each retry or expired lease adds one. */
  readonly attempt: number;
}

/** What became of a delivery. */
export type Settlement =
  /** Handled: never deliver it to this group again. */
  | { delivery: Delivery; outcome: "ack" }
  /** Failed: deliver it again after `delayMs`, with `attempt` one higher. */
  | { delivery: Delivery; outcome: "retry"; delayMs: number; error: ErrorInfo }
  /** Failed for good: move it to the group's dead letters with the error. */
  | { delivery: Delivery; outcome: "dead"; error: ErrorInfo }
  /** Not started (the consumer is stopping): deliver it again at once, without counting it. */
  | { delivery: Delivery; outcome: "release" };

/** An event a group gave up on, kept for inspection and redrive. */
export interface DeadLetter {
  /** The dead letter's id within the group: the event id when the entry was an envelope. */
  readonly id: string;
  /** The group that gave up. */
  readonly group: string;
  /** The stream it came from. */
  readonly stream: string;
  /** The event, when the entry was one. */
  readonly envelope?: Envelope;
  /** The stored entry, when it was not an envelope. */
  readonly raw?: unknown;
  /** The last error. */
  readonly error: ErrorInfo;
  /** How many times it was delivered. */
  readonly attempts: number;
  /** When it was dead-lettered, as an RFC 3339 timestamp. */
  readonly at: string;
  /** Where it sits in the group's list (opaque): `DeadLetterQuery.after` reads on from it. */
  readonly cursor?: string;
}

/** What a backend can do beyond the guarantees every backend gives. */
export interface BackendFeatures {
  /** Consumers in separate OS processes can share a group. */
  readonly crossProcess: boolean;
  /** Events and group state survive a restart of the process. */
  readonly persistent: boolean;
  /**
   * The claim size this backend works best with, when a worker's `batch` is not set: Deno KV
   * pays a commit per claim (about a millisecond on a file), so it prefers bigger claims.
   */
  readonly claimBatch?: number;
  /**
   * How long a worker's claim waits for events when its `idleWaitMs` is not set: Deno KV wakes a
   * waiting claim at once when events come, and ends it when the worker stops, so one long wait
   * costs an idle worker less than a claim every second.
   */
  readonly claimWaitMs?: number;
}

/** Options of {@linkcode Storage.claim}. */
export interface ClaimOptions {
  /** The claiming consumer's name, unique within the group. */
  consumer: string;
  /** The most deliveries to return. */
  max: number;
  /** How long the consumer owns each delivery before another may take it, in milliseconds. */
  leaseMs: number;
  /** When nothing is ready, how long the backend may wait for something to arrive. */
  waitMs: number;
  /** Ends a wait early (the consumer is stopping); the claim then returns what it has. */
  signal?: AbortSignal;
}

/** Options of {@linkcode Storage.append}. */
export interface AppendOptions {
  /**
   * Skip events whose id this backend has appended before (the outbox relay sets it, because it
   * forwards at least once). Ids are remembered for at least a day.
   */
  dedupe?: boolean;
}

/**
 * Storage: appending events and handing them out to consumer groups under leases. See the module
 * doc for the guarantees; every method may be called concurrently with the others.
 */
export interface Storage {
  /** A short name for logs and errors, such as `kv` or `redis`. */
  readonly name: string;
  /** What this backend can do. */
  readonly features: BackendFeatures;
  /** Appends events to their streams, all or none. */
  append(events: readonly Envelope[], options?: AppendOptions): Promise<void>;
  /**
   * Creates the group on each stream if it does not exist yet, starting at `start`; an existing
   * group keeps its position.
   */
  subscribe(group: string, streams: readonly string[], start: StartPosition): Promise<void>;
  /**
   * Leases up to `max` deliveries to `consumer`: retries that are due, deliveries whose lease
   * expired, then new events, leaving out keyed events whose key is held (see "Key order" in the
   * module doc). When none is ready, waits up to `waitMs` for one.
   */
  claim(group: string, streams: readonly string[], options: ClaimOptions): Promise<Delivery[]>;
  /**
   * Extends the leases of deliveries still being handled.
   *
   * @returns the deliveries whose lease was already lost.
   */
  extend(group: string, deliveries: readonly Delivery[], leaseMs: number): Promise<Delivery[]>;
  /**
   * Records outcomes; a delivery whose lease was lost is left to its new owner. An ack or dead
   * letter frees the delivery's key, making the next event of that key ready.
   */
  settle(group: string, settlements: readonly Settlement[]): Promise<void>;
  /**
   * Optional: `consumer` stopped for good (a graceful stop, after its last settle). A backend
   * that keeps per-consumer state (Redis consumers) drops it where the consumer holds nothing;
   * what it still holds stays until another consumer takes it over.
   */
  leave?(group: string, streams: readonly string[], consumer: string): Promise<void>;
  /** Releases what the backend holds. Calls after it fail. */
  close(): Promise<void>;
}

/**
 * Named locks with an expiry, used to run each cron tick once across replicas.
 *
 * Guarantee: while a lock's `ttlMs` runs, `tryLock` gives it to one caller only, across every
 * process sharing the backend; after it, to the next caller.
 */
export interface Locks {
  /**
   * Takes a named lock for `ttlMs` if nobody holds it.
   *
   * @returns whether this caller got it.
   */
  tryLock(name: string, ttlMs: number): Promise<boolean>;
}

/**
 * A backend for Herald: {@linkcode Storage} for the core, {@linkcode Inspector} for operators
 * (dead letters, groups, streams), {@linkcode Locks} for cron, {@linkcode Tracer} for journeys. Every backend implements all four
 * and runs the conformance suite in `./backend`.
 */
export interface Backend extends Storage, Inspector, Locks, Tracer {}

/**
 * Optional capability of backends built on Deno KV: append events inside the caller's own atomic
 * operation, so they commit together with the caller's writes.
 */
export interface AtomicAppender {
  /**
   * Commits `build`'s mutations and the events in one atomic operation on `kv`. `build` may be
   * called more than once (the backend retries its own conflicts).
   *
   * @returns the commit result, or `"foreign"` when `kv` is not this backend's database.
   */
  appendAtomic(
    kv: Deno.Kv,
    build: (op: Deno.AtomicOperation) => void,
    events: readonly Envelope[],
  ): Promise<Deno.KvCommitResult | Deno.KvCommitError | "foreign">;
}

/** Tells whether a backend can append inside a caller's Deno KV atomic operation. */
export function isAtomicAppender(backend: Backend): backend is Backend & AtomicAppender {
  return typeof (backend as Partial<AtomicAppender>).appendAtomic === "function";
}

/** Turns anything thrown into the `ErrorInfo` kept with retries and dead letters. */
export function errorInfo(err: unknown): ErrorInfo {
  if (err instanceof Error) {
    const info: ErrorInfo = { name: err.name, message: err.message };
    if (err.stack) info.stack = err.stack;
    const issues = (err as { issues?: unknown }).issues;
    if (Array.isArray(issues)) info.issues = issues as ErrorInfo["issues"];
    return info;
  }
  return { name: "NonError", message: String(err) };
}
