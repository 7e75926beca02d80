/**
 * Settling and extending leases. Calls made meanwhile in this process are coalesced, and each
 * lease (one per claimed batch) is rewritten once per commit, checked by its versionstamp (known
 * without a read when this process wrote it) and its token, so a consumer that lost its lease
 * cannot settle or extend over the new owner.
 *
 * Settlements are held for a few milliseconds so that they ride in the next claim's commit (see
 * {@linkcode LeaseWriter.takeRider}): a busy consumer then makes one write per batch, not two,
 * which also halves its share of SQLite's lock contention with other processes.
 *
 * @module
 */
import type { Delivery, Settlement } from "../backend.ts";
import {
  deadKey,
  holdKey,
  type KeyHold,
  type Lease,
  leaseKey,
  parkPrefix,
  parseRef,
  type RetryEntry,
  retryKey,
} from "./keys.ts";
import {
  bucketBytes,
  bucketOf,
  type HoldBook,
  type KnownBucket,
  type KnownHold,
  QUEUE_MAX,
  readBuckets,
  writeBucket,
} from "./keyhold.ts";
import type { LeaseBook } from "./leases.ts";
import { deadEntry, deadSize, trimError } from "./dead_entry.ts";
import { countDead } from "./dead_bound.ts";
import { commit, getMany, type KvStats, list } from "./store.ts";

/**
 * Checks per atomic operation, within Deno KV's 100: one for each lease rewritten, and one for
 * each bucket of holds (see keyhold.ts) whose keys its acks and dead letters free.
 */
const CHUNK = 90;
/**
 * Bytes of dead letters per atomic operation: with the buckets of holds it may rewrite (see
 * `BUCKET_BYTES` in keyhold.ts), under Deno KV's 800 KiB.
 */
const DEAD_BYTES_PER_OP = 350_000;
/**
 * How long settlements wait for a claim to carry them before they are written alone, in ms. A
 * claim that loses its race to another consumer pauses (see `CONFLICT_PAUSE_MS` in claim.ts), so
 * the wait covers that pause: otherwise the settlements of every consumer but the winner are
 * written alone, one more commit each.
 */
export const HOLD_MS = 50;
/**
 * The longest a settle call is held, in ms: {@linkcode HOLD_MS}, or a little longer when a claim
 * that carried it lost its race and tries again soon.
 */
export const MAX_HOLD_MS = 100;
/**
 * The ack window: an outcome is committed within this long after the worker hands it over
 * (plus the commit itself), whether or not a claim follows to carry it. A settle call is held
 * at most {@linkcode MAX_HOLD_MS}, and a worker sends its next call once the one before is
 * written, so an outcome waits for at most two holds. A process killed with SIGKILL replays what was in
 * flight plus what it acked within this window.
 */
export const ACK_WINDOW_MS = 2 * MAX_HOLD_MS;
/** How much longer than a lost claim's pause its riders wait for the claim's next attempt. */
const RIDE_AGAIN_SLACK_MS = 10;
/** The most mutations settlements may add to a claim's commit (Deno KV allows 1,000 in all). */
const RIDER_MUTATIONS = 400;
/** The most bytes of dead letters settlements may add to a claim's commit. */
const RIDER_BYTES = 200_000;

/**
 * Settlements riding in a claim's commit: its checks and mutations, and what to do after.
 */
export interface Rider {
  /** Checks it adds. */
  checks: number;
  /** Adds its checks and mutations to the claim's operation (may run again on a retry). */
  build(op: Deno.AtomicOperation): void;
  /** The commit succeeded with `versionstamp`. */
  committed(versionstamp: string): void;
  /**
   * The commit failed. After a lost race, whose claim tries again in `nextAttemptInMs`, the
   * settlements wait for that attempt once more; otherwise they are written on their own.
   */
  failed(nextAttemptInMs?: number): void;
}

type Op =
  | {
    kind: "settle";
    group: string;
    settlements: readonly Settlement[];
    /** Set once a claim carrying it lost its race: it is not held back again. */
    rode?: true;
    resolve: (v: Delivery[]) => void;
    reject: (e: unknown) => void;
  }
  | {
    kind: "extend";
    group: string;
    deliveries: readonly Delivery[];
    leaseMs: number;
    resolve: (v: Delivery[]) => void;
    reject: (e: unknown) => void;
  };

