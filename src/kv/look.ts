/**
 * The shapes one claim builds step by step (see claim.ts): what a look for work found, and what
 * its commit writes.
 *
 * @module
 */
import type { KeyHold, Lease } from "./keys.ts";
import type { KnownBucket } from "./keyhold.ts";

/** A delivery a look found. */
export interface Candidate {
  stream: string;
  seq: number;
  attempt: number;
  /** The event, when already read. */
  value?: unknown;
  has: boolean;
  /** A new event: where the group's cursor stands once it is taken. */
  to?: Cursor;
  /** The retry entry it comes from, when it is one. */
  entry?: Replaced;
  /** A redriven event: it takes its key again when claimed. */
  redriven?: true;
  /** An event parked behind this key, now its holder: its copy is read and deleted. */
  parked?: string;
}

/** A hold one claim writes (see keyhold.ts), in its bucket. */
export interface HoldPlan {
  stream: string;
  key: string;
  bucket: number;
  hold: KeyHold;
}

/** A bucket of holds one claim checks and writes: as known, and its holds once written. */
export interface BucketPlan {
  stream: string;
  bucket: number;
  base: KnownBucket;
  holds: Map<string, KeyHold>;
  /** About how many bytes it takes once written. */
  bytes: number;
}

/** An event one claim parks behind its key. */
export interface Parked {
  stream: string;
  key: string;
  seq: number;
  value: unknown;
}

/** What one look for work found, built up step by step and committed as one operation. */
export interface Look {
  now: number;
  /** When something known falls due. */
  wakeAt: number;
  /** When something known falls due, leaving out the next scans (see `ClaimLook.dueAt`). */
  dueAt: number;
  found: Candidate[];
  replaced: Replaced[];
  /** Candidates by `stream\0seq`, so a delivery is taken once. */
  taken: Set<string>;
  cursors: Map<string, { from: CursorState; to: Cursor }>;
  holds: Map<string, HoldPlan>;
  /** The buckets of those holds, by `stream\0bucket`. */
  buckets: Map<string, BucketPlan>;
  parked: Parked[];
  /** Parked copies of events handed out now, deleted with the claim. */
  unparked: Deno.KvKey[];
  /** What retention deleted before the group had it: counted and logged once committed. */
  trimmed: Trimmed[];
}

/** Events of a stream that retention deleted before a group handled them. */
export interface Trimmed {
  stream: string;
  /** New events after the group's cursor. */
  unread: number;
  /** Retries that were due and leases that expired. */
  due: number;
}

/** A lease one claim writes, keyed by its first sequence number. */
export interface NewLease {
  stream: string;
  first: number;
  lease: Lease;
}

/** A group's position on a stream, as stored: `[last seq taken, key to read on from]`. */
export type Cursor = [number, number];

export interface CursorState {
  /** The last sequence number taken. */
  seq: number;
  /** The key of the stored entry holding the next one (a chunk may be partly taken). */
  from: number;
  versionstamp: string | null;
}

/** An entry the claim replaces: a due retry, or an expired lease it takes (part of). */
export interface Replaced {
  key: Deno.KvKey;
  versionstamp: string;
  /** What is left of an expired lease after the claim took some of its deliveries. */
  rest?: Lease;
  restStream?: string;
}
