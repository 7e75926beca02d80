/**
 * Claiming work for a consumer: due retries first, then deliveries whose lease expired, then new
 * events after the group's cursor. Everything one claim hands out on a stream with one attempt
 * number shares one lease entry, and the whole claim is one atomic operation whose checks make
 * sure two consumers never lease the same delivery.
 *
 * @module
 */
import type { Delivery } from "../backend.ts";
import {
  cursorKey,
  eventKey,
  holdKey,
  type Lease,
  leaseKey,
  leasePrefix,
  MAX_SEQ,
  newToken,
  parkKey,
  type RetryEntry,
  retryPrefix,
  seqKey,
} from "./keys.ts";
import { type LeaseBook, toDelivery } from "./leases.ts";
import { type HoldBook, writeBucket } from "./keyhold.ts";
import { holdKeys, KEYED_READ } from "./claim_keys.ts";
import type { Candidate, Cursor, CursorState, Look, NewLease, Trimmed } from "./look.ts";

export type { Cursor };
import type { Rider } from "./settle.ts";
import { eventsAt, eventsOf, isChunk, lastOf } from "./chunks.ts";
import { commit, get, getMany, type KvStats, LIMITS, list, scan } from "./store.ts";
import { defaultLogger } from "../telemetry/log.ts";
import { sleep } from "../sleep.ts";

const log = defaultLogger("herald");

/** The longest between two looks for expired leases of one group and stream, in milliseconds. */
const LEASE_SCAN_MAX_MS = 1_000;
/** The longest between two looks for due retries of one group and stream, in milliseconds. */
const RETRY_SCAN_MAX_MS = 1_000;
/** Checks one claim may spend on retries and expired leases (the rest guard the cursors). */
const CHECK_BUDGET = LIMITS.checks - 10;
/** The most deliveries one claim hands out (one lease value holds their numbers). */
const MAX_PER_CLAIM = 1_000;
/** How often a claim that lost a race to another consumer tries again before giving up. */
const ATTEMPTS = 8;
/**
 * A claim that lost a race waits up to this long (jittered, growing with the attempt) before it
 * tries again: the consumers of a group woke together and the winner moved the cursor, so an
 * immediate retry would race the others again. The winner carries on meanwhile, so the loser
 * stands by rather than spend a read and a failed commit per ring; the claim took nothing, so
 * no event waits for it, and settlements that were to ride in it wait for its next attempt
 * (see `Rider.failed`). The value was chosen by measurement: see "Where the constants come from"
 * in bench/README.md.
 */
const CONFLICT_PAUSE_MS = 120;
/** Reads a stored cursor. */
export function readCursor(value: unknown): [number, number] {
  if (Array.isArray(value)) return [Number(value[0]), Number(value[1])];
  const seq = Number(value ?? 0);
  return [seq, seq + 1];
}

/** Where a group stands on one stream: the last sequence number taken, and the last appended. */
export interface Standing {
  taken: number;
  head: number;
}

/** The result of one look for work. */
export interface ClaimLook {
  deliveries: Delivery[];
  /** When something known is due (a retry, a lease to re-check), in ms since the epoch. */
  wakeAt: number;
  /**
   * When something this process knows of falls due: a retry, a lease expiring, or more than one
   * look could take. Unlike `wakeAt`, not the next scan of retries and leases, which only
   * catches what no ring told of (another process's retries ring; see `KvBackend.claim`).
   */
  dueAt: number;
  /**
   * Set when the claim lost its race to another consumer of the group that took everything this
   * look saw, with fewer than a claim's `max` events waiting after what it took: that consumer
   * keeps up, and this one may stand by (see `KvBackend.claim`). Where the group stood on each
   * stream then.
   */
  outpaced?: Map<string, Standing>;
  /**
   * Set when the look handed out keyed events or left some for lack of room (see `#holdKeys`):
   * then it says nothing of how fast events arrive, and more may be ready at once.
   */
  keyed?: true;
}

/** What one try at committing a look did. */
interface Tried {
  result: Deno.KvCommitResult | Deno.KvCommitError;
  rider: Rider | undefined;
  deliveries: Delivery[];
}

