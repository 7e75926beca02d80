/**
 * Inspection and control of the Deno KV backend: streams, groups, dead letters paged and
 * filtered, purge, group deletion and reset, and peeking at a stream. Reads go through the same
 * keys the claims use (see keys.ts), plus one key of its own:
 *
 * - `["herald", "seen", group, consumer]` → ms since the epoch: when the consumer last claimed,
 *   written at most every {@linkcode SEEN_EVERY_MS} and expiring after {@linkcode SEEN_TTL_MS}.
 *
 * @module
 */
import type { DeadLetter } from "../backend.ts";
import { type Envelope, envelopeProblem } from "../envelope.ts";
import { NotFoundError } from "../errors.ts";
import {
  checkPosition,
  type ConsumerInfo,
  type DeadLetterQuery,
  findEvent,
  type GroupInfo,
  matchesQuery,
  type PeekOptions,
  type PeekPage,
  type Position,
  type PurgeOptions,
  purgeSelects,
  type Retention,
  type StreamEvent,
  type StreamInfo,
} from "../inspect.ts";
import { lastOf, unpack } from "./chunks.ts";
import { type Cursor, readCursor } from "./claim.ts";
import {
  cursorKey,
  type DeadEntry,
  deadPrefix,
  eventKey,
  eventPrefix,
  type Lease,
  leasePrefix,
  MAX_SEQ,
  retryPrefix,
  seqKey,
} from "./keys.ts";
import { commit, get, type KvStats, list, scan } from "./store.ts";
import { startCursor, timeOf } from "./subscribe.ts";
import { countDead, deadCount, deadCountKey } from "./dead_bound.ts";

/** How often a consumer's "last seen" is written at most, in milliseconds. */
export const SEEN_EVERY_MS = 5_000;
/** How long a consumer's "last seen" is kept after its last claim, in milliseconds. */
export const SEEN_TTL_MS = 7 * 86_400_000;
/** Keys deleted per atomic operation (Deno KV allows 1,000 mutations). */
const DELETE_CHUNK = 500;

const seenPrefix = (group: string): Deno.KvKey => ["herald", "seen", group];

/** Reads and steers one Deno KV database's streams and groups. */
export class KvInspector {
  #seenAt = new Map<string, number>();

  constructor(
    private readonly kv: Deno.Kv,
    private readonly stats: KvStats,
    private readonly retentionOf: (stream: string) => Retention | undefined,
  ) {}

