/**
 * The key layout of the Deno KV backend, and the shapes of the values stored under it. Every
 * key starts with `"herald"`, so a service may keep its own data in the same database.
 *
 * - `["herald", "seq", stream]` → number: the last sequence number given out on the stream.
 * - `["herald", "ev", stream, seq]` → the envelope appended as number `seq`.
 * - `["herald", "end", stream, seq]` → {@linkcode EntryEnd}: where the chunk stored under
 *   `["herald", "ev", stream, seq]` ends, written with it, so that retention need not read its
 *   events (a single event has none: reading it costs little beside its append).
 * - `["herald", "cur", group, stream]` → number: the last sequence number the group took as new.
 * - `["herald", "lease", group, stream, firstSeq, token]` → {@linkcode Lease}: one lease for
 *   the deliveries one claim handed out together (one write per batch, not per event).
 * - `["herald", "retry", group, stream, dueMs, seq]` → {@linkcode RetryEntry}.
 * - `["herald", "dead", group, id]` → {@linkcode DeadEntry}.
 * - `["herald", "hold", group, stream, bucket]` → {@linkcode HoldBucket}: the keys held in a
 *   group whose hash falls in the bucket, each with its {@linkcode KeyHold} (see "Key order" in
 *   `backend.ts`). Holds share a few entries so a claim or settlement of many keys checks a few
 *   versionstamps, not one per key.
 * - `["herald", "park", group, stream, key, seq]` → the envelope of an event waiting for its key;
 *   the claim that hands it out deletes it.
 * - `["herald", "dedupe", eventId]` → 1, expiring after a day.
 * - `["herald", "lock", name]` → {@linkcode LockEntry}, expiring with the lock.
 * - `["herald", "corr", correlationId, eventId]` → `[stream, seq]`: the correlation index, written
 *   with the append and deleted when retention trims the event.
 * - `["herald", "cev", eventId]` → correlation id, for events that do not start their chain.
 * - `["herald", "due", dueMs, eventId]` → the envelope of a delayed event, until it is due.
 * - `["herald", "sched", eventId]` → dueMs: where a delayed event waits, to cancel it by id.
 * - `["herald", "promote"]` → the time of the last promotion or cancel: each checks and sets it,
 *   so that a promotion commits only if no other promotion or cancel committed since it read.
 *
 * @module
 */
import type { ErrorInfo } from "../backend.ts";
import type { Envelope } from "../envelope.ts";

const P = "herald";

/** The highest sequence number a range read goes up to. */
export const MAX_SEQ = Number.MAX_SAFE_INTEGER;

/** The lease of deliveries handed out together: who holds it, until when, which attempt. */
export interface Lease {
  /** Random token of the claim that made it; settling needs the same token. */
  t: string;
  /** Expiry, in milliseconds since the epoch. */
  u: number;
  /** The attempt number handed out with it. */
  a: number;
  /** The consumer that holds it. */
  c: string;
  /** The sequence numbers of its deliveries not settled yet, ascending. */
  m: number[];
}

/** A delivery waiting to be handed out again. */
export interface RetryEntry {
  /** The attempt number of the last delivery; the next one gets `a + 1`. */
  a: number;
  /** The error that caused the retry. */
  e?: ErrorInfo;
  /** A copy of the event (set by redrive, since retention may have trimmed the original). */
  env?: Envelope;
  /** A copy of a malformed entry (set by redrive). */
  raw?: unknown;
  /** Set when the copy is a malformed entry. */
  m?: true;
  /** Set by redrive: the event takes its key again (or waits behind it) when claimed. */
  r?: true;
  /** Set when the event was parked behind this key: its copy is under `parkKey`. */
  p?: string;
}

/** A key held in a group: by which event, and how many events of the key are parked. */
export interface KeyHold {
  /** The sequence number of the event holding the key. */
  s: number;
  /** How many events wait under `parkPrefix` for the key. */
  w: number;
  /**
   * The sequence numbers of the first of them, ascending (up to `QUEUE_MAX` in keyhold.ts):
   * freeing the key needs no read while they last.
   */
  q?: number[];
}

/** The holds of the keys of one bucket, by key. */
export type HoldBucket = Record<string, KeyHold>;

/** A dead letter as stored. */
export interface DeadEntry {
  id: string;
  stream: string;
  seq: number;
  envelope?: Envelope;
  raw?: unknown;
  error: ErrorInfo;
  attempts: number;
  at: string;
}

/** A named lock. */
export interface LockEntry {
  /** Expiry, in milliseconds since the epoch. */
  u: number;
}