/** What one flush changes in one lease. */
interface Change {
  group: string;
  stream: string;
  first: number;
  token: string;
  key: Deno.KvKey;
  settles: Map<number, Settlement>;
  extendTo?: number;
  extends: { seq: number; delivery: Delivery; lost: Delivery[] }[];
  versionstamp?: string;
  lease?: Lease;
  bytes: number;
  /** Keys its acks and dead letters free, by sequence number. */
  frees: Map<number, string>;
  /** The holds of those keys, as known before planning. */
  holds: Map<number, Free>;
}

/** What freeing a key involves: its hold, and the first event parked behind it. */
interface Free extends KnownHold {
  /** The parked events' numbers read, when the hold's own list ran out. */
  more?: number[];
}

/** Writes settlements and extensions; one per backend. */
export class LeaseWriter {
  #pending: Op[] = [];
  #flushing: Promise<void> | undefined;
  /** Settle calls held for a claim to carry. */
  #held: Op[] = [];
  /** When the oldest held call was made (performance.now()). */
  #heldSince = 0;
  #holdTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly kv: Deno.Kv,
    private readonly stats: KvStats,
    private readonly book: LeaseBook,
    private readonly holdBook: HoldBook,
    private readonly onRequeued: (group: string, stream: string) => void,
  ) {}

  /**
   * Records outcomes; settlements whose lease was lost are skipped. They are held up to
   * {@linkcode HOLD_MS} for a claim to carry, then written on their own.
   */
  async settle(group: string, settlements: readonly Settlement[]): Promise<void> {
    await new Promise<Delivery[]>((resolve, reject) => {
      if (this.#held.length === 0) this.#heldSince = performance.now();
      this.#held.push({ kind: "settle", group, settlements, resolve, reject });
      // Freeing a key is written at once: the key's next event waits for it, and a claim that
      // finds nothing else to take never commits to carry it.
      if (settlements.some(freesKey)) this.#release();
      else this.#holdTimer ??= setTimeout(() => this.#release(), HOLD_MS);
    });
  }

  /** Extends leases; returns the deliveries whose lease was lost. */
  extend(group: string, deliveries: readonly Delivery[], leaseMs: number): Promise<Delivery[]> {
    return new Promise((resolve, reject) => {
      this.#release(); // held settlements share this commit
      this.#enqueue({ kind: "extend", group, deliveries, leaseMs, resolve, reject });
    });
  }

  /** Writes what is held, and waits for writes in flight. */
  async idle(): Promise<void> {
    this.#release();
    while (this.#flushing) await this.#flushing;
  }

  /**
   * Hands the held settlements to a claim about to commit, when they can ride in its operation:
   * every lease they touch was written by this process (its versionstamp is known without a
   * read), none is among `avoid` (keys the claim itself changes), and they fit in `maxChecks`.
   */
  takeRider(maxChecks: number, avoid: ReadonlySet<string>): Rider | undefined {
    if (this.#held.length === 0) return undefined;
    const ops = this.#held;
    const { changes } = this.#changesOf(ops);
    if (changes.length === 0 || checksOf(changes) > maxChecks) return undefined;
    let mutations = 0;
    let bytes = 0;
    const buckets: Buckets = new Map();
    for (const c of changes) {
      const held = this.book.get(c.group, c.stream, c.first, c.token);
      if (!held || avoid.has(JSON.stringify(c.key))) return undefined;
      c.versionstamp = held.versionstamp;
      c.lease = held.lease;
      // Keys freed ride only when this process knows their holds and nothing is parked.
      for (const [seq, key] of c.frees) {
        const b = bucketOf(key);
        const bucket = this.holdBook.bucket(c.group, c.stream, b);
        const hold = bucket?.holds.get(key);
        if (!bucket || hold?.s !== seq || needsList(hold)) return undefined;
        if (avoid.has(JSON.stringify(holdKey(c.group, c.stream, b)))) return undefined;
        c.holds.set(seq, { versionstamp: bucket.versionstamp, hold });
        const id = bucketId(c.group, c.stream, b);
        if (!buckets.has(id)) bytes += bucketBytes(bucket.holds); // rewritten by the rider
        buckets.set(id, {
          group: c.group,
          stream: c.stream,
          bucket: b,
          base: bucket,
        });
      }
      mutations += c.settles.size + c.frees.size + 1;
      bytes += c.bytes;
    }
    if (mutations > RIDER_MUTATIONS || bytes > RIDER_BYTES) return undefined;
    const since = this.#heldSince;
    this.#held = [];
    clearTimeout(this.#holdTimer);
    this.#holdTimer = undefined;
    const plan = this.#plan(changes, Date.now(), buckets);
    return {
      checks: changes.length,
      build: plan.build,
      committed: (versionstamp) => {
        this.stats.carriedSettles += ops.length;
        this.#done(changes, plan, versionstamp);
        for (const op of ops) op.resolve([]);
      },
      failed: (nextAttemptInMs) => {
        // A hold of ours may be what failed the claim: read them when written.
        for (const b of buckets.values()) this.holdBook.forget(b.group, b.stream, b.bucket);
        // Held back once only: a check of ours that keeps failing must not fail claims.
        if (
          nextAttemptInMs === undefined || ops.some((op) => op.kind === "settle" && op.rode)
        ) {
          for (const op of ops) this.#enqueue(op);
          return;
        }
        // Until the claim's next attempt (its pause, plus a timer's lateness), and at least
        // what is left of the hold; never past MAX_HOLD_MS (the ack window rests on it).
        const elapsed = performance.now() - since;
        const left = Math.min(
          Math.max(HOLD_MS - elapsed, nextAttemptInMs + RIDE_AGAIN_SLACK_MS),
          MAX_HOLD_MS - elapsed,
        );
        if (left <= 0) {
          for (const op of ops) this.#enqueue(op);
          return;
        }
        for (const op of ops) if (op.kind === "settle") op.rode = true;
        if (this.#held.length === 0) this.#heldSince = since;
        else this.#heldSince = Math.min(this.#heldSince, since);
        this.#held.unshift(...ops);
        clearTimeout(this.#holdTimer);
        this.#holdTimer = setTimeout(() => this.#release(), left);
      },
    };
  }

  /** Moves held settlements to the write queue. */
  #release(): void {
    clearTimeout(this.#holdTimer);
    this.#holdTimer = undefined;
    if (this.#held.length === 0) return;
    const held = this.#held;
    this.#held = [];
    for (const op of held) this.#enqueue(op);
  }

  #enqueue(op: Op): void {
    this.#pending.push(op);
    this.#flushing ??= Promise.resolve().then(() => this.#flush());
  }

  async #flush(): Promise<void> {
    try {
      while (this.#pending.length > 0) {
        const ops = this.#pending.splice(0, 256);
        try {
          const lost = await this.#apply(ops);
          ops.forEach((op, i) => op.resolve(lost[i]));
        } catch (err) {
          if (ops.length === 1) {
            ops[0].reject(err);
            continue;
          }
          for (const op of ops) { // one bad call must not fail the others
            try {
              op.resolve((await this.#apply([op]))[0]);
            } catch (e) {
              op.reject(e);
            }
          }
        }
      }
    } finally {
      this.#flushing = undefined;
    }
  }

  /** Applies the calls; returns, per call, the deliveries whose lease was lost. */
  async #apply(ops: Op[]): Promise<Delivery[][]> {
    const { changes, lost } = this.#changesOf(ops);
    let chunk: Change[] = [];
    let bytes = 0;
    let checks = 0;
    for (const c of changes) {
      const full = checks + checksOf([c]) > CHUNK ||
        bytes + c.bytes > DEAD_BYTES_PER_OP ||
        chunk.some((o) => o.key === c.key); // parts of one lease go in turn
      if (chunk.length > 0 && full) {
        await this.#write(chunk);
        chunk = [];
        bytes = 0;
        checks = 0;
      }
      chunk.push(c);
      bytes += c.bytes;
      checks += checksOf([c]);
    }
    if (chunk.length > 0) await this.#write(chunk);
    return lost;
  }

  /** What the calls change, one entry per lease; and, per call, a list for lost deliveries. */
  #changesOf(ops: Op[]): { changes: Change[]; lost: Delivery[][] } {
    const changes = new Map<string, Change>();
    const lost: Delivery[][] = ops.map(() => []);
    const change = (group: string, d: Delivery) => {
      const ref = parseRef(d.ref);
      if (!ref) return undefined;
      const id = `${group}\u0000${d.stream}\u0000${ref.lease}\u0000${ref.token}`;
      let c = changes.get(id);
      if (!c) {
        c = {
          group,
          stream: d.stream,
          first: ref.lease,
          token: ref.token,
          key: leaseKey(group, d.stream, ref.lease, ref.token),
          settles: new Map(),
          extends: [],
          bytes: 0,
          frees: new Map(),
          holds: new Map(),
        };
        changes.set(id, c);
      }
      return { c, seq: ref.seq };
    };
    const now = Date.now();
    ops.forEach((op, i) => {
      if (op.kind === "settle") {
        for (const s of op.settlements) {
          const r = change(op.group, s.delivery);
          if (!r || r.c.settles.has(r.seq)) continue;
          r.c.settles.set(r.seq, s);
          const key = s.delivery.envelope?.key;
          if (typeof key === "string") {
            if (s.outcome === "ack" || s.outcome === "dead") r.c.frees.set(r.seq, key);
            else r.c.bytes += deadSize(s.delivery); // a retry keeps a copy (see #plan)
          }
          if (s.outcome === "dead") r.c.bytes += deadSize(s.delivery);
        }
      } else {
        for (const d of op.deliveries) {
          const r = change(op.group, d);
          if (!r) {
            lost[i].push(d);
            continue;
          }
          r.c.extendTo = Math.max(r.c.extendTo ?? 0, now + op.leaseMs);
          r.c.extends.push({ seq: r.seq, delivery: d, lost: lost[i] });
        }
      }
    });
    return { changes: [...changes.values()], lost };
  }

  async #write(changes: Change[]): Promise<void> {
    let unread: Change[] = [];
    for (const c of changes) {
      const held = this.book.get(c.group, c.stream, c.first, c.token);
      if (held) {
        c.versionstamp = held.versionstamp;
        c.lease = held.lease;
      } else unread.push(c);
    }
    let live = changes;
    for (let attempt = 0; attempt < 50; attempt++) {
      if (unread.length > 0) {
        const entries = await getMany<Lease>(this.stats, this.kv, unread.map((c) => c.key));
        unread.forEach((c, i) => {
          const e = entries[i];
          c.versionstamp = e.versionstamp ?? undefined;
          c.lease = e.value ?? undefined;
        });
      }
      live = live.filter((c) => {
        if (c.lease && c.lease.t === c.token) return true;
        this.book.delete(c.group, c.stream, c.first, c.token);
        for (const x of c.extends) x.lost.push(x.delivery);
        return false;
      });
      if (live.length === 0) return;
      // Writes of holds in this process take turns (see `HoldBook.lock`).
      const release = live.some((c) => c.frees.size > 0) ? await this.holdBook.lock() : undefined;
      try {
        const buckets = await this.#knowHolds(live, attempt > 0);
        const plan = this.#plan(live, Date.now(), buckets);
        const result = await commit(this.stats, this.kv, plan.build);
        if (result.ok) {
          this.#done(live, plan, result.versionstamp);
          return;
        }
      } finally {
        release?.();
      }
      unread = live; // a lease changed under us (taken over after expiry): read and redo
    }
    throw new Error(`Could not write settlements: too much contention`);
  }

  /** The checks and mutations that apply `changes` (whose leases are known), and their result. */
  #plan(changes: Change[], now: number, buckets: Buckets): Plan {
    const next = new Map<Change, Lease | null>();
    const requeued = new Set<Change>();
    const edits = new Map<string, Map<string, KeyHold | null>>();
    const ops: ((op: Deno.AtomicOperation) => void)[] = [];
    for (const c of changes) {
      const lease = c.lease!;
      const members = new Set(lease.m);
      const key = c.key;
      const versionstamp = c.versionstamp!;
      ops.push((op) => op.check({ key, versionstamp }));
      for (const [seq, s] of c.settles) {
        if (!members.delete(seq)) continue; // settled before, or taken over after expiry
        if (s.outcome === "retry" || s.outcome === "release") {
          requeued.add(c);
          const release = s.outcome === "release";
          const entry: RetryEntry = release
            ? { a: lease.a - 1 }
            : { a: lease.a, e: trimError(s.error) };
          // A keyed event keeps its key while it waits: a copy, so retention cannot lose it.
          const env = s.delivery.envelope;
          if (typeof env?.key === "string") entry.env = env;
          const k = retryKey(c.group, c.stream, release ? now : now + Math.max(0, s.delayMs), seq);
          ops.push((op) => op.set(k, entry));
        } else if (s.outcome === "dead") {
          const d = deadEntry(seq, s.delivery, lease.a, s.error);
          const k = deadKey(c.group, d.id);
          ops.push((op) => countDead(op.set(k, d), c.group, 1));
        }
        const free = c.frees.has(seq) && s.outcome !== "retry" && s.outcome !== "release"
          ? this.#free(c, seq, now, ops)
          : undefined;
        if (free) {
          const id = bucketId(c.group, c.stream, bucketOf(free.key));
          if (!edits.has(id)) edits.set(id, new Map());
          edits.get(id)!.set(free.key, free.hold);
          if (free.hold) requeued.add(c);
        }
      }
      if (members.size === 0) {
        ops.push((op) => op.delete(key));
        next.set(c, null);
      } else {
        const updated = { ...lease, m: [...members], u: c.extendTo ?? lease.u };
        ops.push((op) => op.set(key, updated));
        next.set(c, updated);
      }
    }
    const holds: Plan["holds"] = [];
    for (const [id, edit] of edits) {
      const { group, stream, bucket, base } = buckets.get(id)!;
      const after = new Map(base.holds);
      for (const [key, hold] of edit) {
        if (hold) after.set(key, hold);
        else after.delete(key);
      }
      const k = holdKey(group, stream, bucket);
      ops.push((op) => writeBucket(op, k, base, after));
      holds.push({ group, stream, bucket, holds: after });
    }
    return {
      next,
      requeued,
      holds,
      build: (op) => {
        for (const add of ops) add(op);
      },
    };
  }

  /**
   * Plans freeing the key that the event `seq` of `c` held: the hold goes, or passes to the
   * first event parked behind it, which becomes ready for any consumer (attempt 0, so it is
   * handed out as attempt 1). The hold's bucket is written once per plan (see `#plan`).
   *
   * @returns the key and its hold's new state (`null`: free), or `undefined` when the event did
   *   not hold its key.
   */
  #free(
    c: Change,
    seq: number,
    now: number,
    ops: ((op: Deno.AtomicOperation) => void)[],
  ): { key: string; hold: KeyHold | null } | undefined {
    const key = c.frees.get(seq)!;
    const known = c.holds.get(seq);
    if (!known?.hold || known.hold.s !== seq) return undefined;
    const queue = known.hold.q?.length ? known.hold.q : known.more ?? [];
    if (known.hold.w === 0 || queue.length === 0) return { key, hold: null };
    const [next, ...rest] = queue;
    const hold: KeyHold = { s: next, w: known.hold.w - 1, q: rest };
    const entry: RetryEntry = { a: 0, p: key };
    ops.push((op) => op.set(retryKey(c.group, c.stream, now, next), entry));
    return { key, hold };
  }

  /**
   * Learns the holds of the keys the changes free, and the event parked first behind each: from
   * what this process knows, or (with `read`, or when it knows nothing) read now.
   */
  async #knowHolds(changes: Change[], read: boolean): Promise<Buckets> {
    const buckets: Buckets = new Map();
    const toRead = new Map<string, { group: string; stream: string; bucket: number }>();
    for (const c of changes) {
      c.holds.clear();
      for (const [seq, key] of c.frees) {
        const b = bucketOf(key);
        const id = bucketId(c.group, c.stream, b);
        if (toRead.has(id)) continue;
        // Known to name another holder: this process's record is older than the event (handed
        // the key by another process), so read the bucket.
        const known = read ? undefined : this.holdBook.bucket(c.group, c.stream, b);
        if (known?.holds.get(key)?.s === seq) {
          buckets.set(id, { group: c.group, stream: c.stream, bucket: b, base: known });
        } else {
          buckets.delete(id);
          toRead.set(id, { group: c.group, stream: c.stream, bucket: b });
        }
      }
    }
    const byScope = Map.groupBy(toRead.values(), (r) => `${r.group}\u0000${r.stream}`);
    await Promise.all([...byScope.values()].map(async (rs) => {
      const { group, stream } = rs[0];
      const read = await readBuckets(this.kv, this.stats, group, stream, rs.map((r) => r.bucket));
      rs.forEach((r, i) => {
        buckets.set(bucketId(group, stream, r.bucket), { ...r, base: read[i] });
        this.holdBook.set(group, stream, r.bucket, read[i]);
      });
    }));
    for (const c of changes) {
      for (const [seq, key] of c.frees) {
        const base = buckets.get(bucketId(c.group, c.stream, bucketOf(key)))!.base;
        c.holds.set(seq, { versionstamp: base.versionstamp, hold: base.holds.get(key) ?? null });
      }
    }
    // A hold whose list of parked events ran out (more were parked than it lists): read them.
    await Promise.all(changes.flatMap((c) =>
      [...c.holds].map(async ([seq, known]) => {
        if (known.hold?.s !== seq || !needsList(known.hold)) return;
        const key = c.frees.get(seq)!;
        const parked = await list(this.stats, this.kv, {
          prefix: parkPrefix(c.group, c.stream, key),
        }, { limit: QUEUE_MAX });
        // The holder's own copy stays until the claim that handed it out deletes it.
        const more = parked.map((e) => e.key[5] as number).filter((n) => n !== seq);
        c.holds.set(seq, { ...known, more });
      })
    ));
    return buckets;
  }

  /** Records what a successful commit of `plan` changed. */
  #done(changes: Change[], plan: Plan, versionstamp: string): void {
    for (const h of plan.holds) {
      // A bucket left empty is deleted: it has no versionstamp then.
      const stamp = h.holds.size > 0 ? versionstamp : null;
      this.holdBook.set(h.group, h.stream, h.bucket, { versionstamp: stamp, holds: h.holds });
    }
    for (const c of changes) {
      const lease = plan.next.get(c);
      if (lease) {
        this.book.set(c.group, c.stream, c.first, { versionstamp, lease });
      } else this.book.delete(c.group, c.stream, c.first, c.token);
      const members = new Set(lease?.m ?? []);
      for (const x of c.extends) {
        if (!members.has(x.seq) && !c.settles.has(x.seq)) x.lost.push(x.delivery);
      }
    }
    for (const c of plan.requeued) this.onRequeued(c.group, c.stream);
  }
}

