/**
 * Appending events: each stream has a sequence number, and every append checks the sequence's
 * versionstamp and writes its events under the next numbers in one atomic operation. A reader
 * that sees number N therefore sees every number below it, whatever order publishers' ids are
 * in. Concurrent appends in this process are coalesced into one commit.
 *
 * @module
 */
import type { AppendOptions } from "../backend.ts";
import { type Envelope, envelopeJson, envelopeProblem, MAX_ENVELOPE_BYTES } from "../envelope.ts";
import { EnvelopeTooLargeError } from "../errors.ts";
import { pack, runs, storedSize } from "./chunks.ts";
import { dedupeKey, endKey, eventKey, indexKeys, indexWrites, seqKey } from "./keys.ts";
import { entryEnd } from "./retention.ts";
import {
  APPEND_SHORT_RETRIES,
  backoff,
  commit,
  getMany,
  isLocked,
  keyBytes,
  type KvStats,
  LIMITS,
  utf8Bytes,
} from "./store.ts";

/** How long appended ids are remembered for `dedupe`, in milliseconds: a day and an hour. */
const DEDUPE_MS = 25 * 60 * 60 * 1000;

/** No ids appended before: what a batch without dedupe skips. */
const NONE: ReadonlySet<string> = new Set();

/** Headroom under Deno KV's byte limits: values are stored in V8's encoding, not JSON. */
const BYTES_BUDGET = Math.floor(LIMITS.mutationBytes * 0.85);
/** The most bytes an entry's end (`EntryEnd`, keys.ts) takes as Deno KV stores it. */
const END_BYTES = 40;

interface Cost {
  /** Each event's stored size, estimated. */
  sizes: number[];
  mutations: number;
  bytes: number;
  keyBytes: number;
  streams: Set<string>;
}

interface Pending {
  events: readonly Envelope[];
  dedupe: boolean;
  cost: Cost;
  resolve: () => void;
  reject: (err: unknown) => void;
}

interface SeqState {
  seq: number;
  versionstamp: string | null;
}

/** Appends events to streams; one per backend. */
export class Appender {
  #seqs = new Map<string, SeqState>();
  #pending: Pending[] = [];
  #flushing: Promise<void> | undefined;

  /**
   * @param kv The database.
   * @param stats Counters to update.
   * @param onAppended Called with the streams written after each successful commit.
   * @param journeys Whether events are indexed by correlation id (see `KvOptions.journeys`).
   */
  constructor(
    private readonly kv: Deno.Kv,
    private readonly stats: KvStats,
    private readonly onAppended: (streams: string[]) => void,
    private readonly journeys = false,
  ) {}