/** Whether a candidate is an event with a key (it may take or wait for its key). */
function hasKey(c: Candidate): boolean {
  return c.has && typeof (c.value as { key?: unknown } | null | undefined)?.key === "string";
}

/** Claims work; one per backend, caching cursors and lease-scan times. */
export class Claimer {
  #cursors = new Map<string, CursorState>();
  /** The last chunk read per stream: the next claim often starts inside it. */
  #chunks = new Map<string, { first: number; value: unknown }>();
  #leaseScanAt = new Map<string, number>();
  #retryScanAt = new Map<string, number>();
  /** Events per stored entry last seen on each stream (appends store a chunk each). */
  #perEntry = new Map<string, number>();
  /** Groups and streams whose last look left new keyed events for lack of room (`#holdKeys`). */
  #keyedCut = new Set<string>();
  #turn = 0;

  /**
   * @param kv The database.
   * @param stats Counters to update.
   * @param book The leases this process holds.
   * @param holds The key holds this process knows (see keyhold.ts).
   * @param takeRider Settlements to carry in a claim's commit, if any fit (see `settle.ts`).
   */
  constructor(
    private readonly kv: Deno.Kv,
    private readonly stats: KvStats,
    private readonly book: LeaseBook,
    private readonly holds: HoldBook,
    private readonly takeRider: (maxChecks: number, avoid: ReadonlySet<string>) =>
      | Rider
      | undefined = () => undefined,
  ) {}

