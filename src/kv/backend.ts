/**
 * The Deno KV backend: streams, consumer groups, leases, retries and dead letters kept as keys
 * in one Deno KV database and changed by atomic operations.
 *
 * @module
 */
import type {
  AppendOptions,
  AtomicAppender,
  Backend,
  BackendFeatures,
  ClaimOptions,
  DeadLetter,
  Delivery,
  Settlement,
  StartPosition,
} from "../backend.ts";
import type { Envelope } from "../envelope.ts";
import type {
  DeadLetterQuery,
  GroupInfo,
  PeekOptions,
  PeekPage,
  Position,
  PurgeOptions,
  StreamInfo,
} from "../inspect.ts";
import { BackendUnavailableError } from "../errors.ts";
import { sleep } from "../sleep.ts";
import { retryLocked } from "../locked.ts";
import { Appender } from "./append.ts";
import { Bell } from "./bell.ts";
import { Claimer, type Standing } from "./claim.ts";
import { redrive } from "./dead.ts";
import { KvInspector } from "./inspect.ts";
import { type LockEntry, lockKey } from "./keys.ts";
import * as coord from "./coord.ts";
import type { PushEndpoint, PushRegistry, RateLimits } from "../capabilities.ts";
import { LeaseBook } from "./leases.ts";
import { HoldBook } from "./keyhold.ts";
import type { KvOptions } from "./options.ts";
import { Trimmer } from "./retention.ts";
import { DeadBound } from "./dead_bound.ts";
import { DEFAULT_DEAD_LETTER_MAX_LEN } from "./options.ts";
import { kvTrace } from "./trace.ts";
import { journeysOff, type Trace, type TraceOptions } from "../trace.ts";
import { LeaseWriter } from "./settle.ts";
import { commit, get, type KvStats, newStats } from "./store.ts";
import { subscribeStream } from "./subscribe.ts";
import { type Mark, Waker } from "./wake.ts";
import { KvSchedule } from "./schedule.ts";
import { Promoter } from "../promoter.ts";
import type { Promotion, ScheduledEvent, Scheduler } from "../schedule.ts";
import { defaultLogger } from "../telemetry/log.ts";

/**
 * The claim size workers on this backend use unless told otherwise: a claim costs a commit, so
 * bigger claims leave more of the file's write lock to the publishers.
 */
const CLAIM_BATCH = 500;
/** The default backstop poll of waiting claims, in milliseconds. */
const DEFAULT_POLL_MS = 1_000;
/**
 * How long a worker's claim waits by default (see `BackendFeatures.claimWaitMs`): long, so
 * that idle workers cost next to nothing (see bench/fanout.ts); a ring ends a wait at once.
 */
const CLAIM_WAIT_MS = 30_000;
/**
 * How long a consumer waits before its next claim when events arrive faster than it claims
 * them, in milliseconds: the wait then takes a bigger batch with fewer commits, and every
 * commit a consumer leaves out leaves SQLite's write lock (held through an fsync) to the
 * publishers. The price is latency while the rate lasts.
 */
const LINGER_MS = 15;
/**
 * The arrival rate, in events per millisecond, from which a consumer waits, and the fewest events
 * a claim must bring for it: under them, as in a steady trickle (a claim finds one event, two or
 * three after a late timer), a wait would only add latency.
 */
const LINGER_RATE = 1;
const LINGER_MIN = 6;

/**
 * How long a consumer outpaced by another of its group stands by between two looks at where the
 * group stands, in milliseconds (see `KvBackend.#standBy`): the longest the events waiting at one
 * look can wait for it to join in when the others fall behind or stop.
 */
const STANDBY_MS = 250;

/**
 * An idle consumer, which waits for rings, looks again after this many `pollMs` without one (see
 * `#waitIdle`). Each look reads a group's retries, leases and stream: with many idle groups, one a
 * second each took more CPU than everything else they do.
 */
const IDLE_POLLS = 10;

/** What one consumer's last claim on its streams tells the next one. */
interface Pace {
  /**
   * Set while another consumer of the group takes everything as it comes: until when this one
   * stands by, and where the group stood on each stream when it last looked.
   */
  standby?: { until: number; seen: Map<string, Standing> };
  /** Wait until then before looking (events arrive faster than claims take them). */
  lingerUntil: number;
  /** When the last claim that found events returned, to tell the arrival rate. */
  lastReturn: number;
  /**
   * Set when that claim took everything it saw: the waker's mark of its look, and when
   * something it knows of falls due.
   */
  drained?: { mark: Mark; wakeAt: number };
  /**
   * Set when the last look found nothing while every write reaches the waker: its mark, and
   * until when the consumer may wait for a ring before looking again (see `#waitIdle`).
   */
  idle?: { mark: Mark; until: number };
}

