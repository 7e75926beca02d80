/**
 * Settling and extending leases. Calls made meanwhile in this process are coalesced, and each
 * lease (one per claimed batch) is rewritten once per commit, checked by its versionstamp (known
 * without a read when this process wrote it) and its token, so a consumer that lost its lease
 * cannot settle or extend over the new owner.
 *
 * @module
 */
import type { Delivery, Settlement } from "../backend.ts";
import { deadKey, type Lease, leaseKey, parseRef, type RetryEntry, retryKey } from "./keys.ts";
import type { LeaseBook } from "./leases.ts";
import { deadEntry, deadSize, trimError } from "./dead_entry.ts";
import { commit, getMany, type KvStats } from "./store.ts";

/** Leases rewritten per atomic operation: one check each, within Deno KV's 100. */
const CHUNK = 90;
/** Bytes of dead letters per atomic operation, under Deno KV's 800 KiB. */
const DEAD_BYTES_PER_OP = 600_000;

type Op =
  | {
    kind: "settle";
    group: string;
    settlements: readonly Settlement[];
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
}

/** Writes settlements and extensions; one per backend. */
export class LeaseWriter {
  #pending: Op[] = [];
  #flushing: Promise<void> | undefined;

  constructor(
    private readonly kv: Deno.Kv,
    private readonly stats: KvStats,
    private readonly book: LeaseBook,
    private readonly onRequeued: (group: string, stream: string) => void,
  ) {}

  /** Records outcomes; settlements whose lease was lost are skipped. */
  async settle(group: string, settlements: readonly Settlement[]): Promise<void> {
    await new Promise<Delivery[]>((resolve, reject) =>
      this.#enqueue({ kind: "settle", group, settlements, resolve, reject })
    );
  }

  /** Extends leases; returns the deliveries whose lease was lost. */
  extend(group: string, deliveries: readonly Delivery[], leaseMs: number): Promise<Delivery[]> {
    return new Promise((resolve, reject) =>
      this.#enqueue({ kind: "extend", group, deliveries, leaseMs, resolve, reject })
    );
  }

  /** Waits for writes in flight. */
  async idle(): Promise<void> {
    while (this.#flushing) await this.#flushing;
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
    let chunk: Change[] = [];
    let bytes = 0;
    for (const c of changes.values()) {
      if (chunk.length >= CHUNK || (chunk.length > 0 && bytes + c.bytes > DEAD_BYTES_PER_OP)) {
        await this.#write(chunk);
        chunk = [];
        bytes = 0;
      }
      chunk.push(c);
      bytes += c.bytes;
    }
    if (chunk.length > 0) await this.#write(chunk);
    return lost;
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
      const now = Date.now();
      const next = new Map<Change, Lease | null>();
      const requeued = new Set<Change>();
      const result = await commit(this.stats, this.kv, (op) => {
        for (const c of live) {
          const lease = c.lease!;
          const members = new Set(lease.m);
          op.check({ key: c.key, versionstamp: c.versionstamp! });
          for (const [seq, s] of c.settles) {
            if (!members.delete(seq)) continue; // settled before, or taken over after expiry
            if (s.outcome === "retry" || s.outcome === "release") {
              requeued.add(c);
              const release = s.outcome === "release";
              const entry: RetryEntry = release
                ? { a: lease.a - 1 }
                : { a: lease.a, e: trimError(s.error) };
              op.set(
                retryKey(c.group, c.stream, release ? now : now + Math.max(0, s.delayMs), seq),
                entry,
              );
            } else if (s.outcome === "dead") {
              const d = deadEntry(seq, s.delivery, lease.a, s.error);
              op.set(deadKey(c.group, d.id), d);
            }
          }
          if (members.size === 0) {
            op.delete(c.key);
            next.set(c, null);
          } else {
            const updated = { ...lease, m: [...members], u: c.extendTo ?? lease.u };
            op.set(c.key, updated);
            next.set(c, updated);
          }
        }
      });
      if (result.ok) {
        for (const c of live) {
          const lease = next.get(c);
          if (lease) {
            this.book.set(c.group, c.stream, c.first, { versionstamp: result.versionstamp, lease });
          } else this.book.delete(c.group, c.stream, c.first, c.token);
          const members = new Set(lease?.m ?? []);
          for (const x of c.extends) {
            if (!members.has(x.seq) && !c.settles.has(x.seq)) x.lost.push(x.delivery);
          }
        }
        for (const c of requeued) this.onRequeued(c.group, c.stream);
        return;
      }
      unread = live; // a lease changed under us (taken over after expiry): read and redo
    }
    throw new Error(`Could not write settlements: too much contention`);
  }
}