  /**
   * Looks once for work and leases what it finds.
   *
   * @param mayYield Whether a lost race may end the claim empty when the winner took everything
   *   this look saw (see {@linkcode ClaimLook.outpaced}), instead of looking again.
   */
  async claimOnce(
    group: string,
    streams: readonly string[],
    consumer: string,
    max: number,
    leaseMs: number,
    mayYield = false,
  ): Promise<ClaimLook> {
    // Start with a different stream each time so a busy stream does not starve the others.
    const order = streams.map((_, i) => streams[(i + this.#turn) % streams.length]);
    this.#turn++;
    max = Math.min(max, MAX_PER_CLAIM);
    let retried = false;
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const look = await this.#look(group, order, max, leaseMs);
      if (look.found.length === 0) {
        return { deliveries: [], wakeAt: look.wakeAt, dueAt: look.dueAt };
      }
      await this.#readMissing(look, group);
      // Writes of holds in this process take turns: a claim and a settlement writing the same
      // bucket at once would fail one of them (see keyhold.ts).
      const release = look.found.some(hasKey) ? await this.holds.lock() : undefined;
      let tried: Tried;
      try {
        tried = await this.#tryClaim(group, order, look, consumer, leaseMs);
      } finally {
        release?.();
      }
      const { result, rider, deliveries } = tried;
      if (!result.ok) {
        if (look.buckets.size > 0 && !retried) {
          // A bucket of holds may be what failed: look again at once, reading the buckets it
          // wrote (`#forgetLost` forgot them).
          retried = true;
          rider?.failed(0);
          continue;
        }
        if (mayYield && look.replaced.length === 0) {
          const outpaced = await this.#outpaced(group, order, look.cursors, max);
          if (outpaced) {
            rider?.failed(); // no next attempt soon: the settlements are written on their own
            return { deliveries: [], wakeAt: look.wakeAt, dueAt: look.dueAt, outpaced };
          }
        }
        // Riders wait for the next attempt.
        const pause = Math.random() * CONFLICT_PAUSE_MS * Math.min(attempt + 1, 3);
        rider?.failed(attempt + 1 < ATTEMPTS ? pause : undefined);
        await sleep(pause);
        continue;
      }
      if (deliveries.length > 0) {
        const keyed = look.holds.size > 0 || look.unparked.length > 0;
        return {
          deliveries,
          wakeAt: look.wakeAt,
          dueAt: look.dueAt,
          ...(keyed ? { keyed: true as const } : {}),
        };
      }
    }
    const now = Date.now();
    return { deliveries: [], wakeAt: now, dueAt: now };
  }

  /**
   * Plans the keys of a look, and commits it with the settlements that ride along: on success,
   * records what it changed and makes its deliveries; on failure, forgets what it assumed.
   */
  async #tryClaim(
    group: string,
    order: readonly string[],
    look: Look,
    consumer: string,
    leaseMs: number,
  ): Promise<Tried> {
    const { cut } = await holdKeys(
      { kv: this.kv, stats: this.stats, holds: this.holds },
      look,
      group,
      CHECK_BUDGET,
    );
    for (const s of order) {
      if (cut.has(s)) this.#keyedCut.add(`${group}\u0000${s}`);
      else if (look.cursors.has(s)) this.#keyedCut.delete(`${group}\u0000${s}`);
    }
    const leases = this.#leasesOf(look, consumer, leaseMs);
    // Settlements made meanwhile ride along: one commit instead of two.
    const rider = this.takeRider(
      LIMITS.checks - look.cursors.size - look.replaced.length - look.buckets.size,
      new Set([
        ...look.replaced.map((r) => JSON.stringify(r.key)),
        ...[...look.buckets.values()].map((b) =>
          JSON.stringify(holdKey(group, b.stream, b.bucket))
        ),
      ]),
    );
    let result: Deno.KvCommitResult | Deno.KvCommitError;
    try {
      result = await this.#commitClaim(group, look, leases, rider);
    } catch (err) {
      rider?.failed(); // the settlements are written on their own
      throw err;
    }
    if (!result.ok) {
      this.#forgetLost(group, look);
      return { result, rider, deliveries: [] };
    }
    rider?.committed(result.versionstamp);
    if (look.trimmed.length > 0) reportTrimmed(this.stats, group, look.trimmed);
    const deliveries = this.#claimed(group, look, leases, result.versionstamp);
    return { result, rider, deliveries };
  }

  /** Looks for due retries, expired leases and new events, in that order. */
  async #look(
    group: string,
    order: readonly string[],
    max: number,
    leaseMs: number,
  ): Promise<Look> {
    this.stats.looks++;
    const look: Look = {
      now: Date.now(),
      wakeAt: Infinity,
      dueAt: Infinity,
      found: [],
      replaced: [],
      taken: new Set(),
      cursors: new Map(),
      holds: new Map(),
      buckets: new Map(),
      parked: [],
      unparked: [],
      trimmed: [],
    };
    await this.#lookRetries(look, group, order, max);
    await this.#lookLeases(look, group, order, max, leaseMs);
    if (look.found.length < max) await this.#lookNew(look, group, order, max);
    return look;
  }

