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
  type Lease,
  leaseKey,
  leasePrefix,
  MAX_SEQ,
  newToken,
  type RetryEntry,
  retryPrefix,
  seqKey,
} from "./keys.ts";
import { type LeaseBook, toDelivery } from "./leases.ts";
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

interface Candidate {
  stream: string;
  seq: number;
  attempt: number;
  /** The event, when already read. */
  value?: unknown;
  has: boolean;
}

/** A group's position on a stream, as stored: `[last seq taken, key to read on from]`. */
export type Cursor = [number, number];

interface CursorState {
  /** The last sequence number taken. */
  seq: number;
  /** The key of the stored entry holding the next one (a chunk may be partly taken). */
  from: number;
  versionstamp: string | null;
}

/** Reads a stored cursor. */
export function readCursor(value: unknown): [number, number] {
  if (Array.isArray(value)) return [Number(value[0]), Number(value[1])];
  const seq = Number(value ?? 0);
  return [seq, seq + 1];
}

/** An entry the claim replaces: a due retry, or an expired lease it takes (part of). */
interface Replaced {
  key: Deno.KvKey;
  versionstamp: string;
  /** What is left of an expired lease after the claim took some of its deliveries. */
  rest?: Lease;
  restStream?: string;
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
   * Set when the claim lost its race to another consumer of the group that took everything this
   * look saw, with fewer than a claim's `max` events waiting after what it took: that consumer
   * keeps up, and this one may stand by (see `KvBackend.claim`). Where the group stood on each
   * stream then.
   */
  outpaced?: Map<string, Standing>;
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
  #turn = 0;