export const seqKey = (stream: string): Deno.KvKey => [P, "seq", stream];
export const eventPrefix = (stream: string): Deno.KvKey => [P, "ev", stream];
export const eventKey = (stream: string, seq: number): Deno.KvKey => [P, "ev", stream, seq];
export const endPrefix = (stream: string): Deno.KvKey => [P, "end", stream];
export const endKey = (stream: string, seq: number): Deno.KvKey => [P, "end", stream, seq];

/**
 * Where a chunk ends: its last sequence number, the time of its newest event (ms since the epoch;
 * `-Infinity` when unreadable), and `1` when the append also wrote the chunk's events into the
 * correlation index.
 */
export type EntryEnd = [last: number, newest: number, indexed?: 1];

export const cursorKey = (group: string, stream: string): Deno.KvKey => [P, "cur", group, stream];
export const leasePrefix = (group: string, stream: string): Deno.KvKey => [
  P,
  "lease",
  group,
  stream,
];
export const leaseKey = (
  group: string,
  stream: string,
  firstSeq: number,
  token: string,
): Deno.KvKey => [P, "lease", group, stream, firstSeq, token];
export const retryPrefix = (group: string, stream: string): Deno.KvKey => [
  P,
  "retry",
  group,
  stream,
];
export const retryKey = (group: string, stream: string, due: number, seq: number): Deno.KvKey => [
  P,
  "retry",
  group,
  stream,
  due,
  seq,
];
export const deadPrefix = (group: string): Deno.KvKey => [P, "dead", group];
export const deadKey = (group: string, id: string): Deno.KvKey => [P, "dead", group, id];
export const holdKey = (group: string, stream: string, bucket: number): Deno.KvKey => [
  P,
  "hold",
  group,
  stream,
  bucket,
];
export const parkPrefix = (group: string, stream: string, key: string): Deno.KvKey => [
  P,
  "park",
  group,
  stream,
  key,
];
export const parkKey = (group: string, stream: string, key: string, seq: number): Deno.KvKey => [
  P,
  "park",
  group,
  stream,
  key,
  seq,
];
export const dedupeKey = (id: string): Deno.KvKey => [P, "dedupe", id];
export const lockKey = (name: string): Deno.KvKey => [P, "lock", name];
export const corrPrefix = (correlationId: string): Deno.KvKey => [P, "corr", correlationId];
export const corrKey = (correlationId: string, eventId: string): Deno.KvKey => [
  P,
  "corr",
  correlationId,
  eventId,
];
export const duePrefix: Deno.KvKey = [P, "due"];
export const dueKey = (dueMs: number, id: string): Deno.KvKey => [P, "due", dueMs, id];
export const promoteKey: Deno.KvKey = [P, "promote"];
export const schedKey = (id: string): Deno.KvKey => [P, "sched", id];
export const causedKey = (eventId: string): Deno.KvKey => [P, "cev", eventId];

/** The correlation index's entries for an event numbered `seq`. */
export function indexWrites(e: Envelope, seq: number): [Deno.KvKey, unknown][] {
  const writes: [Deno.KvKey, unknown][] = [[corrKey(e.correlationid, e.id), [e.stream, seq]]];
  if (e.correlationid !== e.id) writes.push([causedKey(e.id), e.correlationid]);
  return writes;
}

/** The keys {@linkcode indexWrites} wrote for an event. */
export function indexKeys(e: Envelope): Deno.KvKey[] {
  const keys = [corrKey(e.correlationid, e.id)];
  if (e.correlationid !== e.id) keys.push(causedKey(e.id));
  return keys;
}

/** What a delivery's ref names: its lease, its event, and the claim's token. */
export interface Ref {
  /** The lease's key part: the first sequence number it was written with. */
  lease: number;
  /** The event's sequence number. */
  seq: number;
  /** The claim's token. */
  token: string;
}

/** Makes a delivery's opaque ref. */
export function makeRef(lease: number, seq: number, token: string): string {
  return `${lease}:${seq}:${token}`;
}

/** Reads a ref back; `undefined` when it was not made by {@linkcode makeRef}. */
export function parseRef(ref: string): Ref | undefined {
  if (typeof ref !== "string") return undefined;
  const [lease, seq, token] = ref.split(":");
  const l = Number(lease);
  const s = Number(seq);
  if (!Number.isSafeInteger(l) || !Number.isSafeInteger(s) || !token) return undefined;
  return { lease: l, seq: s, token };
}

/** A random lease token: 64 bits, so a stale consumer cannot guess its successor's. */
export function newToken(): string {
  const b = new Uint32Array(2);
  crypto.getRandomValues(b);
  return b[0].toString(36) + b[1].toString(36);
}

/** The dead-letter id of a malformed entry, which has no event id of its own. */
export function malformedId(stream: string, seq: number): string {
  return `malformed:${stream}:${seq}`;
}