/** The parts of a backend that exist once its database is open. */
interface Open {
  kv: Deno.Kv;
  appender: Appender;
  bell?: Bell;
  claimer: Claimer;
  deadBound: DeadBound;
  inspector: KvInspector;
  schedule: KvSchedule;
  trimmer: Trimmer;
  waker: Waker;
  writer: LeaseWriter;
}

/**
 * A Herald backend over Deno KV. Made by {@linkcode kv}.
 *
 * @example Appending and claiming through the backend directly
 * ```ts
 * import { createEnvelope } from "@herald/herald";
 * import { createKvBackend } from "@herald/herald";
 *
 * const backend = createKvBackend({ path: ":memory:" });
 * await backend.subscribe("audit", ["users"], "earliest");
 * await backend.append([createEnvelope("users", "user.created", { id: "u1" }, "users")]);
 * const [delivery] = await backend.claim("audit", ["users"], {
 *   consumer: "audit-1",
 *   max: 10,
 *   leaseMs: 30_000,
 *   waitMs: 0,
 * });
 * await backend.settle("audit", [{ delivery, outcome: "ack" }]);
 * await backend.close();
 * ```
 */
export class KvBackend implements Backend, AtomicAppender, RateLimits, PushRegistry, Scheduler {
  /** Always `"kv"`. */
  readonly name = "kv";
  /** What this backend can do: across processes and persistent unless in memory. */
  readonly features: BackendFeatures;
  /** Counters of conflicts and lock contention worked around, for debugging and benchmarks. */
  readonly stats: KvStats = newStats();
  #options: KvOptions;
  #open?: Promise<Open>;
  #ready?: Open;
  #closed = false;
  /** Aborted by `close`: ends claims that stand by. */
  #closing = new AbortController();
  #inflight = new Set<Promise<unknown>>();
  /** What each consumer's claims on its streams left behind for its next claim. */
  #pace = new Map<string, Pace>();
  /** Moves delayed events into their streams when due (see `promoter.ts`). */
  #promoter: Promoter;