/** A planned write of lease changes. */
interface Plan {
  /** Each lease's new value, or `null` when it is deleted. */
  next: Map<Change, Lease | null>;
  /** The leases some of whose deliveries go back to be claimed again. */
  requeued: Set<Change>;
  /** The buckets of the holds it frees or passes on, and their holds once written. */
  holds: { group: string; stream: string; bucket: number; holds: ReadonlyMap<string, KeyHold> }[];
  build: (op: Deno.AtomicOperation) => void;
}

/** The checks writing `changes` takes: one per lease, and one per bucket of keys freed. */
function checksOf(changes: readonly Change[]): number {
  let n = 0;
  for (const c of changes) {
    n += 1 + new Set([...c.frees.values()].map(bucketOf)).size;
  }
  return n;
}

/** Buckets of holds a write plans with, by `bucketId`: as known before planning. */
type Buckets = Map<string, { group: string; stream: string; bucket: number; base: KnownBucket }>;

function bucketId(group: string, stream: string, bucket: number): string {
  return `${group}\u0000${stream}\u0000${bucket}`;
}

/** Whether freeing a hold needs its parked events listed: some wait, and it lists none. */
function needsList(hold: KeyHold): boolean {
  return hold.w > 0 && !(hold.q?.length);
}

/** Whether a settlement frees its event's key (an ack or dead letter of a keyed event). */
function freesKey(s: Settlement): boolean {
  return (s.outcome === "ack" || s.outcome === "dead") &&
    typeof s.delivery.envelope?.key === "string";
}