  /** Appends events, all or none, coalesced with other appends made meanwhile. */
  append(events: readonly Envelope[], options: AppendOptions = {}): Promise<void> {
    // Bad input rejects the promise, as from an async function: callers need not also catch.
    const dedupe = options?.dedupe === true;
    let cost: Cost;
    try {
      cost = costOf(events, dedupe);
    } catch (err) {
      return Promise.reject(err);
    }
    if (events.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.#pending.push({ events, dedupe, cost, resolve, reject });
      // Start on the next microtask so appends made in the same tick share the commit.
      this.#flushing ??= Promise.resolve().then(() => this.#flush());
    });
  }

  /** Waits for appends in flight. */
  async idle(): Promise<void> {
    while (this.#flushing) await this.#flushing;
  }

  /** Commits `build`'s operation with the events in it; see `AtomicAppender.appendAtomic`. */
  async appendAtomic(
    build: (op: Deno.AtomicOperation) => void,
    events: readonly Envelope[],
  ): Promise<Deno.KvCommitResult | Deno.KvCommitError> {
    const cost = costOf(events, false);
    const streams = [...new Set(events.map((e) => e.stream))];
    for (let attempt = 0;; attempt++) {
      const states = await this.#seqStates(streams);
      const { writes, next } = numbered(
        streams,
        states,
        events.map((e, i) => [e, cost.sizes[i]]),
        this.journeys,
      );
      const result = await this.#commitOp(() =>
        commit(this.stats, this.kv, (op) => {
          build(op);
          for (const s of streams) {
            op.check({ key: seqKey(s), versionstamp: states.get(s)!.versionstamp });
          }
          for (const [k, v] of writes) op.set(k, v);
          for (const s of streams) op.set(seqKey(s), next.get(s)!);
        }, APPEND_SHORT_RETRIES)
      );
      if (result.ok) {
        this.#committed(streams, next, result.versionstamp);
        return result;
      }
      // Tell our sequence check apart from the caller's own checks.
      const fresh = await getMany<number>(this.stats, this.kv, streams.map(seqKey));
      let ours = false;
      streams.forEach((s, i) => {
        if (fresh[i].versionstamp !== states.get(s)!.versionstamp) ours = true;
        this.#seqs.set(s, {
          seq: Number(fresh[i].value ?? 0),
          versionstamp: fresh[i].versionstamp,
        });
      });
      if (!ours) return result;
      this.stats.appendConflicts++;
      await backoff(attempt, this.kv, APPEND_SHORT_RETRIES);
    }
  }

  /** Forgets a cached sequence number (after a trim or on suspicion). */
  forget(stream: string): void {
    this.#seqs.delete(stream);
  }

  /** The last sequence number appended to `stream`, as known now. */
  async lastSeq(stream: string): Promise<number> {
    this.#seqs.delete(stream);
    return (await this.#seqStates([stream])).get(stream)!.seq;
  }

  async #flush(): Promise<void> {
    try {
      while (this.#pending.length > 0) {
        const batch = this.#takeBatch();
        try {
          await this.#commit(batch);
          for (const p of batch) p.resolve();
        } catch (err) {
          if (batch.length === 1) {
            batch[0].reject(err);
            continue;
          }
          // One bad append must not fail the others it was coalesced with.
          for (const p of batch) {
            try {
              await this.#commit([p]);
              p.resolve();
            } catch (e) {
              p.reject(e);
            }
          }
        }
      }
    } finally {
      this.#flushing = undefined;
    }
  }

  #takeBatch(): Pending[] {
    const batch = [this.#pending.shift()!];
    const total = { ...batch[0].cost, streams: new Set(batch[0].cost.streams) };
    while (this.#pending.length > 0) {
      const c = this.#pending[0].cost;
      const streams = new Set([...total.streams, ...c.streams]);
      if (
        total.mutations + c.mutations > LIMITS.mutations - streams.size ||
        streams.size > LIMITS.checks ||
        total.bytes + c.bytes > BYTES_BUDGET ||
        total.keyBytes + c.keyBytes > LIMITS.keyBytes * 0.9
      ) break;
      total.mutations += c.mutations;
      total.bytes += c.bytes;
      total.keyBytes += c.keyBytes;
      total.streams = streams;
      batch.push(this.#pending.shift()!);
    }
    return batch;
  }

  async #commit(batch: Pending[]): Promise<void> {
    if (await this.#commitDirect(batch)) return;
    const all = new Set<string>();
    for (const p of batch) for (const s of p.cost.streams) all.add(s);
    const streams = [...all];
    for (let attempt = 0;; attempt++) {
      // Read sequences before the dedupe keys: an append of the same id committed after the
      // sequence we check moves it, so our commit fails and we look again.
      // Both are known without a read in the common case (sequences cached, no dedupe): no await.
      const states = this.#cachedStates(streams) ?? await this.#seqStates(streams);
      const skip = batch.some((p) => p.dedupe) ? await this.#appendedBefore(batch) : NONE;
      const chosen: [Envelope, number][] = [];
      const remember: string[] = [];
      const seen = new Set<string>();
      for (const p of batch) {
        p.events.forEach((e, i) => {
          if (p.dedupe) {
            if (skip.has(e.id) || seen.has(e.id)) return;
            seen.add(e.id);
            remember.push(e.id);
          }
          chosen.push([e, p.cost.sizes[i]]);
        });
      }
      const { writes, next } = numbered(streams, states, chosen, this.journeys);
      if (writes.length === 0) return;
      const used = streams.filter((s) => next.get(s) !== states.get(s)!.seq);
      const result = await this.#commitOp(() =>
        commit(this.stats, this.kv, (op) => {
          for (const s of used) {
            op.check({ key: seqKey(s), versionstamp: states.get(s)!.versionstamp });
          }
          for (const [k, v] of writes) {
            op.set(k, v);
          }
          for (const id of remember) op.set(dedupeKey(id), 1, { expireIn: DEDUPE_MS });
          for (const s of used) op.set(seqKey(s), next.get(s)!);
        }, APPEND_SHORT_RETRIES)
      );
      if (result.ok) {
        this.stats.appendCommits++;
        this.#committed(used, next, result.versionstamp);
        return;
      }
      this.stats.appendConflicts++;
      for (const s of used) this.#seqs.delete(s);
      await backoff(attempt, this.kv, APPEND_SHORT_RETRIES);
    }
  }

  /**
   * Commits the common append in one go: events of one stream, no dedupe, the stream's sequence
   * cached. Nothing is built that this case does not need: a sequential publisher waits on
   * everything done between two commits, which costs it more than the CPU time of that work.
   *
   * @returns `false` when the batch is not that case, or the commit met another writer (a moved
   *   sequence, a locked database): the general path then takes it, with its retries.
   */
  async #commitDirect(batch: Pending[]): Promise<boolean> {
    if (batch.length !== 1) return false;
    const { events, dedupe, cost } = batch[0];
    if (dedupe || cost.streams.size !== 1) return false;
    const stream = events[0].stream;
    const state = this.#seqs.get(stream);
    if (!state) return false;
    const seq = state.seq + events.length;
    const key = seqKey(stream);
    let result: Deno.KvCommitResult | Deno.KvCommitError;
    try {
      const op = this.kv.atomic().check({ key, versionstamp: state.versionstamp });
      let first = state.seq + 1;
      for (const run of runs(events as Envelope[], cost.sizes)) {
        op.set(eventKey(stream, first), pack(run));
        if (run.length > 1) op.set(endKey(stream, first), entryEnd(first, run, this.journeys));
        first += run.length;
      }
      op.set(key, seq);
      if (this.journeys) {
        events.forEach((e, i) => {
          for (const [k, v] of indexWrites(e, state.seq + 1 + i)) op.set(k, v);
        });
      }
      result = await op.commit();
    } catch (err) {
      if (isLocked(err)) return false;
      throw tooBig(err);
    }
    if (!result.ok) {
      this.stats.appendConflicts++;
      this.#seqs.delete(stream);
      return false;
    }
    this.stats.appendCommits++;
    this.#seqs.set(stream, { seq, versionstamp: result.versionstamp });
    this.onAppended([stream]);
    return true;
  }

  async #commitOp(
    run: () => Promise<Deno.KvCommitResult | Deno.KvCommitError>,
  ): Promise<Deno.KvCommitResult | Deno.KvCommitError> {
    try {
      return await run();
    } catch (err) {
      throw tooBig(err);
    }
  }

  #committed(streams: string[], next: Map<string, number>, versionstamp: string): void {
    for (const s of streams) this.#seqs.set(s, { seq: next.get(s)!, versionstamp });
    this.onAppended(streams);
  }

  async #appendedBefore(batch: Pending[]): Promise<Set<string>> {
    const ids = batch.filter((p) => p.dedupe).flatMap((p) => p.events.map((e) => e.id));
    if (ids.length === 0) return new Set();
    const found = await getMany(this.stats, this.kv, ids.map(dedupeKey));
    return new Set(ids.filter((_, i) => found[i].versionstamp !== null));
  }

  /** The streams' sequences when all are cached, else `undefined`. */
  #cachedStates(streams: readonly string[]): Map<string, SeqState> | undefined {
    const out = new Map<string, SeqState>();
    for (const s of streams) {
      const state = this.#seqs.get(s);
      if (!state) return undefined;
      out.set(s, state);
    }
    return out;
  }

  async #seqStates(streams: readonly string[]): Promise<Map<string, SeqState>> {
    const missing = streams.filter((s) => !this.#seqs.has(s));
    if (missing.length > 0) {
      const entries = await getMany<number>(this.stats, this.kv, missing.map(seqKey));
      missing.forEach((s, i) => {
        this.#seqs.set(s, {
          seq: Number(entries[i].value ?? 0),
          versionstamp: entries[i].versionstamp,
        });
      });
    }
    return this.#cachedStates(streams)!;
  }
}