  /**
   * Records that `consumer` claimed, unless it was recorded within {@linkcode SEEN_EVERY_MS}.
   *
   * @returns the write, or `undefined` when none was needed.
   */
  seen(group: string, consumer: string): Promise<unknown> | undefined {
    const id = `${group}\u0000${consumer}`;
    const now = Date.now();
    if (now - (this.#seenAt.get(id) ?? 0) < SEEN_EVERY_MS) return undefined;
    this.#seenAt.set(id, now);
    return commit(this.stats, this.kv, (op) => {
      op.set([...seenPrefix(group), consumer], now, { expireIn: SEEN_TTL_MS });
    });
  }

  async streams(): Promise<StreamInfo[]> {
    const heads = await list<number>(this.stats, this.kv, { prefix: ["herald", "seq"] });
    const out: StreamInfo[] = [];
    for (const h of heads) {
      const stream = h.key[2] as string;
      const [first] = await list(this.stats, this.kv, { prefix: eventPrefix(stream) }, {
        limit: 1,
      });
      const [last] = await list(this.stats, this.kv, { prefix: eventPrefix(stream) }, {
        limit: 1,
        reverse: true,
      });
      const info: StreamInfo = { stream, length: 0 };
      if (first && last) {
        info.length = Number(h.value) - (first.key[3] as number) + 1;
        info.firstTime = isoOf(unpack(first.key[3] as number, first.value)[0][1]);
        info.lastTime = isoOf(unpack(last.key[3] as number, last.value).at(-1)![1]);
      }
      const retention = this.retentionOf(stream);
      if (retention) info.retention = { ...retention };
      out.push(info);
    }
    return out;
  }

  async groups(stream?: string): Promise<GroupInfo[]> {
    const cursors = await list(this.stats, this.kv, { prefix: ["herald", "cur"] });
    const out: GroupInfo[] = [];
    const dead = new Map<string, number>();
    const consumers = new Map<string, ConsumerInfo[]>();
    for (const c of cursors) {
      const [group, s] = [c.key[2] as string, c.key[3] as string];
      if (stream !== undefined && s !== stream) continue;
      if (!dead.has(group)) {
        // The counter settle, redrive and purge keep: no read of the dead letters themselves.
        dead.set(group, await deadCount(this.kv, this.stats, group));
        consumers.set(group, await this.#consumers(group));
      }
      out.push(await this.#group(group, s, readCursor(c.value)[0], consumers.get(group)!, dead));
    }
    return out;
  }

  async #group(
    group: string,
    stream: string,
    taken: number,
    consumers: ConsumerInfo[],
    dead: Map<string, number>,
  ): Promise<GroupInfo> {
    const head = Number((await get<number>(this.stats, this.kv, seqKey(stream))).value ?? 0);
    const leases = await list<Lease>(this.stats, this.kv, { prefix: leasePrefix(group, stream) });
    const retries = await list(this.stats, this.kv, { prefix: retryPrefix(group, stream) });
    const seqs = [
      ...leases.flatMap((l) => l.value.m),
      ...retries.map((r) => r.key[5] as number),
    ];
    const names = new Set(consumers.map((c) => c.name));
    const holders = leases.map((l) => l.value.c).filter((c) => !names.has(c));
    const info: GroupInfo = {
      group,
      stream,
      position: taken > 0 ? String(taken) : null,
      lag: Math.max(0, head - taken),
      pending: seqs.length,
      consumers: [...consumers, ...[...new Set(holders)].map((name) => ({ name }))],
      deadLetters: dead.get(group) ?? 0,
    };
    if (info.lag > 0) {
      const [e] = (await this.#read(stream, taken, 1)).events;
      const t = e ? timeOf(e.envelope ?? e.raw) : -Infinity;
      if (Number.isFinite(t)) info.oldestWaitingMs = Math.max(0, Date.now() - t);
    }
    if (seqs.length > 0) {
      const oldest = Math.min(...seqs);
      const [e] = (await this.#read(stream, oldest - 1, 1)).events;
      const t = e ? timeOf(e.envelope ?? e.raw) : -Infinity;
      if (Number.isFinite(t)) info.oldestPendingMs = Math.max(0, Date.now() - t);
    }
    return info;
  }

  async #consumers(group: string): Promise<ConsumerInfo[]> {
    const seen = await list<number>(this.stats, this.kv, { prefix: seenPrefix(group) });
    return seen.map((e) => ({
      name: e.key[3] as string,
      lastSeen: new Date(e.value).toISOString(),
    }));
  }

  async deadLetters(group: string, query: DeadLetterQuery = {}): Promise<DeadLetter[]> {
    const limit = query.limit ?? Infinity;
    const selector: Deno.KvListSelector = query.after === undefined
      ? { prefix: deadPrefix(group) }
      : { prefix: deadPrefix(group), start: [...deadPrefix(group), query.after, 0] };
    let matched = 0;
    const read = await scan<DeadEntry>(this.stats, this.kv, selector, { batchSize: 100 }, (r) => {
      if (matchesQuery(toLetter(group, r[r.length - 1].value), query)) matched++;
      return matched >= limit;
    });
    return read.map((e) => toLetter(group, e.value)).filter((d) => matchesQuery(d, query));
  }

  async purgeDeadLetters(group: string, options: PurgeOptions = {}): Promise<number> {
    const all = await list<DeadEntry>(this.stats, this.kv, { prefix: deadPrefix(group) });
    const doomed = all.filter((e) => purgeSelects(toLetter(group, e.value), options));
    await this.#delete(doomed.map((e) => e.key));
    if (doomed.length > 0) {
      await commit(this.stats, this.kv, (op) => countDead(op, group, -doomed.length));
    }
    return doomed.length;
  }

  async deleteGroup(group: string, stream?: string): Promise<boolean> {
    // Cursors, leases, retries, and the key-order holds and parked events.
    const prefixes: Deno.KvKey[] = stream === undefined
      ? ["cur", "lease", "retry", "hold", "park"].map((part) => ["herald", part, group])
      : [
        leasePrefix(group, stream),
        retryPrefix(group, stream),
        ["herald", "hold", group, stream],
        ["herald", "park", group, stream],
      ];
    if (stream === undefined) prefixes.push(deadPrefix(group), seenPrefix(group));
    const keys: Deno.KvKey[] = [];
    if (stream !== undefined) {
      const cursor = await get(this.stats, this.kv, cursorKey(group, stream));
      if (cursor.versionstamp !== null) keys.push(cursor.key);
      else return false;
    }
    for (const prefix of prefixes) {
      for (const e of await list(this.stats, this.kv, { prefix })) keys.push(e.key);
    }
    const found = keys.length > 0;
    if (stream === undefined) keys.push(deadCountKey(group));
    await this.#delete(keys);
    return found;
  }

  async resetGroup(group: string, stream: string, to: Position): Promise<void> {
    const key = cursorKey(group, stream);
    if ((await get(this.stats, this.kv, key)).versionstamp === null) {
      throw new NotFoundError("group", `No group "${group}" on stream "${stream}"`);
    }
    const cursor = await this.#cursorAt(stream, checkPosition(to));
    await commit(this.stats, this.kv, (op) => op.set(key, cursor));
  }

  async peek(stream: string, options: PeekOptions = {}): Promise<PeekPage> {
    const after = options.after !== undefined
      ? positionOf(options.after)
      : (await this.#cursorAt(stream, checkPosition(options.from ?? "earliest")))[0];
    return await this.#read(stream, after, options.limit ?? 50);
  }

  /** The cursor that reads `stream` on from where `to` points. */
  async #cursorAt(stream: string, to: Position): Promise<Cursor> {
    if (typeof to === "string" || to instanceof Date) {
      return await startCursor(this.kv, this.stats, stream, to);
    }
    const found = positionOf(
      await findEvent((o) => this.peek(stream, o), stream, to.eventId),
    );
    const [entry] = await list(this.stats, this.kv, {
      prefix: eventPrefix(stream),
      end: eventKey(stream, found + 1),
    }, { reverse: true, limit: 1 });
    return [found - 1, entry ? entry.key[3] as number : found];
  }

  /** Reads up to `limit` events after sequence number `after`. */
  async #read(stream: string, after: number, limit: number): Promise<PeekPage> {
    const [covering] = await list(this.stats, this.kv, {
      prefix: eventPrefix(stream),
      end: eventKey(stream, after + 2),
    }, { reverse: true, limit: 1 });
    const entries = covering && lastOf(covering.key[3] as number, covering.value) > after
      ? [covering]
      : [];
    const events: StreamEvent[] = [];
    const take = (first: number, value: unknown) => {
      for (const [seq, v] of unpack(first, value)) {
        if (seq <= after || events.length >= limit) continue;
        events.push(
          envelopeProblem(v) === undefined
            ? { position: String(seq), envelope: v as Envelope }
            : { position: String(seq), raw: v },
        );
      }
    };
    for (const e of entries) take(e.key[3] as number, e.value);
    if (events.length < limit) {
      let n = events.length;
      const read = await scan(
        this.stats,
        this.kv,
        { start: eventKey(stream, after + 2), end: eventKey(stream, MAX_SEQ) },
        { batchSize: Math.min(100, limit) },
        (r) => (n += unpack(0, r[r.length - 1].value).length) >= limit,
      );
      for (const e of read) take(e.key[3] as number, e.value);
    }
    return { events, next: events.at(-1)?.position ?? String(after) };
  }

  async #delete(keys: readonly Deno.KvKey[]): Promise<void> {
    for (let i = 0; i < keys.length; i += DELETE_CHUNK) {
      const part = keys.slice(i, i + DELETE_CHUNK);
      await commit(this.stats, this.kv, (op) => {
        for (const k of part) op.delete(k);
      });
    }
  }
}

function toLetter(group: string, d: DeadEntry): DeadLetter {
  const letter: { -readonly [K in keyof DeadLetter]: DeadLetter[K] } = {
    id: d.id,
    group,
    stream: d.stream,
    error: d.error,
    attempts: d.attempts,
    at: d.at,
    cursor: d.id,
  };
  if (d.envelope !== undefined) letter.envelope = d.envelope;
  else letter.raw = d.raw;
  return letter;
}

function isoOf(value: unknown): string | undefined {
  const t = timeOf(value);
  return Number.isFinite(t) ? new Date(t).toISOString() : undefined;
}

function positionOf(text: string): number {
  const n = Number(text);
  if (typeof text !== "string" || !Number.isSafeInteger(n) || n < 0) {
    throw new TypeError(`Not a position: ${JSON.stringify(text)}`);
  }
  return n;
}
