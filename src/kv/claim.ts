/**
 * Claiming work for a consumer: due retries first, then deliveries whose lease expired, then new
 * events after the group's cursor, all leased in one atomic operation whose checks make sure two
 * consumers never lease the same delivery.
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
} from "./keys.ts";
import { type LeaseBook, toDelivery } from "./leases.ts";
import { commit, get, getMany, keyBytes, type KvStats, LIMITS, list, sleep } from "./store.ts";

/** The longest between two looks for expired leases of one group and stream, in milliseconds. */
const LEASE_SCAN_MAX_MS = 1_000;
/** Checks one claim may spend on retries and expired leases (the rest guard the cursors). */
const CHECK_BUDGET = LIMITS.checks - 10;
/** How often a claim that lost a race to another consumer tries again before giving up. */
const ATTEMPTS = 8;

interface Candidate {
  stream: string;
  seq: number;
  attempt: number;
  /** The retry entry or expired lease to check and replace; none for new events. */
  from?: { key: Deno.KvKey; versionstamp: string; retry: boolean };
  /** The event, when already read. */
  value?: unknown;
  has: boolean;
}

interface CursorState {
  seq: number;
  versionstamp: string | null;
}

/** The result of one look for work. */
export interface ClaimLook {
  deliveries: Delivery[];
  /** When something known is due (a retry, a lease to re-check), in ms since the epoch. */
  wakeAt: number;
}

/** Claims work; one per backend, caching cursors and lease-scan times. */
export class Claimer {
  #cursors = new Map<string, CursorState>();
  #leaseScanAt = new Map<string, number>();
  #turn = 0;

  constructor(
    private readonly kv: Deno.Kv,
    private readonly stats: KvStats,
    private readonly book: LeaseBook,
  ) {}