/** Our estimate of Deno KV's limits missed: reports it as the caller's batch being too big. */
function tooBig(err: unknown): unknown {
  if (err instanceof Error && /too large|too many/i.test(err.message)) {
    return new RangeError(`Append does not fit in one Deno KV operation: ${err.message}`, {
      cause: err,
    });
  }
  return err;
}

/**
 * Checks the events and what one commit of them costs against Deno KV's limits.
 *
 * @throws {TypeError} when an event is not an envelope.
 * @throws {RangeError} when they cannot be written in one atomic operation.
 */
function costOf(events: readonly Envelope[], dedupe: boolean): Cost {
  if (!Array.isArray(events)) throw new TypeError("events must be an array of envelopes");
  const cost: Cost = { sizes: [], mutations: 0, bytes: 0, keyBytes: 0, streams: new Set() };
  for (const e of events) {
    const problem = envelopeProblem(e);
    if (problem) throw new TypeError(`Cannot append a malformed envelope: ${problem}`);
    const json = envelopeJson(e); // the JSON the publish already made, when it did
    const bytes = utf8Bytes(json);
    if (bytes > MAX_ENVELOPE_BYTES) {
      throw new EnvelopeTooLargeError(e.id, bytes, MAX_ENVELOPE_BYTES);
    }
    const size = storedSize(json, bytes);
    cost.sizes.push(size);
    const index = indexKeys(e);
    let k = dedupe ? keyBytes(dedupeKey(e.id)) : 0;
    for (const key of index) k += keyBytes(key);
    cost.streams.add(e.stream);
    cost.mutations += (dedupe ? 1 : 0) + index.length;
    cost.bytes += size + k + (dedupe ? 8 : 0) + 40 * index.length;
    cost.keyBytes += k;
  }
  // The events' own writes: two per chunk (the chunk and its end; one for a single event), as
  // numbered() will pack them.
  for (const s of cost.streams) {
    const mine = events.flatMap((e, i) => (e.stream === s ? [i] : []));
    const chunks = runs(mine.map((i) => events[i]), mine.map((i) => cost.sizes[i])).length;
    const keys = keyBytes(eventKey(s, 0)) + keyBytes(endKey(s, 0));
    cost.mutations += 2 * chunks;
    cost.keyBytes += chunks * keys;
    cost.bytes += chunks * (keys + END_BYTES);
  }
  for (const s of cost.streams) {
    cost.mutations++;
    cost.keyBytes += 2 * keyBytes(seqKey(s));
    cost.bytes += keyBytes(seqKey(s)) + 16;
  }
  if (
    cost.mutations > LIMITS.mutations || cost.streams.size > LIMITS.checks ||
    cost.bytes > BYTES_BUDGET || cost.keyBytes > LIMITS.keyBytes * 0.9
  ) {
    throw new RangeError(
      `${events.length} events do not fit in one Deno KV atomic operation ` +
        `(${cost.mutations} of ${LIMITS.mutations} mutations, ~${cost.bytes} of ` +
        `${BYTES_BUDGET} bytes, ${cost.streams.size} streams): append them in smaller batches`,
    );
  }
  return cost;
}

/**
 * Numbers events from each stream's sequence and packs each stream's run into chunks.
 *
 * @returns the writes and each stream's new last sequence number.
 */
function numbered(
  streams: readonly string[],
  states: Map<string, SeqState>,
  events: [Envelope, number][],
  journeys: boolean,
): { writes: [Deno.KvKey, unknown][]; next: Map<string, number> } {
  const next = new Map(streams.map((s) => [s, states.get(s)!.seq]));
  const byStream = new Map<string, [Envelope[], number[]]>();
  for (const [e, size] of events) {
    let b = byStream.get(e.stream);
    if (!b) byStream.set(e.stream, b = [[], []]);
    b[0].push(e);
    b[1].push(size);
  }
  const writes: [Deno.KvKey, unknown][] = [];
  for (const [stream, [list, sizes]] of byStream) {
    for (const run of runs(list, sizes)) {
      const first = next.get(stream)! + 1;
      writes.push([eventKey(stream, first), pack(run)]);
      if (run.length > 1) writes.push([endKey(stream, first), entryEnd(first, run, journeys)]);
      if (journeys) run.forEach((e, i) => writes.push(...indexWrites(e, first + i)));
      next.set(stream, first + run.length - 1);
    }
  }
  return { writes, next };
}