  /** Adds a candidate found by number (a retry or an expired lease) unless already found. */
  #add(look: Look, c: Candidate): void {
    const k = `${c.stream}\u0000${c.seq}`;
    if (look.taken.has(k)) return;
    look.taken.add(k);
    look.found.push(c);
  }

  /**
   * Due retries. They are looked for when one may be due: this process knows of the ones it
   * wrote; other processes' ones are seen within RETRY_SCAN_MAX_MS.
   */
  async #lookRetries(look: Look, group: string, order: readonly string[], max: number) {
    const { now } = look;
    const scanned = order.filter((s) => now >= (this.#retryScanAt.get(`${group}\u0000${s}`) ?? 0));
    for (const s of order) {
      if (!scanned.includes(s)) {
        // Not scanned now: what the last scan did not see (before a ring could tell of it) is
        // seen by the next.
        const at = this.#retryScanAt.get(`${group}\u0000${s}`)!;
        look.wakeAt = Math.min(look.wakeAt, at);
        look.dueAt = Math.min(look.dueAt, at);
      }
    }
    const limit = Math.min(max, CHECK_BUDGET) + 1;
    const retries = await Promise.all(
      scanned.map((s) =>
        list<RetryEntry>(this.stats, this.kv, { prefix: retryPrefix(group, s) }, { limit })
      ),
    );
    scanned.forEach((s, i) => {
      const scanKey = `${group}\u0000${s}`;
      let next = now + RETRY_SCAN_MAX_MS;
      if (retries[i].length === limit) next = now;
      this.#retryScanAt.set(scanKey, next);
      look.wakeAt = Math.min(look.wakeAt, next);
      let due = next === now ? now : Infinity; // more than this look could read: due now
      for (const e of retries[i]) {
        const at = e.key[4] as number;
        if (at > now) {
          look.wakeAt = Math.min(look.wakeAt, at);
          this.#retryScanAt.set(scanKey, Math.min(next, at));
          due = Math.min(due, at);
          break;
        }
        if (look.found.length >= max || look.replaced.length >= CHECK_BUDGET) {
          look.wakeAt = now;
          this.#retryScanAt.set(scanKey, now);
          due = now;
          break;
        }
        const v = e.value;
        const copy = v.env !== undefined || v.m === true;
        const entry = { key: e.key, versionstamp: e.versionstamp };
        look.replaced.push(entry);
        this.#add(look, {
          stream: s,
          seq: e.key[5] as number,
          attempt: v.a + 1,
          value: copy ? (v.env ?? v.raw) : undefined,
          has: copy,
          entry,
          ...(v.r ? { redriven: true as const } : {}),
          ...(v.p !== undefined ? { parked: v.p } : {}),
        });
      }
      look.dueAt = Math.min(look.dueAt, due);
    });
  }

  /** Deliveries whose lease expired, looked for when one may have. */
  async #lookLeases(
    look: Look,
    group: string,
    order: readonly string[],
    max: number,
    leaseMs: number,
  ) {
    const { now } = look;
    for (const s of order) {
      const scanKey = `${group}\u0000${s}`;
      const scanAt = this.#leaseScanAt.get(scanKey) ?? 0;
      if (look.found.length >= max || look.replaced.length >= CHECK_BUDGET || now < scanAt) {
        look.wakeAt = Math.min(look.wakeAt, scanAt);
        look.dueAt = Math.min(look.dueAt, scanAt); // as for retries
        continue;
      }
      const leases = await list<Lease>(this.stats, this.kv, { prefix: leasePrefix(group, s) });
      let next = now + Math.min(leaseMs, LEASE_SCAN_MAX_MS);
      let due = Infinity;
      for (const e of leases) {
        if (e.value.u > now) {
          next = Math.min(next, e.value.u);
          due = Math.min(due, e.value.u);
          continue;
        }
        if (look.found.length >= max || look.replaced.length >= CHECK_BUDGET) {
          next = due = now;
          continue;
        }
        const room = max - look.found.length;
        const take = e.value.m.slice(0, room);
        const rest = e.value.m.slice(room);
        look.replaced.push({
          key: e.key,
          versionstamp: e.versionstamp,
          rest: rest.length > 0 ? { ...e.value, m: rest } : undefined,
          restStream: s,
        });
        for (const seq of take) {
          this.#add(look, { stream: s, seq, attempt: e.value.a + 1, has: false });
        }
        if (rest.length > 0) next = due = now;
      }
      this.#leaseScanAt.set(scanKey, next);
      look.wakeAt = Math.min(look.wakeAt, next);
      look.dueAt = Math.min(look.dueAt, due);
    }
  }

  /** New events after the group's cursors, up to `max` candidates in all. */
  async #lookNew(look: Look, group: string, order: readonly string[], max: number) {
    const room = max - look.found.length;
    const states = await Promise.all(order.map((s) => this.#cursor(group, s)));
    // Where the last look could take only so many keys, reading a full claim's worth of events
    // would mostly read (and decode) events left for the next look.
    const roomOf = (s: string) =>
      this.#keyedCut.has(`${group}\u0000${s}`) ? Math.min(room, KEYED_READ) : room;
    const news = await Promise.all(order.map((s, i) => this.#readNew(s, states[i], roomOf(s))));
    // New events come after the cursor, and retries and expired leases name events at or
    // before it, so only a look that found some of those needs `#add`'s duplicate check.
    const push = look.replaced.length === 0
      ? (c: Candidate) => look.found.push(c)
      : (c: Candidate) => this.#add(look, c);
    order.forEach((s, i) => {
      const from = states[i];
      let to: Cursor | undefined;
      // Events after the cursor that retention deleted before this group read them.
      const skipped = news[i].length > 0 ? news[i][0].first - from.seq - 1 : 0;
      if (skipped > 0) look.trimmed.push({ stream: s, unread: skipped, due: 0 });
      entries: for (const e of news[i]) {
        const values = eventsOf(e.value);
        const last = e.first + values.length - 1;
        for (let j = 0; j < values.length; j++) {
          const seq = e.first + j;
          if (seq <= from.seq) continue;
          if (look.found.length >= max) break entries;
          to = [seq, seq === last ? seq + 1 : e.first];
          push({ stream: s, seq, attempt: 1, value: values[j], has: true, to });
        }
      }
      if (to) look.cursors.set(s, { from, to });
    });
  }

  /** Retries and expired leases name events by number: reads the ones without a copy. */
  async #readMissing(look: Look, group: string): Promise<void> {
    const unparked = look.found.filter((c) => c.parked !== undefined);
    const reads = [];
    for (let i = 0; i < unparked.length; i += LIMITS.getMany) {
      const part = unparked.slice(i, i + LIMITS.getMany);
      reads.push(
        getMany(this.stats, this.kv, part.map((c) => parkKey(group, c.stream, c.parked!, c.seq))),
      );
    }
    (await Promise.all(reads)).flat().forEach((e, i) => {
      const c = unparked[i];
      c.has = e.versionstamp !== null;
      c.value = e.value;
      look.unparked.push(e.key);
    });
    const missing = look.found.filter((c) => !c.has && c.parked === undefined);
    for (const s of new Set(missing.map((c) => c.stream))) {
      const mine = missing.filter((c) => c.stream === s);
      const values = await eventsAt(this.kv, this.stats, s, mine.map((c) => c.seq));
      let gone = 0;
      for (const c of mine) {
        c.has = values.has(c.seq); // trimmed by retention: counted and reported after the claim
        c.value = values.get(c.seq);
        if (!c.has) gone++;
      }
      if (gone > 0) look.trimmed.push({ stream: s, unread: 0, due: gone });
    }
  }

  /** One lease per stream and attempt number, keyed by its first sequence number. */
  #leasesOf(look: Look, consumer: string, leaseMs: number): Map<string, NewLease> {
    const until = Date.now() + leaseMs;
    const leases = new Map<string, NewLease>();
    let l: NewLease | undefined;
    for (const c of look.found) {
      if (!c.has) continue;
      // Candidates come in runs of one stream and attempt: look up only when the run changes.
      if (l?.stream === c.stream && l.lease.a === c.attempt) {
        l.lease.m.push(c.seq);
        continue;
      }
      const k = `${c.stream}\u0000${c.attempt}`;
      l = leases.get(k);
      if (!l) {
        l = {
          stream: c.stream,
          first: c.seq,
          lease: { t: newToken(), u: until, a: c.attempt, c: consumer, m: [] },
        };
        leases.set(k, l);
      }
      l.lease.m.push(c.seq);
    }
    for (const l of leases.values()) {
      l.lease.m.sort((a, b) => a - b);
      l.first = l.lease.m[0];
    }
    return leases;
  }

  /**
   * After a lost race: forgets what the failed checks relied on (only that: with several
   * consumers in a group this happens on most claims, and every forgotten cache is one more read
   * on the next attempt).
   */
  #forgetLost(group: string, look: Look): void {
    this.stats.claimConflicts++;
    for (const s of look.cursors.keys()) this.#cursors.delete(`${group}\u0000${s}`);
    for (const r of look.replaced) {
      const s = r.key[3] as string;
      if (r.key[1] === "lease") this.#leaseScanAt.delete(`${group}\u0000${s}`);
      else this.#retryScanAt.delete(`${group}\u0000${s}`);
    }
    for (const b of look.buckets.values()) this.holds.forget(group, b.stream, b.bucket);
  }

  /** Records what a committed claim changed, and makes its deliveries. */
  #claimed(
    group: string,
    look: Look,
    leases: Map<string, NewLease>,
    versionstamp: string,
  ): Delivery[] {
    for (const [s, c] of look.cursors) {
      this.#cursors.set(`${group}\u0000${s}`, { seq: c.to[0], from: c.to[1], versionstamp });
    }
    for (const r of look.replaced) {
      if (r.key[1] === "lease") {
        this.book.delete(group, r.restStream!, r.key[4] as number, r.key[5] as string);
      }
    }
    for (const b of look.buckets.values()) {
      this.holds.set(group, b.stream, b.bucket, { versionstamp, holds: b.holds });
    }
    const byKey = new Map<string, NewLease>();
    for (const l of leases.values()) {
      this.book.set(group, l.stream, l.first, { versionstamp, lease: l.lease });
      byKey.set(`${l.stream}\u0000${l.lease.a}`, l);
    }
    const deliveries: Delivery[] = [];
    let held: NewLease | undefined;
    for (const c of look.found) {
      if (!c.has) continue;
      if (held?.stream !== c.stream || held.lease.a !== c.attempt) {
        held = byKey.get(`${c.stream}\u0000${c.attempt}`)!;
      }
      deliveries.push(toDelivery(c.stream, held.first, c.seq, held.lease.t, c.attempt, c.value));
    }
    return deliveries;
  }

  /**
   * After a lost race on the cursors: where the group stands now, when the winner took at least
   * everything this look saw and less than `max` events wait after what it took on each stream;
   * `undefined` when there is work left to race for.
   */
  async #outpaced(
    group: string,
    streams: readonly string[],
    cursors: Map<string, { from: CursorState; to: Cursor }>,
    max: number,
  ): Promise<Map<string, Standing> | undefined> {
    const now = await this.standing(group, streams);
    for (const [s, c] of cursors) if (now.get(s)!.taken < c.to[0]) return undefined;
    for (const st of now.values()) if (st.head - st.taken >= max) return undefined;
    return now;
  }

  /**
   * Where `group` stands on each of `streams`, read together (one snapshot for up to five
   * streams). Nothing is cached: a claim that follows reads its cursors afresh (a cursor cached
   * here and used after a pause lost every race it was checked in).
   */
  async standing(group: string, streams: readonly string[]): Promise<Map<string, Standing>> {
    const keys = streams.flatMap((s) => [cursorKey(group, s), seqKey(s)]);
    const entries = await getMany<unknown>(this.stats, this.kv, keys);
    const out = new Map<string, Standing>();
    streams.forEach((s, i) => {
      const [taken] = readCursor(entries[2 * i].value);
      out.set(s, { taken, head: Number(entries[2 * i + 1].value ?? 0) });
    });
    return out;
  }

  /** Commits a claim: cursors moved, entries replaced, holds and leases written, riders. */
  #commitClaim(
    group: string,
    look: Look,
    leases: Map<string, NewLease>,
    rider: Rider | undefined,
  ): Promise<Deno.KvCommitResult | Deno.KvCommitError> {
    return commit(this.stats, this.kv, (op) => {
      rider?.build(op);
      for (const [s, c] of look.cursors) {
        op.check({ key: cursorKey(group, s), versionstamp: c.from.versionstamp });
        op.set(cursorKey(group, s), c.to);
      }
      for (const r of look.replaced) {
        op.check({ key: r.key, versionstamp: r.versionstamp });
        op.delete(r.key);
        if (r.rest) op.set(leaseKey(group, r.restStream!, r.rest.m[0], r.rest.t), r.rest);
      }
      for (const b of look.buckets.values()) {
        writeBucket(op, holdKey(group, b.stream, b.bucket), b.base, b.holds);
      }
      for (const p of look.parked) op.set(parkKey(group, p.stream, p.key, p.seq), p.value);
      for (const k of look.unparked) op.delete(k);
      for (const l of leases.values()) {
        op.set(leaseKey(group, l.stream, l.first, l.lease.t), l.lease);
      }
    });
  }

  /** Reads stored entries from the cursor on, until they hold `room` new events. */
  async #readNew(
    stream: string,
    cursor: CursorState,
    room: number,
  ): Promise<{ first: number; value: unknown }[]> {
    const out: { first: number; value: unknown }[] = [];
    let from = cursor.from;
    let n = 0;
    // Chunks never change once written, so a partly taken one need not be read again.
    const cached = this.#chunks.get(stream);
    if (cached && cached.first === from && lastOf(from, cached.value) > cursor.seq) {
      out.push(cached);
      n = lastOf(from, cached.value) - cursor.seq;
      from = lastOf(from, cached.value) + 1;
      if (n >= room) return out;
    }
    const read = await scan(
      this.stats,
      this.kv,
      { start: eventKey(stream, from), end: eventKey(stream, MAX_SEQ) },
      // Deno KV reads (and decodes) a batch before we can stop: size it by the entries `room`
      // events need, plus one when the first is a chunk partly taken already. Reading more is
      // not free: with several consumers in a group, the next chunk is usually someone else's.
      {
        batchSize: Math.max(
          1,
          Math.min(
            100,
            Math.ceil(room / (this.#perEntry.get(stream) ?? 1)) + (cursor.seq >= from ? 1 : 0),
          ),
        ),
      },
      (read) => {
        const e = read[read.length - 1];
        const first = Math.max(e.key[3] as number, cursor.seq + 1);
        n += Math.max(0, lastOf(e.key[3] as number, e.value) - first + 1);
        return n >= room;
      },
    );
    let events = 0;
    for (const e of read) {
      out.push({ first: e.key[3] as number, value: e.value });
      events += lastOf(e.key[3] as number, e.value) - (e.key[3] as number) + 1;
    }
    if (read.length > 0) this.#perEntry.set(stream, events / read.length);
    const last = out[out.length - 1];
    if (last && isChunk(last.value)) this.#chunks.set(stream, last);
    return out;
  }

  /** Makes the next claim look for retries of the group (on the stream, or on all). */
  requeued(group: string, stream?: string): void {
    if (stream !== undefined) {
      this.#retryScanAt.delete(`${group}\u0000${stream}`);
      return;
    }
    for (const k of this.#retryScanAt.keys()) {
      if (k.startsWith(`${group}\u0000`)) this.#retryScanAt.delete(k);
    }
  }

  /** Makes the next claim look for retries of every group (another process requeued some). */
  requeuedAll(): void {
    this.#retryScanAt.clear();
  }

  /** Forgets the cached cursor of a group on a stream (after `subscribe` wrote it). */
  forget(group: string, stream: string): void {
    this.#cursors.delete(`${group}\u0000${stream}`);
  }

  async #cursor(group: string, stream: string): Promise<CursorState> {
    const key = `${group}\u0000${stream}`;
    let state = this.#cursors.get(key);
    if (!state) {
      const e = await get(this.stats, this.kv, cursorKey(group, stream));
      // A group that never subscribed reads from the beginning rather than lose events.
      const [seq, from] = readCursor(e.value);
      state = { seq, from, versionstamp: e.versionstamp };
      this.#cursors.set(key, state);
    }
    return state;
  }
}

/** Counts what retention took from a group before it was handled, and says so. */
function reportTrimmed(stats: KvStats, group: string, trimmed: readonly Trimmed[]): void {
  for (const t of trimmed) {
    const n = t.unread + t.due;
    stats.trimmedUnhandled += n;
    stats.trimmedByGroup[group] = (stats.trimmedByGroup[group] ?? 0) + n;
    const what = [
      t.unread > 0 ? `${t.unread} unread events` : "",
      t.due > 0 ? `${t.due} due retries or expired leases` : "",
    ].filter(Boolean).join(" and ");
    log.warn(
      `retention deleted ${what} of stream "${t.stream}" before this group handled them; ` +
        "keep events longer or add consumers",
      { group, stream: t.stream, trimmed_in_all: stats.trimmedByGroup[group] },
    );
  }
}
