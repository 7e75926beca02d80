/**
 * The in-memory backend: the whole semantic model in plain data structures, for tests, examples
 * and single-isolate programs. Nothing survives the process.
 *
 * @module
 */
import type {
  Backend,
  BackendFeatures,
  ClaimOptions,
  DeadLetter,
  Delivery,
  Settlement,
  StartPosition,
} from "../backend.ts";
import { type Envelope, envelopeProblem } from "../envelope.ts";
import type {
  DeadLetterQuery,
  GroupInfo,
  PeekOptions,
  PeekPage,
  Position,
  PurgeOptions,
  StreamInfo,
} from "../inspect.ts";
import { journeysOff, type Trace, type TraceOptions } from "../trace.ts";
import { InvalidOptionsError } from "../errors.ts";
import { MemoryInspector } from "./inspect.ts";
import {
  type PushEndpoint,
  type PushRegistry,
  type RateLimits,
  rateWindow,
} from "../capabilities.ts";
import { MemorySchedule } from "./schedule.ts";
import { Promoter } from "../promoter.ts";
import type { Promotion, ScheduledEvent, Scheduler } from "../schedule.ts";
import { defaultLogger } from "../telemetry/log.ts";

interface Entry {
  seq: number;
  value: unknown;
  at: number;
}

interface Lease {
  stream: string;
  seq: number;
  value: unknown;
  token: string;
  attempt: number;
  expires: number;
}

interface Pending {
  stream: string;
  seq: number;
  value: unknown;
  attempt: number;
  due: number;
  /** A redriven event: it takes its key again (or parks behind it) when claimed. */
  redriven?: true;
}

/** A held key: the event holding it, and the events parked behind it in append order. */
interface KeyHold {
  seq: number;
  parked: Pending[];
}

interface GroupState {
  cursors: Map<string, number>;
  leases: Map<string, Lease>;
  pending: Pending[];
  dead: Map<string, DeadLetter & { seq: number; n: number }>;
  /** Keys held in the group, by `stream\nkey`. */
  keys: Map<string, KeyHold>;
}

/**
 * Options of {@linkcode memory}.
 *
 * @example Following requests in tests
 * ```ts
 * import type { MemoryOptions } from "@herald/herald";
 * const options: MemoryOptions = { journeys: true };
 * ```
 */
export interface MemoryOptions {
  /**
   * Index every appended event by its correlation id, so that `trace()` (journeys) can follow a
   * request. Off, `trace()` rejects with a `NotFoundError` saying journeys are off.
   *
   * @default {false}
   */
  journeys?: boolean;
}

/**
 * Makes an in-memory backend.
 *
 * @param options `journeys: true` to follow requests with `trace()`.
 * @returns The backend.
 *
 * @example
 * ```ts
 * import { createBus, createMemoryBackend } from "@herald/herald";
 * const bus = createBus({ backend: createMemoryBackend(), source: "demo" });
 * await bus.close();
 * ```
 */
export function createMemoryBackend(options: MemoryOptions = {}): MemoryBackend {
  if (options.journeys !== undefined && typeof options.journeys !== "boolean") {
    throw new InvalidOptionsError("createMemoryBackend()", ["journeys must be a boolean"]);
  }
  return new MemoryBackend(options.journeys === true);
}

