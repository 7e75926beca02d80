/**
 * Settling and extending leases, many per atomic operation. Each lease is checked by its
 * versionstamp (known without a read when this process made it) and its token, so a consumer
 * that lost its lease cannot settle or extend over the new owner.
 *
 * @module
 */
import type { Delivery, ErrorInfo, Settlement } from "../backend.ts";
import {
  type DeadEntry,
  deadKey,
  type Lease,
  leaseKey,
  malformedId,
  parseRef,
  type RetryEntry,
  retryKey,
} from "./keys.ts";
import type { LeaseBook } from "./leases.ts";
import { commit, getMany, type KvStats, LIMITS, utf8Bytes } from "./store.ts";

/** Settlements or extensions per atomic operation: one check each, within Deno KV's 100. */
const CHUNK = 90;
/** Bytes of dead letters per atomic operation, under Deno KV's 800 KiB. */
const DEAD_BYTES_PER_OP = 600_000;
/** The most of an error's message or stack kept, in characters. */
const MAX_TEXT = 4_000;

interface Item<T> {
  item: T;
  delivery: Delivery;
  seq: number;
  token: string;
  key: Deno.KvKey;
  versionstamp?: string;
  lease?: Lease;
}

/** Context shared by settle and extend. */
export interface LeaseContext {
  kv: Deno.Kv;
  stats: KvStats;
  book: LeaseBook;
}

/**
 * Records outcomes. Settlements whose lease was lost are skipped.
 *
 * @returns whether any delivery was put back to be claimed again (a retry or release).
 */
export async function settle(
  ctx: LeaseContext,
  group: string,
  settlements: readonly Settlement[],
): Promise<boolean> {
  let requeued = false;
  let chunk: Item<Settlement>[] = [];
  let bytes = 0;
  const flush = async () => {
    if (chunk.length === 0) return;
    const now = Date.now();
    await run(ctx, group, chunk, (op, it) => {
      const s = it.item;
      op.delete(it.key);
      if (s.outcome === "retry" || s.outcome === "release") {
        const release = s.outcome === "release";
        const due = release ? now : now + Math.max(0, s.delayMs);
        const entry: RetryEntry = release
          ? { a: it.delivery.attempt - 1 }
          : { a: it.delivery.attempt, e: trimError(s.error) };
        op.set(retryKey(group, s.delivery.stream, due, it.seq), entry);
      } else if (s.outcome === "dead") {
        const d = dead(it.seq, s.delivery, s.error);
        op.set(deadKey(group, d.id), d);
      }
    }, () => {});
    requeued ||= chunk.some((c) => c.item.outcome === "retry" || c.item.outcome === "release");
    chunk = [];
    bytes = 0;
  };
  for (const s of settlements) {
    const it = item(group, s.delivery, s);
    if (!it) continue;
    const cost = s.outcome === "dead" ? deadSize(s.delivery) : 200;
    if (chunk.length >= CHUNK || bytes + cost > DEAD_BYTES_PER_OP) await flush();
    chunk.push(it);
    bytes += cost;
  }
  await flush();
  return requeued;
}

/**
 * Extends leases.
 *
 * @returns the deliveries whose lease was lost.
 */
export async function extend(
  ctx: LeaseContext,
  group: string,
  deliveries: readonly Delivery[],
  leaseMs: number,
): Promise<Delivery[]> {
  const lost: Delivery[] = [];
  const items: Item<Delivery>[] = [];
  for (const d of deliveries) {
    const it = item(group, d, d);
    if (it) items.push(it);
    else lost.push(d);
  }
  for (let i = 0; i < items.length; i += CHUNK) {
    const until = Date.now() + leaseMs;
    const chunk = items.slice(i, i + CHUNK);
    const kept = await run(ctx, group, chunk, (op, it) => {
      op.set(it.key, { ...it.lease!, u: until });
    }, (it, versionstamp) => {
      ctx.book.set(group, it.delivery.stream, it.seq, {
        versionstamp,
        lease: { ...it.lease!, u: until },
      });
    });
    for (const it of chunk) if (!kept.has(it)) lost.push(it.delivery);
  }
  return lost;
}