  /**
   * @param kv The database.
   * @param stats Counters to update.
   * @param book The leases this process holds.
   * @param takeRider Settlements to carry in a claim's commit, if any fit (see `settle.ts`).
   */
  constructor(
    private readonly kv: Deno.Kv,
    private readonly stats: KvStats,
    private readonly book: LeaseBook,
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
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const now = Date.now();
      let wakeAt = Infinity;
      const found: Candidate[] = [];
      const replaced: Replaced[] = [];
      const trimmed: Trimmed[] = [];
      const taken = new Set<string>();
      const add = (c: Candidate) => {
        const k = `${c.stream}\u0000${c.seq}`;
        if (taken.has(k)) return;
        taken.add(k);
        found.push(c);
      };

      // Retries are looked for when one may be due: this process knows of the ones it wrote;
      // other processes' ones are seen within RETRY_SCAN_MAX_MS.
      const scanned = order.filter((s) =>
        now >= (this.#retryScanAt.get(`${group}\u0000${s}`) ?? 0)
      );
      for (const s of order) {
        if (!scanned.includes(s)) {
          wakeAt = Math.min(wakeAt, this.#retryScanAt.get(`${group}\u0000${s}`)!);
        }
      }
      const limit = Math.min(max, CHECK_BUDGET) + 1;
      const retries = await Promise.all(
        scanned.map((s) =>
          list<RetryEntry>(this.stats, this.kv, { prefix: retryPrefix(group, s) }, { limit })
        ),
      );
      scanned.forEach((s, i) => {
        let next = now + RETRY_SCAN_MAX_MS;
        if (retries[i].length === limit) next = now;
        this.#retryScanAt.set(`${group}\u0000${s}`, next);
        wakeAt = Math.min(wakeAt, next);
        for (const e of retries[i]) {
          const due = e.key[4] as number;
          if (due > now) {
            wakeAt = Math.min(wakeAt, due);
            this.#retryScanAt.set(`${group}\u0000${s}`, Math.min(next, due));
            break;
          }
          if (found.length >= max || replaced.length >= CHECK_BUDGET) {
            wakeAt = now;
            this.#retryScanAt.set(`${group}\u0000${s}`, now);
            break;
          }
          const v = e.value;
          const copy = v.env !== undefined || v.m === true;
          replaced.push({ key: e.key, versionstamp: e.versionstamp });
          add({
            stream: s,
            seq: e.key[5] as number,
            attempt: v.a + 1,
            value: copy ? (v.env ?? v.raw) : undefined,
            has: copy,
          });
        }
      });

      for (const s of order) {
        const scanKey = `${group}\u0000${s}`;
        const scanAt = this.#leaseScanAt.get(scanKey) ?? 0;
        if (found.length >= max || replaced.length >= CHECK_BUDGET || now < scanAt) {
          wakeAt = Math.min(wakeAt, scanAt);
          continue;
        }
        const leases = await list<Lease>(this.stats, this.kv, { prefix: leasePrefix(group, s) });
        let next = now + Math.min(leaseMs, LEASE_SCAN_MAX_MS);
        for (const e of leases) {
          if (e.value.u > now) {
            next = Math.min(next, e.value.u);
            continue;
          }
          if (found.length >= max || replaced.length >= CHECK_BUDGET) {
            next = now;
            continue;
          }
          const room = max - found.length;
          const take = e.value.m.slice(0, room);
          const rest = e.value.m.slice(room);
          replaced.push({
            key: e.key,
            versionstamp: e.versionstamp,
            rest: rest.length > 0 ? { ...e.value, m: rest } : undefined,
            restStream: s,
          });
          for (const seq of take) add({ stream: s, seq, attempt: e.value.a + 1, has: false });
          if (rest.length > 0) next = now;
        }
        this.#leaseScanAt.set(scanKey, next);
        wakeAt = Math.min(wakeAt, next);
      }

      const cursors = new Map<string, { from: CursorState; to: Cursor }>();
      if (found.length < max) {
        const room = max - found.length;
        const states = await Promise.all(order.map((s) => this.#cursor(group, s)));
        const news = await Promise.all(order.map((s, i) => this.#readNew(s, states[i], room)));
        // New events come after the cursor, and retries and expired leases name events at or
        // before it, so only a look that found some of those needs `add`'s duplicate check.
        const push = replaced.length === 0 ? (c: Candidate) => found.push(c) : add;
        order.forEach((s, i) => {
          const from = states[i];
          let toSeq = -1, toFrom = 0;
          // Events after the cursor that retention deleted before this group read them.
          const skipped = news[i].length > 0 ? news[i][0].first - from.seq - 1 : 0;
          if (skipped > 0) trimmed.push({ stream: s, unread: skipped, due: 0 });
          entries: for (const e of news[i]) {
            const values = eventsOf(e.value);
            const last = e.first + values.length - 1;
            for (let j = 0; j < values.length; j++) {
              const seq = e.first + j;
              if (seq <= from.seq) continue;
              if (found.length >= max) break entries;
              push({ stream: s, seq, attempt: 1, value: values[j], has: true });
              toSeq = seq;
              toFrom = seq === last ? seq + 1 : e.first;
            }
          }
          if (toSeq >= 0) cursors.set(s, { from, to: [toSeq, toFrom] });
        });
      }
      if (found.length === 0) return { deliveries: [], wakeAt };

      // Retries and expired leases name events by number: read the ones without a copy.
      const missing = found.filter((c) => !c.has);
      for (const s of new Set(missing.map((c) => c.stream))) {
        const mine = missing.filter((c) => c.stream === s);
        const values = await eventsAt(this.kv, this.stats, s, mine.map((c) => c.seq));
        let gone = 0;
        for (const c of mine) {
          c.has = values.has(c.seq); // trimmed by retention: counted and reported below
          c.value = values.get(c.seq);
          if (!c.has) gone++;
        }
        if (gone > 0) trimmed.push({ stream: s, unread: 0, due: gone });
      }

      // One lease per stream and attempt number, keyed by its first sequence number.
      const until = Date.now() + leaseMs;
      const leases = new Map<string, { stream: string; first: number; lease: Lease }>();
      let l: { stream: string; first: number; lease: Lease } | undefined;
      for (const c of found) {
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
      // Settlements made meanwhile ride along: one commit instead of two.
      const rider = this.takeRider(
        LIMITS.checks - cursors.size - replaced.length,
        new Set(replaced.map((r) => JSON.stringify(r.key))),
      );
      let result: Deno.KvCommitResult | Deno.KvCommitError;
      try {
        result = await this.#commitClaim(group, cursors, replaced, leases, rider);
      } catch (err) {
        rider?.failed(); // the settlements are written on their own
        throw err;
      }
      if (!result.ok) {
        // Another consumer got there first: forget what the failed checks relied on (only that:
        // with several consumers in a group this happens on most claims, and every forgotten
        // cache is one more read on the next attempt) and look again after a pause.
        this.stats.claimConflicts++;
        for (const s of cursors.keys()) this.#cursors.delete(`${group}\u0000${s}`);
        for (const r of replaced) {
          const s = r.key[3] as string;
          if (r.key[1] === "lease") this.#leaseScanAt.delete(`${group}\u0000${s}`);
          else this.#retryScanAt.delete(`${group}\u0000${s}`);
        }
        if (mayYield && replaced.length === 0) {
          const outpaced = await this.#outpaced(group, order, cursors, max);
          if (outpaced) {
            rider?.failed(); // no next attempt soon: the settlements are written on their own
            return { deliveries: [], wakeAt, outpaced };
          }
        }
        // Riders wait for the next attempt.
        const pause = Math.random() * CONFLICT_PAUSE_MS * Math.min(attempt + 1, 3);
        rider?.failed(attempt + 1 < ATTEMPTS ? pause : undefined);
        await sleep(pause);
        continue;
      }
      rider?.committed(result.versionstamp);
      if (trimmed.length > 0) reportTrimmed(this.stats, group, trimmed);
      for (const [s, c] of cursors) {
        this.#cursors.set(`${group}\u0000${s}`, {
          seq: c.to[0],
          from: c.to[1],
          versionstamp: result.versionstamp,
        });
      }
      for (const r of replaced) {
        if (r.key[1] === "lease") {
          this.book.delete(group, r.restStream!, r.key[4] as number, r.key[5] as string);
        }
      }
      const deliveries: Delivery[] = [];
      const byKey = new Map<string, { stream: string; first: number; lease: Lease }>();
      for (const l of leases.values()) {
        this.book.set(group, l.stream, l.first, {
          versionstamp: result.versionstamp,
          lease: l.lease,
        });
        byKey.set(`${l.stream}\u0000${l.lease.a}`, l);
      }
      let held: { stream: string; first: number; lease: Lease } | undefined;
      for (const c of found) {
        if (!c.has) continue;
        if (held?.stream !== c.stream || held.lease.a !== c.attempt) {
          held = byKey.get(`${c.stream}\u0000${c.attempt}`)!;
        }
        deliveries.push(
          toDelivery(c.stream, held.first, c.seq, held.lease.t, c.attempt, c.value),
        );
      }
      if (deliveries.length > 0) return { deliveries, wakeAt };
    }
    return { deliveries: [], wakeAt: Date.now() };
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

  /** Commits a claim: cursors moved, entries replaced, leases written, settlements riding. */
  #commitClaim(
    group: string,
    cursors: Map<string, { from: CursorState; to: Cursor }>,
    replaced: Replaced[],
    leases: Map<string, { stream: string; first: number; lease: Lease }>,
    rider: Rider | undefined,
  ): Promise<Deno.KvCommitResult | Deno.KvCommitError> {
    return commit(this.stats, this.kv, (op) => {
      rider?.build(op);
      for (const [s, c] of cursors) {
        op.check({ key: cursorKey(group, s), versionstamp: c.from.versionstamp });
        op.set(cursorKey(group, s), c.to);
      }
      for (const r of replaced) {
        op.check({ key: r.key, versionstamp: r.versionstamp });
        op.delete(r.key);
        if (r.rest) op.set(leaseKey(group, r.restStream!, r.rest.m[0], r.rest.t), r.rest);
      }
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

/** Events of a stream that retention deleted before a group handled them. */
interface Trimmed {
  stream: string;
  /** New events after the group's cursor. */
  unread: number;
  /** Retries that were due and leases that expired. */
  due: number;
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