/** The in-memory backend. Made by {@linkcode memory}. */
export class MemoryBackend implements Backend, RateLimits, PushRegistry, Scheduler {
  /** Always `memory`. */
  readonly name = "memory";
  /** Single isolate, nothing persisted. */
  readonly features: BackendFeatures = { crossProcess: false, persistent: false };
  readonly #streams = new Map<string, Entry[]>();
  readonly #groups = new Map<string, GroupState>();
  readonly #seen = new Set<string>();
  readonly #locks = new Map<string, number>();
  readonly #rates = new Map<string, { w: number; n: number }>();
  readonly #push = new Map<string, Map<string, { url: string; secret: string }>>();
  readonly #wakers = new Set<() => void>();
  readonly #inspector = new MemoryInspector(this.#streams, this.#groups);
  readonly #schedule = new MemorySchedule();
  readonly #promoter = new Promoter(
    (now, max) => this.promote(now, max),
    1_000,
    (error) => defaultLogger("herald").error("promoting delayed events failed", { error }),
  );
  #deadCount = 0;
  #closed = false;

  /**
   * Makes the backend; `createMemoryBackend()` is the way in.
   *
   * @param journeys Whether appends are indexed for `trace()`.
   */
  constructor(private readonly journeys = false) {}

  /** Appends events, all at once. */
  append(events: readonly Envelope[], options: { dedupe?: boolean } = {}): Promise<void> {
    this.#open();
    for (const e of events) {
      if (options.dedupe && this.#seen.has(e.id)) continue;
      this.#seen.add(e.id);
      this.appendRaw(e.stream, structuredClone(e));
      if (this.journeys) this.#inspector.indexed(e, this.#streams.get(e.stream)!.at(-1)!.seq);
    }
    return Promise.resolve();
  }

  /**
   * Appends anything to a stream, as a foreign writer might; for tests of malformed entries.
   *
   * @param stream The stream.
   * @param value What to store.
   */
  appendRaw(stream: string, value: unknown): void {
    const entries = this.#streams.get(stream) ?? [];
    this.#streams.set(stream, entries);
    entries.push({ seq: (entries.at(-1)?.seq ?? 0) + 1, value, at: Date.now() });
    for (const wake of this.#wakers) wake();
  }

  /** Creates the group's cursor on each stream if it has none. */
  subscribe(group: string, streams: readonly string[], start: StartPosition): Promise<void> {
    this.#open();
    const state = this.#group(group);
    for (const stream of streams) {
      if (state.cursors.has(stream)) continue;
      const entries = this.#streams.get(stream) ?? [];
      let cursor = 0;
      if (start === "latest") cursor = entries.at(-1)?.seq ?? 0;
      else if (start instanceof Date) {
        const first = entries.find((e) => e.at >= start.getTime());
        cursor = first ? first.seq - 1 : (entries.at(-1)?.seq ?? 0);
      }
      state.cursors.set(stream, cursor);
    }
    return Promise.resolve();
  }

  /** Leases due retries, expired leases, then new events; waits when there are none. */
  async claim(
    group: string,
    streams: readonly string[],
    options: ClaimOptions,
  ): Promise<Delivery[]> {
    const deadline = Date.now() + options.waitMs;
    while (true) {
      this.#open();
      this.#inspector.seen(group, options.consumer);
      const out = this.#take(this.#group(group), streams, options);
      const left = deadline - Date.now();
      if (out.length > 0 || left <= 0 || options.signal?.aborted) return out;
      await this.#sleep(Math.min(left, 50), options.signal);
    }
  }

  #take(state: GroupState, streams: readonly string[], options: ClaimOptions): Delivery[] {
    const now = Date.now();
    const out: Delivery[] = [];
    const lease = (p: Omit<Lease, "token" | "expires">) => {
      const token = crypto.randomUUID();
      state.leases.set(`${p.stream}\n${p.seq}`, { ...p, token, expires: now + options.leaseMs });
      out.push(toDelivery(p.stream, p.seq, token, p.attempt, p.value));
    };
    state.pending.sort((a, b) => a.due - b.due);
    for (let i = 0; i < state.pending.length && out.length < options.max; i++) {
      const p = state.pending[i];
      if (p.due > now) break;
      if (!streams.includes(p.stream)) continue;
      state.pending.splice(i--, 1);
      if (!p.redriven || this.#hold(state, p)) lease(p);
    }
    for (const l of state.leases.values()) {
      if (out.length >= options.max) break;
      if (l.expires <= now && streams.includes(l.stream)) lease({ ...l, attempt: l.attempt + 1 });
    }
    for (const stream of streams) {
      const entries = this.#streams.get(stream) ?? [];
      let cursor = state.cursors.get(stream) ?? 0;
      for (const e of entries) {
        if (out.length >= options.max) break;
        if (e.seq <= cursor) continue;
        cursor = e.seq;
        const p = { stream, seq: e.seq, value: e.value, attempt: 1, due: now };
        if (this.#hold(state, p)) lease(p);
      }
      state.cursors.set(stream, cursor);
    }
    return out;
  }

  /** Extends leases still held; returns the deliveries whose lease was lost. */
  extend(group: string, deliveries: readonly Delivery[], leaseMs: number): Promise<Delivery[]> {
    this.#open();
    const state = this.#group(group);
    const lost: Delivery[] = [];
    for (const d of deliveries) {
      const l = this.#held(state, d);
      if (l) l.expires = Date.now() + leaseMs;
      else lost.push(d);
    }
    return Promise.resolve(lost);
  }

  /** Records outcomes of deliveries whose lease is still held. */
  settle(group: string, settlements: readonly Settlement[]): Promise<void> {
    this.#open();
    const state = this.#group(group);
    const now = Date.now();
    for (const s of settlements) {
      const l = this.#held(state, s.delivery);
      if (!l) continue;
      state.leases.delete(`${l.stream}\n${l.seq}`);
      const { stream, seq, value } = l;
      if (s.outcome === "ack" || s.outcome === "dead") this.#unhold(state, l);
      if (s.outcome === "retry") {
        state.pending.push({ stream, seq, value, attempt: l.attempt + 1, due: now + s.delayMs });
      } else if (s.outcome === "release") {
        state.pending.push({ stream, seq, value, attempt: l.attempt, due: now });
      } else if (s.outcome === "dead") {
        const envelope = envelopeProblem(value) ? undefined : value as Envelope;
        const id = envelope?.id ?? `${stream}:${seq}`;
        state.dead.set(id, {
          id,
          group,
          stream,
          seq,
          n: ++this.#deadCount,
          ...(envelope ? { envelope } : { raw: value }),
          error: s.error,
          attempts: l.attempt,
          at: new Date(now).toISOString(),
        });
      }
    }
    // A release is claimable at once, and so is an event parked behind a key just freed.
    for (const wake of this.#wakers) wake();
    return Promise.resolve();
  }

  /** Lists dead letters, oldest first, filtered and paged by `query`. */
  deadLetters(group: string, query?: DeadLetterQuery): Promise<DeadLetter[]> {
    return this.#sync(() => this.#inspector.deadLetters(group, query));
  }

  /** Lists the streams. */
  streams(): Promise<StreamInfo[]> {
    return this.#sync(() => this.#inspector.streams());
  }

  /** Lists the groups of a stream, or of every stream. */
  groups(stream?: string): Promise<GroupInfo[]> {
    return this.#sync(() => this.#inspector.groups(stream));
  }

  /** Deletes dead letters. */
  purgeDeadLetters(group: string, options?: PurgeOptions): Promise<number> {
    return this.#sync(() => this.#inspector.purgeDeadLetters(group, options));
  }

  /** Deletes a group on a stream, or everywhere. */
  deleteGroup(group: string, stream?: string): Promise<boolean> {
    return this.#sync(() => this.#inspector.deleteGroup(group, stream));
  }

  /** Moves where a group reads a stream next. */
  resetGroup(group: string, stream: string, to: Position): Promise<void> {
    return this.#sync(() => {
      this.#inspector.resetGroup(group, stream, to);
      for (const wake of this.#wakers) wake();
    });
  }

  /** {@inheritDoc Tracer.trace} */
  trace(id: string, options?: TraceOptions): Promise<Trace> {
    if (!this.journeys) return Promise.reject(journeysOff(this.name));
    return this.#sync(() => this.#inspector.trace(id, options));
  }

  /** Reads a stream's events without claiming them. */
  peek(stream: string, options?: PeekOptions): Promise<PeekPage> {
    return this.#sync(() => this.#inspector.peek(stream, options));
  }

  /** Moves dead letters back for delivery with a fresh attempt count. */
  redrive(group: string, ids?: readonly string[]): Promise<number> {
    this.#open();
    const state = this.#group(group);
    let moved = 0;
    for (const [id, d] of state.dead) {
      if (ids && !ids.includes(id)) continue;
      state.dead.delete(id);
      const value = d.envelope ?? d.raw;
      const due = Date.now();
      state.pending.push({ stream: d.stream, seq: d.seq, value, attempt: 1, due, redriven: true });
      moved++;
    }
    for (const wake of this.#wakers) wake();
    return Promise.resolve(moved);
  }

  /** Takes a named lock if it is free or expired. */
  tryLock(name: string, ttlMs: number): Promise<boolean> {
    this.#open();
    const now = Date.now();
    if ((this.#locks.get(name) ?? 0) > now) return Promise.resolve(false);
    this.#locks.set(name, now + ttlMs);
    return Promise.resolve(true);
  }

  /** {@inheritDoc RateLimits.takeRate} */
  takeRate(name: string, max: number, perMs: number): Promise<number> {
    return this.#sync(() => {
      const { index, endsAt } = rateWindow(Date.now(), perMs);
      const cur = this.#rates.get(name);
      const n = cur?.w === index ? cur.n : 0;
      if (n >= max) return Math.max(1, endsAt - Date.now());
      this.#rates.set(name, { w: index, n: n + 1 });
      return 0;
    });
  }

  /** {@inheritDoc PushRegistry.setPushEndpoint} */
  setPushEndpoint(
    group: string,
    streams: readonly string[],
    endpoint: { url: string; secret: string } | null,
  ): Promise<void> {
    return this.#sync(() => {
      for (const stream of streams) {
        const groups = this.#push.get(stream) ?? new Map();
        if (endpoint) groups.set(group, { url: endpoint.url, secret: endpoint.secret });
        else groups.delete(group);
        this.#push.set(stream, groups);
      }
    });
  }

  /** {@inheritDoc PushRegistry.pushEndpoints} */
  pushEndpoints(stream: string): Promise<PushEndpoint[]> {
    return this.#sync(() =>
      [...(this.#push.get(stream) ?? new Map()).entries()].map(([group, e]) => ({ group, ...e }))
    );
  }

  /** {@inheritDoc Scheduler.schedule} */
  schedule(events: readonly ScheduledEvent[]): Promise<void> {
    return this.#sync(() => {
      if (events.length > 0) this.#promoter.scheduled(this.#schedule.add(events));
    });
  }

  /** {@inheritDoc Scheduler.cancel} */
  cancel(id: string): Promise<boolean> {
    return this.#sync(() => this.#schedule.cancel(id));
  }

  /** {@inheritDoc Scheduler.promote} */
  async promote(now: number, max: number): Promise<Promotion> {
    this.#open();
    const { due, next } = this.#schedule.take(now, max);
    await this.append(due);
    return { moved: due.length, next };
  }

  /** Ends waiting claims; later calls fail. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const wake of this.#wakers) wake();
    await this.#promoter.close();
  }

  /** Runs `fn` on the open backend, as a promise that rejects with what it throws. */
  #sync<T>(fn: () => T): Promise<T> {
    try {
      this.#open();
      return Promise.resolve(fn());
    } catch (err) {
      return Promise.reject(err);
    }
  }

  #open(): void {
    if (this.#closed) throw new TypeError("The memory backend is closed");
  }

  #group(group: string): GroupState {
    let state = this.#groups.get(group);
    if (!state) {
      state = {
        cursors: new Map(),
        leases: new Map(),
        pending: [],
        dead: new Map(),
        keys: new Map(),
      };
      this.#groups.set(group, state);
    }
    return state;
  }

  /**
   * Takes the key of an event about to be handed out; when an earlier event holds it, parks the
   * event behind it (in append order) and says no. Unkeyed and malformed events are never held.
   */
  #hold(state: GroupState, p: Pending): boolean {
    const key = keyOf(p.stream, p.value);
    if (key === undefined) return true;
    const hold = state.keys.get(key);
    if (!hold) {
      state.keys.set(key, { seq: p.seq, parked: [] });
      return true;
    }
    const at = hold.parked.findIndex((q) => q.seq > p.seq);
    const { redriven: _, ...parked } = p;
    hold.parked.splice(at < 0 ? hold.parked.length : at, 0, parked);
    return false;
  }

  /** Frees the key an acked or dead event held: the next parked event takes it, ready now. */
  #unhold(state: GroupState, l: Lease): void {
    const key = keyOf(l.stream, l.value);
    const hold = key === undefined ? undefined : state.keys.get(key);
    if (!hold || hold.seq !== l.seq) return;
    const next = hold.parked.shift();
    if (!next) return void state.keys.delete(key!);
    hold.seq = next.seq;
    state.pending.push({ ...next, due: Date.now() });
  }

  #held(state: GroupState, d: Delivery): Lease | undefined {
    const [stream, seq, token] = d.ref.split("\n");
    const l = state.leases.get(`${stream}\n${seq}`);
    return l?.token === token ? l : undefined;
  }

  #sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#wakers.delete(done);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#wakers.add(done);
      signal?.addEventListener("abort", done, { once: true });
    });
  }
}

/** The key scope of a keyed event, `stream\nkey`; `undefined` when it has no key. */
function keyOf(stream: string, value: unknown): string | undefined {
  const key = (value as { key?: unknown } | null)?.key;
  return typeof key === "string" && !envelopeProblem(value) ? `${stream}\n${key}` : undefined;
}

function toDelivery(
  stream: string,
  seq: number,
  token: string,
  attempt: number,
  value: unknown,
): Delivery {
  const ref = `${stream}\n${seq}\n${token}`;
  const problem = envelopeProblem(value);
  if (problem) return { stream, ref, attempt, malformed: { reason: problem, raw: value } };
  return { stream, ref, attempt, envelope: structuredClone(value as Envelope) };
}