  /**
   * Makes the backend; the database opens on first use. Prefer {@linkcode kv}, which validates
   * the options first.
   *
   * @param options Validated options.
   */
  constructor(options: KvOptions) {
    this.#options = options;
    const memory = options.path === ":memory:";
    this.features = {
      crossProcess: !memory,
      persistent: !memory,
      claimBatch: CLAIM_BATCH,
      claimWaitMs: CLAIM_WAIT_MS,
    };
    this.#promoter = new Promoter(
      (now, max) => this.promote(now, max),
      options.pollMs ?? DEFAULT_POLL_MS,
      (error) => defaultLogger("herald").error("promoting delayed events failed", { error }),
    );
  }

  /**
   * The open database, to keep your own data next to the events (then `bus.atomic(db)` writes
   * events in your own atomic operation).
   *
   * @throws {TypeError} before the database is open: `await backend.open()` first.
   */
  get kv(): Deno.Kv {
    if (!this.#ready) throw new TypeError("The database is not open yet: await backend.open()");
    return this.#ready.kv;
  }

  /** Opens the database (once; later calls return the same one). */
  async open(): Promise<Deno.Kv> {
    return (await this.#parts()).kv;
  }

  /** {@inheritDoc Backend.append} */
  append(events: readonly Envelope[], options?: AppendOptions): Promise<void> {
    return this.#run((p) => p.appender.append(events, options));
  }

  /** {@inheritDoc AtomicAppender.appendAtomic} */
  async appendAtomic(
    kv: Deno.Kv,
    build: (op: Deno.AtomicOperation) => void,
    events: readonly Envelope[],
  ): Promise<Deno.KvCommitResult | Deno.KvCommitError | "foreign"> {
    return await this.#run(async (p) => {
      if (kv !== p.kv) return "foreign";
      return await p.appender.appendAtomic(build, events);
    });
  }

  /** {@inheritDoc Backend.subscribe} */
  async subscribe(group: string, streams: readonly string[], start: StartPosition): Promise<void> {
    checkName("group", group);
    if (!(start === "earliest" || start === "latest" || start instanceof Date)) {
      throw new TypeError('start must be "earliest", "latest" or a Date');
    }
    return await this.#run(async (p) => {
      for (const s of streams) {
        checkName("stream", s);
        await subscribeStream(p.kv, this.stats, group, s, start);
        p.claimer.forget(group, s);
      }
      this.#promoter.start(); // a consumer's process promotes what falls due
    });
  }

  /** {@inheritDoc Scheduler.schedule} */
  async schedule(events: readonly ScheduledEvent[]): Promise<void> {
    if (events.length === 0) return;
    const earliest = await this.#run((p) => p.schedule.schedule(events));
    this.#promoter.scheduled(earliest);
  }

  /** {@inheritDoc Scheduler.cancel} */
  async cancel(id: string): Promise<boolean> {
    return await this.#run((p) => p.schedule.cancel(id));
  }

  /** {@inheritDoc Scheduler.promote} */
  async promote(now: number, max: number): Promise<Promotion> {
    return await this.#run((p) => p.schedule.promote(now, max));
  }

  /** {@inheritDoc Backend.claim} */
  async claim(
    group: string,
    streams: readonly string[],
    options: ClaimOptions,
  ): Promise<Delivery[]> {
    const { consumer, max, leaseMs, waitMs, signal } = options;
    if (!Number.isInteger(max) || max < 1) throw new RangeError("max must be a positive integer");
    if (!(leaseMs > 0)) throw new RangeError("leaseMs must be positive");
    if (streams.length === 0) return [];
    return await this.#run(async (p) => {
      this.#seen(p, group, consumer);
      p.waker.want(streams);
      const deadline = Date.now() + Math.max(0, waitMs);
      const poll = this.#options.pollMs ?? DEFAULT_POLL_MS;
      const who = `${group}\u0000${consumer}\u0000${streams.join("\u0001")}`;
      let pace = this.#pace.get(who);
      if (!pace) this.#pace.set(who, pace = { lingerUntil: 0, lastReturn: 0 });
      const linger = pace.lingerUntil - Date.now();
      if (linger > 0 && waitMs > 0) {
        p.waker.rest(); // events come faster than rings tell: none is needed until a wait
        await sleep(Math.min(linger, waitMs), signal);
      }
      // The last look took everything it saw, and nothing was appended or requeued since: wait
      // for that before looking (a look that finds nothing costs a read and, across processes,
      // several thread wake-ups; a paced consumer made one after every event).
      const drained = pace.drained;
      pace.drained = undefined;
      if (
        drained && linger <= 0 && waitMs > 0 && p.waker.complete &&
        !p.waker.changedSince(drained.mark)
      ) {
        const now = Date.now();
        const until = Math.min(deadline, drained.wakeAt, now + poll);
        if (until > now) await p.waker.wait(drained.mark, until - now, signal);
      }
      while (!this.#closed) {
        if (pace.standby && waitMs > 0) {
          if (!await this.#standBy(p, pace, group, streams, deadline, signal)) return [];
        }
        if (pace.idle && waitMs > 0 && !await this.#waitIdle(p, pace, deadline, signal)) {
          return [];
        }
        const mark = p.waker.mark();
        const look = await p.claimer.claimOnce(group, streams, consumer, max, leaseMs, waitMs > 0);
        if (look.outpaced) {
          this.stats.standbys++;
          pace.lingerUntil = 0;
          pace.standby = { until: Date.now() + STANDBY_MS, seen: look.outpaced };
          continue;
        }
        const n = look.deliveries.length;
        if (n > 0) {
          const now = Date.now();
          const since = now - pace.lastReturn;
          pace.lastReturn = now;
          // Keyed events come as their keys are freed, not as they arrive (see `ClaimLook.keyed`).
          const faster = n >= LINGER_MIN && n < max && n >= since * LINGER_RATE && !look.keyed;
          pace.lingerUntil = faster ? now + LINGER_MS : 0;
          if (n < max && !look.keyed) pace.drained = { mark, wakeAt: look.wakeAt };
          return look.deliveries;
        }
        pace.lingerUntil = 0;
        if (waitMs > 0 && p.waker.complete) {
          pace.idle = { mark, until: Math.min(look.dueAt, mark.at + poll * IDLE_POLLS) };
          continue; // `#waitIdle` waits, here or in the next claim
        }
        const now = Date.now();
        if (now >= deadline || signal?.aborted || this.#closed) return [];
        const until = Math.min(deadline, look.wakeAt, now + poll);
        await p.waker.wait(mark, Math.max(1, until - now), signal);
      }
      return [];
    });
  }

  /**
   * Waits, without looking, while the consumer's last look found nothing and nothing may have
   * come since: every append and requeue of another process rings, and its ring wakes the wait
   * at once. So an idle consumer costs no reads, across as many claims as it makes, until a ring,
   * something it knows of falls due (a retry, a lease expiring), or the backstop look after
   * {@linkcode IDLE_POLLS} polls (for a ring the watch missed, and leases of consumers in other
   * processes that stopped).
   *
   * @returns `false` when the claim's wait (or the backend) ended first: the claim returns empty,
   *   and the next one goes on waiting.
   */
  async #waitIdle(
    p: Open,
    pace: Pace,
    deadline: number,
    signal: AbortSignal | undefined,
  ): Promise<boolean> {
    const idle = pace.idle!;
    while (p.waker.complete && !p.waker.changedSince(idle.mark) && Date.now() < idle.until) {
      if (Date.now() >= deadline || signal?.aborted || this.#closed) return false;
      await p.waker.wait(idle.mark, Math.min(deadline, idle.until) - Date.now(), signal);
    }
    pace.idle = undefined;
    return !(signal?.aborted || this.#closed);
  }

  /**
   * Stands by while other consumers of the group take the streams' events as fast as they come:
   * every {@linkcode STANDBY_MS} it reads where the group stands (one read, no claim, no rings
   * heard meanwhile), and goes on standing by while the others took events since the last look,
   * everything that waited then, and at least as many as wait now. It stops when they fall behind
   * (a burst, or slow handlers), when they stopped, or when nobody took anything (the streams went
   * quiet: rings tell of the next events).
   *
   * Why: with one consumer able to keep up, every other one that races it for each claim costs
   * the machine a read, a failed commit and the wake-ups, and takes the writer's lock from the
   * publisher. The price is in a burst into slow handlers, where every consumer is needed: the
   * others join a look later. Measurements: bench/README.md, "Where the constants come from".
   *
   * @returns `false` when the claim's wait (or the backend) ended first.
   */
  async #standBy(
    p: Open,
    pace: Pace,
    group: string,
    streams: readonly string[],
    deadline: number,
    signal: AbortSignal | undefined,
  ): Promise<boolean> {
    const stop = signal ? AbortSignal.any([signal, this.#closing.signal]) : this.#closing.signal;
    while (pace.standby) {
      const wait = Math.min(pace.standby.until, deadline) - Date.now();
      if (wait > 0) {
        p.waker.rest(); // rings are not news while standing by
        await sleep(wait, stop);
      }
      if (stop.aborted || Date.now() < pace.standby.until) return false;
      const seen = pace.standby.seen;
      const now = await p.claimer.standing(group, streams);
      let moved = false, kept = true;
      for (const [s, before] of seen) {
        const { taken, head } = now.get(s) ?? { taken: 0, head: 0 };
        if (taken > before.taken) moved = true;
        // Behind by more than they took since the last look (a burst came): they would need
        // more than another look's time to catch up.
        if (taken < before.head || head - taken > taken - before.taken) kept = false;
      }
      pace.standby = moved && kept ? { until: Date.now() + STANDBY_MS, seen: now } : undefined;
    }
    return true;
  }

  /** {@inheritDoc Backend.extend} */
  async extend(
    group: string,
    deliveries: readonly Delivery[],
    leaseMs: number,
  ): Promise<Delivery[]> {
    if (deliveries.length === 0) return [];
    if (!(leaseMs > 0)) throw new RangeError("leaseMs must be positive");
    return await this.#run(async (p) => {
      return await p.writer.extend(group, deliveries, leaseMs);
    });
  }

  /** {@inheritDoc Backend.settle} */
  async settle(group: string, settlements: readonly Settlement[]): Promise<void> {
    if (settlements.length === 0) return;
    return await this.#run(async (p) => {
      await p.writer.settle(group, settlements);
      if (settlements.some((s) => s.outcome === "dead")) p.deadBound.wrote(group);
    });
  }

  /** {@inheritDoc Inspector.deadLetters} */
  async deadLetters(group: string, query?: DeadLetterQuery): Promise<DeadLetter[]> {
    return await this.#run((p) => p.inspector.deadLetters(group, query));
  }

  /** {@inheritDoc Inspector.streams} */
  async streams(): Promise<StreamInfo[]> {
    return await this.#run((p) => p.inspector.streams());
  }

  /** {@inheritDoc Inspector.groups} */
  async groups(stream?: string): Promise<GroupInfo[]> {
    return await this.#run((p) => p.inspector.groups(stream));
  }

  /** {@inheritDoc Inspector.purgeDeadLetters} */
  async purgeDeadLetters(group: string, options?: PurgeOptions): Promise<number> {
    return await this.#run((p) => p.inspector.purgeDeadLetters(group, options));
  }

  /** {@inheritDoc Inspector.deleteGroup} */
  async deleteGroup(group: string, stream?: string): Promise<boolean> {
    return await this.#run(async (p) => {
      const deleted = await p.inspector.deleteGroup(group, stream);
      if (stream !== undefined) p.claimer.forget(group, stream);
      return deleted;
    });
  }

  /** {@inheritDoc Inspector.resetGroup} */
  async resetGroup(group: string, stream: string, to: Position): Promise<void> {
    return await this.#run(async (p) => {
      await p.inspector.resetGroup(group, stream, to);
      p.claimer.forget(group, stream);
      p.bell?.ring("appended", stream);
      p.waker.notify();
    });
  }

  /** {@inheritDoc Tracer.trace} */
  async trace(id: string, options?: TraceOptions): Promise<Trace> {
    if (this.#options.journeys !== true) throw journeysOff(this.name);
    return await this.#run((p) =>
      kvTrace(p.kv, this.stats, (s, o) => p.inspector.peek(s, o), id, options)
    );
  }

  /** {@inheritDoc Inspector.peek} */
  async peek(stream: string, options?: PeekOptions): Promise<PeekPage> {
    return await this.#run((p) => p.inspector.peek(stream, options));
  }

  /** Records that a consumer claimed, in the background (see `KvInspector.seen`). */
  #seen(p: Open, group: string, consumer: string): void {
    const write = p.inspector.seen(group, consumer)?.catch(() => {
      // best effort: a later claim writes it again
    });
    if (!write) return;
    this.#inflight.add(write);
    write.finally(() => this.#inflight.delete(write));
  }

  /** {@inheritDoc Backend.redrive} */
  async redrive(group: string, ids?: readonly string[]): Promise<number> {
    return await this.#run(async (p) => {
      const moved = await redrive(p.kv, this.stats, group, ids);
      p.claimer.requeued(group);
      if (moved > 0) {
        p.bell?.ring("requeued");
        p.waker.notify();
      }
      return moved;
    });
  }

  /** {@inheritDoc Backend.tryLock} */
  async tryLock(name: string, ttlMs: number): Promise<boolean> {
    if (!(ttlMs > 0)) throw new RangeError("ttlMs must be positive");
    return await this.#run(async (p) => {
      const key = lockKey(name);
      const now = Date.now();
      const held = await get<LockEntry>(this.stats, p.kv, key);
      // Expired keys may linger a while in Deno KV, so the stored expiry decides.
      if (held.value && held.value.u > now) return false;
      const result = await commit(this.stats, p.kv, (op) => {
        op.check({ key, versionstamp: held.versionstamp });
        op.set(key, { u: now + ttlMs } satisfies LockEntry, { expireIn: ttlMs });
      });
      return result.ok;
    });
  }

  /** {@inheritDoc RateLimits.takeRate} */
  takeRate(name: string, max: number, perMs: number): Promise<number> {
    return this.#run((p) => coord.takeRate(this.stats, p.kv, name, max, perMs));
  }

  /** {@inheritDoc PushRegistry.setPushEndpoint} */
  setPushEndpoint(
    group: string,
    streams: readonly string[],
    endpoint: { url: string; secret: string } | null,
  ): Promise<void> {
    return this.#run((p) => coord.setPushEndpoint(this.stats, p.kv, group, streams, endpoint));
  }

  /** {@inheritDoc PushRegistry.pushEndpoints} */
  pushEndpoints(stream: string): Promise<PushEndpoint[]> {
    return this.#run((p) => coord.pushEndpoints(this.stats, p.kv, stream));
  }

  /**
   * Trims streams by the retention options now, instead of waiting for the background trim.
   *
   * @param streams The streams to trim.
   * @returns how many events were deleted.
   */
  async trim(streams: readonly string[]): Promise<number> {
    return await this.#run(async (p) => {
      let n = 0;
      for (const s of streams) n += await p.trimmer.trim(s);
      return n;
    });
  }

  /** {@inheritDoc Backend.close} */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#closing.abort();
    await this.#promoter.close();
    if (!this.#open) return;
    let parts: Open;
    try {
      parts = await this.#open;
    } catch {
      return; // it never opened
    }
    await parts.waker.close(); // ends waiting claims
    await Promise.allSettled([...this.#inflight]);
    await parts.appender.idle();
    await parts.writer.idle();
    await parts.trimmer.idle();
    await parts.deadBound.idle();
    parts.bell?.close();
    if (!this.#options.kv) parts.kv.close();
  }

  /** Runs an operation on the open parts, tracked so `close` waits for it. */
  #run<T>(fn: (p: Open) => Promise<T>): Promise<T> {
    // Once open, without the hop through the opening promise (a publish makes one call here).
    const run = this.#ready && !this.#closed ? fn(this.#ready) : this.#parts().then(fn);
    const done = () => this.#inflight.delete(run);
    this.#inflight.add(run);
    run.then(done, done);
    return run;
  }

  #parts(): Promise<Open> {
    if (this.#closed) {
      return Promise.reject(new BackendUnavailableError("kv", "the backend is closed"));
    }
    return this.#open ??= this.#doOpen();
  }

  async #doOpen(): Promise<Open> {
    const { path } = this.#options;
    let kv = this.#options.kv;
    let bell: Bell | undefined;
    if (!kv) {
      // A KV Connect URL (a database shared over the network) has no local file to ring.
      const remote = path !== undefined && /^https?:\/\//i.test(path);
      if (path !== undefined && path !== ":memory:" && !remote) {
        const slash = path.lastIndexOf("/");
        if (slash > 0) await Deno.mkdir(path.slice(0, slash), { recursive: true });
        bell = await Bell.open(path);
      }
      try {
        // Opening sets the file up (journal mode, schema), which meets other processes' locks.
        kv = await retryLocked(() => Deno.openKv(path));
      } catch (err) {
        bell?.close();
        throw err;
      }
    }
    const book = new LeaseBook();
    const holds = new HoldBook();
    const trimmer = new Trimmer(kv, this.stats, this.#options.retention);
    const deadMax = this.#options.deadLetterMaxLen ?? DEFAULT_DEAD_LETTER_MAX_LEN;
    const deadBound = new DeadBound(kv, this.stats, deadMax);
    // The writer is made below; claims ask it for settlements to carry in their commits.
    const claimer = new Claimer(
      kv,
      this.stats,
      book,
      holds,
      (n, avoid) => writer.takeRider(n, avoid),
    );
    // Watch only bell files, never the database's own folder (see bell.ts for why).
    const watched = this.#options.watch === false ? undefined : bell;
    const waker = new Waker(
      watched && ((streams) => watchedFiles(watched, streams)),
      () => claimer.requeuedAll(),
      () => this.stats.rings++,
      path === ":memory:" && !this.#options.kv,
      (kind, stream) => bell?.lastRing(kind, stream),
    );
    const appender = new Appender(kv, this.stats, (streams) => {
      for (const s of streams) bell?.ring("appended", s);
      if (streams.some((s) => waker.wants(s))) waker.notify();
      trimmer.appended(streams);
    }, this.#options.journeys === true);
    const writer = new LeaseWriter(kv, this.stats, book, holds, (group, stream) => {
      claimer.requeued(group, stream);
      bell?.ring("requeued");
      waker.notify();
    });
    const inspector = new KvInspector(kv, this.stats, (s) => trimmer.limitsOf(s));
    const schedule = new KvSchedule(kv, this.stats, appender);
    this.#ready = {
      kv,
      appender,
      bell,
      claimer,
      deadBound,
      inspector,
      schedule,
      trimmer,
      waker,
      writer,
    };
    return this.#ready;
  }
}

/** The bell files a process whose claims consume `streams` watches (see `bell.ts`). */
function watchedFiles(bell: Bell, streams: readonly string[]): string[] {
  const paths = [bell.path("requeued"), ...streams.map((s) => bell.path("appended", s))];
  return paths.filter((p): p is string => p !== undefined);
}

function checkName(what: string, name: string): void {
  if (typeof name !== "string" || name.length === 0) {
    throw new TypeError(`${what} must be a non-empty string`);
  }
}
