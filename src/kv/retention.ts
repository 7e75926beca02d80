/**
 * Retention: trims the oldest events of a stream by age and/or count. By default a stream keeps
 * its newest {@linkcode DEFAULT_MAX_LENGTH} events. Trimming does not wait for groups that are
 * behind: they skip what was trimmed, and the claim counts and logs what they lost.
 *
 * @module
 */
import { defaultLogger } from "../telemetry/log.ts";
import { envelopeProblem } from "../envelope.ts";
import type { Envelope } from "../envelope.ts";
import { lastOf, unpack } from "./chunks.ts";
import {
  endKey,
  endPrefix,
  type EntryEnd,
  eventKey,
  eventPrefix,
  indexKeys,
  seqKey,
} from "./keys.ts";
import { DEFAULT_MAX_LENGTH, type KvOptions, type RetentionOptions } from "./options.ts";
import { commit, get, type KvStats, list } from "./store.ts";
import { timeOf } from "./subscribe.ts";

/**
 * Stored entries read per step, first and at most: a trim after a second of appends usually
 * deletes a few entries, and each entry may hold a whole append's events, so a step starts small
 * and doubles while everything it read could go.
 */
const FIRST_PAGE = 16;
const MAX_PAGE = 500;
/** Keys deleted per atomic operation (Deno KV allows 1,000 mutations). */
const DELETES = 900;

const log = defaultLogger("herald");
/** The least time between two automatic trims of one stream, in milliseconds. */
const AUTO_TRIM_MS = 1_000;

/** Trims streams by the backend's retention options. */
export class Trimmer {
  #lastAuto = new Map<string, number>();
  #running = new Set<Promise<unknown>>();
  /**
   * Per stream, the oldest entry the last trim kept: its last sequence number and newest event
   * time. Entries only ever go from the front, so while it may stay, everything after it may.
   */
  #floor = new Map<string, { seq: number; time: number }>();
  private readonly options: Exclude<KvOptions["retention"], "none" | undefined> | undefined;

  constructor(
    private readonly kv: Deno.Kv,
    private readonly stats: KvStats,
    options: KvOptions["retention"],
  ) {
    this.options = options === "none" ? undefined : options ?? { maxLength: DEFAULT_MAX_LENGTH };
  }

  /** The limits that apply to a stream, if any. */
  limitsOf(stream: string): RetentionOptions | undefined {
    const o = this.options;
    if (!o) return undefined;
    const r = o.streams?.[stream] ?? o;
    if (r === "none") return undefined;
    const limits: RetentionOptions = {};
    if (r.maxAgeMs !== undefined) limits.maxAgeMs = r.maxAgeMs;
    if (r.maxLength !== undefined) limits.maxLength = r.maxLength;
    return r.maxAgeMs === undefined && r.maxLength === undefined ? undefined : limits;
  }