  /** Looks once for work and leases what it finds. */
  async claimOnce(
    group: string,
    streams: readonly string[],
    consumer: string,
    max: number,
    leaseMs: number,
  ): Promise<ClaimLook> {
    // Start with a different stream each time so a busy stream does not starve the others.
    const order = streams.map((_, i) => streams[(i + this.#turn) % streams.length]);
    this.#turn++;
    const perKey = Math.max(...order.map((s) => keyBytes(leaseKey(group, s, MAX_SEQ))));
    max = Math.min(max, 256, Math.floor((LIMITS.keyBytes * 0.8) / (2 * perKey)));
    let wakeAt = Infinity;
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const now = Date.now();
      wakeAt = Infinity;
      const found: Candidate[] = [];
      const taken = new Set<string>();
      const add = (c: Candidate) => {
        const k = `${c.stream}\u0000${c.seq}`;
        if (taken.has(k)) return;
        taken.add(k);
        found.push(c);
      };
      let checks = 0;

      const retries = await Promise.all(
        order.map((s) =>
          list<RetryEntry>(this.stats, this.kv, { prefix: retryPrefix(group, s) }, {
            limit: max + 1,
          })
        ),
      );
      order.forEach((s, i) => {
        for (const e of retries[i]) {
          const due = e.key[4] as number;
          if (due > now) {
            wakeAt = Math.min(wakeAt, due);
            break;
          }
          if (found.length >= max || checks >= CHECK_BUDGET) {
            wakeAt = now;
            break;
          }
          const v = e.value;
          const copy = v.env !== undefined || v.m === true;
          checks++;
          add({
            stream: s,
            seq: e.key[5] as number,
            attempt: v.a + 1,
            from: { key: e.key, versionstamp: e.versionstamp, retry: true },
            value: copy ? (v.env ?? v.raw) : undefined,
            has: copy,
          });
        }
      });

      for (const s of order) {
        const scanKey = `${group}\u0000${s}`;
        const scanAt = this.#leaseScanAt.get(scanKey) ?? 0;
        if (found.length >= max || checks >= CHECK_BUDGET || now < scanAt) {
          wakeAt = Math.min(wakeAt, scanAt);
          continue;
        }
        const leases = await list<Lease>(this.stats, this.kv, { prefix: leasePrefix(group, s) }, {
          limit: LIMITS.mutations,
        });
        let next = now + Math.min(leaseMs, LEASE_SCAN_MAX_MS);
        for (const e of leases) {
          if (e.value.u > now) {
            next = Math.min(next, e.value.u);
          } else if (found.length < max && checks < CHECK_BUDGET) {
            checks++;
            add({
              stream: s,
              seq: e.key[4] as number,
              attempt: e.value.a + 1,
              from: { key: e.key, versionstamp: e.versionstamp, retry: false },
              has: false,
            });
          } else {
            next = now;
          }
        }
        this.#leaseScanAt.set(scanKey, next);
        wakeAt = Math.min(wakeAt, next);
      }

      const cursors = new Map<string, { from: CursorState; to: number }>();
      if (found.length < max) {
        const room = max - found.length;
        const states = await Promise.all(order.map((s) => this.#cursor(group, s)));
        const news = await Promise.all(order.map((s, i) =>
          list(this.stats, this.kv, {
            start: eventKey(s, states[i].seq + 1),
            end: eventKey(s, MAX_SEQ),
          }, { limit: room })
        ));
        order.forEach((s, i) => {
          for (const e of news[i]) {
            if (found.length >= max) break;
            const seq = e.key[3] as number;
            add({ stream: s, seq, attempt: 1, value: e.value, has: true });
            cursors.set(s, { from: states[i], to: seq });
          }
        });
      }
      if (found.length === 0) return { deliveries: [], wakeAt };

      // Retries and expired leases name events by number: read the ones without a copy.
      const missing = found.filter((c) => !c.has);
      if (missing.length > 0) {
        const values = await getMany(
          this.stats,
          this.kv,
          missing.map((c) => eventKey(c.stream, c.seq)),
        );
        missing.forEach((c, i) => {
          c.value = values[i].value;
          c.has = values[i].versionstamp !== null;
        });
      }

      const until = Date.now() + leaseMs;
      const leases = found.map((c): Lease => ({
        t: newToken(),
        u: until,
        a: c.attempt,
        c: consumer,
      }));
      const result = await commit(this.stats, this.kv, (op) => {
        for (const [s, c] of cursors) {
          op.check({ key: cursorKey(group, s), versionstamp: c.from.versionstamp });
          op.set(cursorKey(group, s), c.to);
        }
        found.forEach((c, i) => {
          if (c.from) op.check({ key: c.from.key, versionstamp: c.from.versionstamp });
          if (c.from?.retry) op.delete(c.from.key);
          // An entry whose event retention trimmed away is dropped, not delivered.
          if (c.has) op.set(leaseKey(group, c.stream, c.seq), leases[i]);
          else if (!c.from?.retry) op.delete(leaseKey(group, c.stream, c.seq));
        });
      });
      if (result.ok) {
        for (const [s, c] of cursors) {
          this.#cursors.set(`${group}\u0000${s}`, { seq: c.to, versionstamp: result.versionstamp });
        }
        const deliveries: Delivery[] = [];
        found.forEach((c, i) => {
          if (!c.has) return;
          this.book.set(group, c.stream, c.seq, {
            versionstamp: result.versionstamp,
            lease: leases[i],
          });
          deliveries.push(toDelivery(c.stream, c.seq, leases[i].t, c.attempt, c.value));
        });
        if (deliveries.length > 0) return { deliveries, wakeAt };
        continue;
      }
      // Another consumer got there first: forget what we cached and look again.
      this.stats.claimConflicts++;
      for (const s of order) this.#cursors.delete(`${group}\u0000${s}`);
      if (found.some((c) => c.from && !c.from.retry)) {
        for (const s of order) this.#leaseScanAt.delete(`${group}\u0000${s}`);
      }
      if (attempt > 0) await sleep(Math.random() * 2 * attempt);
    }
    return { deliveries: [], wakeAt: Date.now() };
  }

  /** Forgets the cached cursor of a group on a stream (after `subscribe` wrote it). */
  forget(group: string, stream: string): void {
    this.#cursors.delete(`${group}\u0000${stream}`);
  }

  async #cursor(group: string, stream: string): Promise<CursorState> {
    const key = `${group}\u0000${stream}`;
    let state = this.#cursors.get(key);
    if (!state) {
      const e = await get<number>(this.stats, this.kv, cursorKey(group, stream));
      // A group that never subscribed reads from the beginning rather than lose events.
      state = { seq: Number(e.value ?? 0), versionstamp: e.versionstamp };
      this.#cursors.set(key, state);
    }
    return state;
  }
}