function item<T>(group: string, delivery: Delivery, value: T): Item<T> | undefined {
  const ref = parseRef(delivery.ref);
  if (!ref) return undefined;
  return {
    item: value,
    delivery,
    seq: ref.seq,
    token: ref.token,
    key: leaseKey(group, delivery.stream, ref.seq),
  };
}

/**
 * Commits `write` for every item whose lease still carries its token, checking each lease's
 * versionstamp; when a check fails, reads the leases again and retries with the ones still held.
 *
 * @returns the items committed.
 */
async function run<T>(
  ctx: LeaseContext,
  group: string,
  items: Item<T>[],
  write: (op: Deno.AtomicOperation, it: Item<T>) => void,
  done: (it: Item<T>, versionstamp: string) => void,
): Promise<Set<Item<T>>> {
  let unread: Item<T>[] = [];
  for (const it of items) {
    const held = ctx.book.get(group, it.delivery.stream, it.seq);
    if (held && held.lease.t === it.token) {
      it.versionstamp = held.versionstamp;
      it.lease = held.lease;
    } else {
      unread.push(it);
    }
  }
  let live = items;
  for (let attempt = 0; attempt < 20; attempt++) {
    if (unread.length > 0) {
      const entries = await getMany<Lease>(ctx.stats, ctx.kv, unread.map((it) => it.key));
      unread.forEach((it, i) => {
        const e = entries[i];
        const mine = e.value !== null && e.value.t === it.token;
        it.versionstamp = mine ? e.versionstamp! : undefined;
        it.lease = mine ? e.value! : undefined;
      });
    }
    live = live.filter((it) => {
      if (it.versionstamp !== undefined) return true;
      ctx.book.delete(group, it.delivery.stream, it.seq);
      return false;
    });
    if (live.length === 0) return new Set();
    const result = await commit(ctx.stats, ctx.kv, (op) => {
      for (const it of live) {
        op.check({ key: it.key, versionstamp: it.versionstamp! });
        write(op, it);
      }
    });
    if (result.ok) {
      for (const it of live) {
        ctx.book.delete(group, it.delivery.stream, it.seq);
        done(it, result.versionstamp);
      }
      return new Set(live);
    }
    unread = live;
  }
  throw new Error(
    `Could not settle ${live.length} deliveries of group "${group}": too much contention`,
  );
}

function dead(seq: number, d: Delivery, error: ErrorInfo): DeadEntry {
  const entry: DeadEntry = {
    id: d.envelope?.id ?? malformedId(d.stream, seq),
    stream: d.stream,
    seq,
    error: trimError(error),
    attempts: d.attempt,
    at: new Date().toISOString(),
  };
  if (d.envelope) entry.envelope = d.envelope;
  else if (deadSize(d) < LIMITS.valueBytes - 10_000) entry.raw = d.malformed?.raw;
  else entry.raw = "[omitted: too large to keep]";
  return entry;
}

function deadSize(d: Delivery): number {
  try {
    return utf8Bytes(JSON.stringify(d.envelope ?? d.malformed?.raw ?? null) ?? "") + 2 * MAX_TEXT;
  } catch {
    return LIMITS.valueBytes; // not JSON (a bigint, a cycle): assume the worst
  }
}

/** Keeps an error small enough to store next to a 60 KB event. */
function trimError(e: ErrorInfo): ErrorInfo {
  const out: ErrorInfo = {
    name: String(e?.name ?? "Error"),
    message: cut(String(e?.message ?? "")),
  };
  if (e?.stack) out.stack = cut(String(e.stack));
  if (Array.isArray(e?.issues)) out.issues = e.issues.slice(0, 20);
  return out;
}

function cut(s: string): string {
  return s.length > MAX_TEXT ? s.slice(0, MAX_TEXT) + "…" : s;
}