  /** Starts a background trim of streams just appended to, at most once a second each. */
  appended(streams: readonly string[]): void {
    if (!this.options) return;
    const now = Date.now();
    for (const s of streams) {
      if (!this.limitsOf(s) || now - (this.#lastAuto.get(s) ?? 0) < AUTO_TRIM_MS) continue;
      this.#lastAuto.set(s, now);
      const p = this.trim(s).catch((err) => {
        log.warn("trimming a stream failed", { stream: s, error: err });
      });
      this.#running.add(p);
      p.finally(() => this.#running.delete(p));
    }
  }

  /** Waits for background trims. */
  async idle(): Promise<void> {
    await Promise.all(this.#running);
  }

  /**
   * Deletes the events of `stream` that its limits no longer keep.
   *
   * @returns how many were deleted.
   */
  async trim(stream: string): Promise<number> {
    const limits = this.limitsOf(stream);
    if (!limits) return 0;
    const last = Number((await get<number>(this.stats, this.kv, seqKey(stream))).value ?? 0);
    const keepFrom = limits.maxLength === undefined ? 0 : last - limits.maxLength + 1;
    const cutoff = limits.maxAgeMs === undefined ? -Infinity : Date.now() - limits.maxAgeMs;
    // Nothing can go yet: no read of the stream's oldest entries (a trim follows every second
    // of appends, and each entry may hold a whole append's events).
    const floor = this.#floor.get(stream);
    if (keepFrom <= 1 && cutoff === -Infinity) return 0;
    if (floor && floor.seq >= keepFrom && floor.time >= cutoff) return 0;
    const bound = { keepFrom, cutoff };
    let deleted = 0;
    for (let limit = FIRST_PAGE;; limit = Math.min(MAX_PAGE, limit * 2)) {
      const step = await this.#step(stream, bound, limit);
      deleted += step.deleted;
      if (!step.more) return deleted;
    }
  }

  /**
   * Deletes up to `limit` of the stream's oldest entries that may go: by their ends (no event is
   * read) unless entries without one come first (single events, or chunks appended before ends
   * were written), which are read. Looking for those before the oldest end reads no event.
   */
  async #step(stream: string, bound: Bound, limit: number): Promise<Step> {
    const [end] = await list<EntryEnd>(this.stats, this.kv, { prefix: endPrefix(stream) }, {
      limit: 1,
    });
    const before: Deno.KvListSelector = end
      ? { prefix: eventPrefix(stream), end: eventKey(stream, end.key[3] as number) }
      : { prefix: eventPrefix(stream) };
    const [older] = await list(this.stats, this.kv, before, { limit: 1 });
    if (older) return await this.#byEvents(stream, bound, limit);
    return end ? await this.#byEnds(stream, bound, limit) : { deleted: 0, more: false };
  }

  /** A step that reads only the entries' ends (and events only for their index entries). */
  async #byEnds(stream: string, bound: Bound, limit: number): Promise<Step> {
    const page = await list<EntryEnd>(this.stats, this.kv, { prefix: endPrefix(stream) }, {
      limit,
    });
    const doomed: number[] = [];
    let indexed = false;
    for (const e of page) {
      const [last, newest, index] = e.value;
      if (last >= bound.keepFrom && newest >= bound.cutoff) {
        this.#floor.set(stream, { seq: last, time: newest });
        break;
      }
      doomed.push(e.key[3] as number);
      if (index === 1) indexed = true;
    }
    if (doomed.length === 0) return { deleted: 0, more: false };
    // Correlation index entries go first, so that none outlives its event for long.
    const keys = indexed ? await this.#indexKeysOf(stream, doomed[0], doomed.at(-1)!) : [];
    for (const first of doomed) keys.push(eventKey(stream, first), endKey(stream, first));
    await this.#delete(keys);
    return { deleted: doomed.length, more: doomed.length === page.length };
  }

  /** The correlation index keys of the events stored in entries `from` to `to`. */
  async #indexKeysOf(stream: string, from: number, to: number): Promise<Deno.KvKey[]> {
    const entries = await list(this.stats, this.kv, {
      start: eventKey(stream, from),
      end: eventKey(stream, to + 1),
    });
    return entries.flatMap((e) => indexKeysIn(e.key[3] as number, e.value));
  }

  /** A step that reads the entries themselves: whole entries go once their newest event may. */
  async #byEvents(stream: string, bound: Bound, limit: number): Promise<Step> {
    const page = await list(this.stats, this.kv, { prefix: eventPrefix(stream) }, { limit });
    let doomed = 0;
    const keys: Deno.KvKey[] = [];
    for (const e of page) {
      const first = e.key[3];
      if (typeof first !== "number") break;
      const seq = lastOf(first, e.value);
      const time = bound.cutoff === -Infinity ? Infinity : newestTime(first, e.value);
      if (seq >= bound.keepFrom && time >= bound.cutoff) {
        this.#floor.set(stream, { seq, time });
        break;
      }
      doomed++;
      // An entry read here may have an end all the same (appended by a newer process).
      keys.push(...indexKeysIn(first, e.value), e.key, endKey(stream, first));
    }
    if (doomed === 0) return { deleted: 0, more: false };
    await this.#delete(keys);
    return { deleted: doomed, more: doomed === page.length };
  }

  /** Deletes `keys`, as many to a commit as Deno KV allows. */
  async #delete(keys: readonly Deno.KvKey[]): Promise<void> {
    for (let i = 0; i < keys.length; i += DELETES) {
      const part = keys.slice(i, i + DELETES);
      await commit(this.stats, this.kv, (op) => {
        for (const k of part) op.delete(k);
      });
    }
  }
}

/** What a trim keeps: sequence numbers from `keepFrom` on, events newer than `cutoff`. */
interface Bound {
  keepFrom: number;
  cutoff: number;
}

/** What one step of a trim did, and whether more may go. */
interface Step {
  deleted: number;
  more: boolean;
}

/** The time of the newest event of a stored entry. */
function newestTime(first: number, value: unknown): number {
  const events = unpack(first, value);
  return timeOf(events[events.length - 1][1]);
}

/** The correlation index keys of the events a stored entry holds. */
function indexKeysIn(first: number, value: unknown): Deno.KvKey[] {
  return unpack(first, value).flatMap(([, v]) =>
    envelopeProblem(v) ? [] : indexKeys(v as Envelope)
  );
}

/**
 * The {@linkcode EntryEnd} of a chunk, `run`, appended from sequence number `first`; `indexed`
 * when its events also go into the correlation index.
 */
export function entryEnd(first: number, run: readonly Envelope[], indexed: boolean): EntryEnd {
  const end: EntryEnd = [first + run.length - 1, timeOf(run[run.length - 1])];
  if (indexed) end.push(1);
  return end;
}
