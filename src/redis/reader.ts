/**
 * The fast claim path of the Redis backend (see claim_scripts.ts): for a claim on one stream
 * through a client with pipelines, a plain `XREADGROUP` in one round trip on the consumer's own
 * connection, with PEEK before it (TCP; at most once a second while nothing changes, see
 * FRESH_MS) and its leases recorded by a `ZADD NX` after it (the read blocks when the consumer
 * is idle), or with TRACK after it (REST). Due timers and redriven
 * entries still go through the CLAIM script, which runs when PEEK or TRACK says so. A read that
 * brings keyed events runs GATE before it returns, which hands out only those that hold their
 * key and parks the others (see key_scripts.ts); a read without any costs nothing more.
 *
 * @module
 */
import type { ClaimOptions, Delivery } from "../backend.ts";
import { type RedisArg, type RedisClient, RedisReplyError } from "./client.ts";
import { PEEK, SENTINEL_MEMBER, SWEEP, TRACK } from "./claim_scripts.ts";
import { GATE } from "./key_scripts.ts";
import { compareIds } from "./lease_args.ts";
import { decodeRef, entryDelivery, type Keys } from "./keys.ts";
import type { Nudges } from "./nudge.ts";
import { interruptible, type Poller } from "./poll.ts";
import { Riders } from "./riders.ts";
import { sleep } from "../sleep.ts";
import type { Scripts } from "./scripts.ts";

/**
 * REST: how long a claim waits before its first poll when the consumer's last claim took all
 * there was (see State.drained).
 */
const DRAINED_WAIT_MS = 1;

/** How many consumers' read states one backend keeps. */
const MAX_STATES = 10_000;

/** Untracked entries are swept no sooner than this after they were read. */
const SWEEP_MIN_IDLE_MS = 5_000;

/**
 * How long what a claim learnt of the timers is trusted: within it, the next claim reads (and
 * blocks, until the earliest timer) without PEEK in front, and records its leases by Redis's
 * clock as that PEEK read it plus the monotonic time since. Timers this process changes reset
 * it at once; other processes' changes (their retries, say) are seen within it, or when a wait
 * ends, as with any blocking wait. A busy consumer thereby runs no script per claim.
 */
const FRESH_MS = 1_000;

/**
 * An ack within this long of the read (by the monotonic clock, from before the read was sent)
 * of an entry whose lease record is still held back skips the lease check: far below
 * SWEEP_MIN_IDLE_MS, the earliest anyone else could take an entry that has no timer.
 */
const FRESH_ACK_MS = 1_000;

/**
 * How long a read's lease records are held back at most (a settle or an extend sends them at
 * once): long enough for the handlers that finish at once to be settled, even behind a settle
 * still in flight, so that their acks need neither the records nor a lease check. A process
 * that dies meanwhile leaves those entries to SWEEP, as one that dies right after a read.
 */
const HOLD_MS = 5;

/**
 * TCP: how long a consumer waits before its next read when events arrive faster than its reads
 * take them, in milliseconds. Each read costs the consumer a round trip and its bookkeeping
 * whatever it brings; a saturated single-event publisher otherwise meets reads of two or three
 * events each, and the consumer's CPU is taken from the publisher and Redis on the same cores.
 */
const LINGER_MS = 2;
/**
 * The arrival rate, in events per millisecond over the last RATE_WINDOW_MS, from which a
 * consumer lingers: under it (a paced 1,000/s) a wait would only add latency. Measured over a
 * window rather than from one read to the next, so that a burst after a stall (a publisher
 * descheduled for a few milliseconds sends what it owes at once) does not set off a wait.
 * Chosen by measurement: see "Where the constants come from" in bench/README.md.
 */
const LINGER_RATE = 3;
const RATE_WINDOW_MS = 10;

// The lease records of one read, held back for a moment (see Reader.takeFresh).
interface HeldRecord {
  group: string;
  stream: string;
  /** The stream key and timers key. */
  sk: string;
  tk: string;
  consumer: string;
  /** The lease's expiry on Redis's clock, ms. */
  expires: number;
  /** performance.now() before the read was sent. */
  sentTick: number;
  /** The entries read, in order, and the refs of their deliveries. */
  ids: string[];
  refs: string[];
  /** Which of them were acked in the meantime (1), how many were not, and where to look next. */
  taken: Uint8Array;
  left: number;
  next: number;
  /** Ids taken since the last takeAcks(): without a key, and keyed (see key_scripts.ts). */
  acked: string[];
  ackedKeyed: string[];
  /** 1 for each entry that holds its key, when any does. */
  keyed?: Uint8Array;
  /** Where each ref is in `refs`, made on the first ack out of the read's order. */
  index?: Map<string, number>;
}

/**
 * Acks that need no lease check: a plain `XACK` of `ids` on `sk`, on `channel`'s connection, and
 * for `keyed` ids (entries that hold their key) the FRESH_ACK script on `stream`, which passes
 * each key on.
 */
export interface FreshAcks {
  stream: string;
  sk: string;
  channel: string;
  ids: string[];
  keyed: string[];
}

/** What the fast path needs from the backend. */
export interface ReaderDeps {
  client: RedisClient;
  scripts: Scripts;
  keys: Keys;
  poller: Poller;
  /** Ends blocked reads when their group changes elsewhere (see nudge.ts). */
  nudges: Nudges;
  /** Runs the CLAIM script once on one stream: due timers first, then new entries. */
  slow(group: string, stream: string, consumer: string, max: number, leaseMs: number): Promise<
    Delivery[]
  >;
  /** Whether the backend was closed. */
  closed(): boolean;
}

// What one consumer remembers about one stream between claims.
interface State {
  group: string;
  stream: string;
  /** The group's nudge count (Nudges.gen) when its timers were last looked at. */
  gen: number;
  /** An id at or after which lies every entry this consumer was handed from the stream. */
  cursor: string;
  /** Timers fell due while a full batch of new entries came: the next claim serves them first. */
  dueFirst: boolean;
  /** When to sweep next (Date.now() ms), and where to continue the scan. */
  sweepAt: number;
  sweepFrom: string;
  /** When (Date.now() ms) the earliest timer falls due, as last seen; Infinity for none. */
  dueAt: number;
  /** When that was seen; 0 when it must be looked at again. */
  seenAt: number;
  /** REST: the last claim took everything the stream held (less than it asked for). */
  drained: boolean;
  /** TCP: the arrival rate's window: since when (performance.now()), and what came in it. */
  rateFrom: number;
  rateCount: number;
  /** TCP: the last full window's rate was at least LINGER_RATE. */
  fast: boolean;
  /** TCP: wait until then (performance.now()) before reading: entries arrive fast. */
  lingerUntil: number;
}

// One claim on the fast path: what stays fixed, and how its next read goes (see Reader.#claim).
interface ClaimRun {
  group: string;
  stream: string;
  consumer: string;
  leaseMs: number;
  max: number;
  /** The consumer's connection, and the key of its waits. */
  channel: string;
  state: State;
  /** Ends waits: the claim's own signal, or the backend closing. */
  signal: AbortSignal;
  /** When the claim stops waiting (Date.now() ms). */
  deadline: number;
  /** The stream key and timers key. */
  sk: string;
  tk: string;
  /** TRACK's keys (PEEK's are all but the first). */
  trackKeys: string[];
  /** TCP: leases recorded by the client, PEEK before the read. */
  ordered: boolean;
  /** The next read looks at the timers (PEEK or TRACK). */
  look: boolean;
  /** How long the next read may block, ms; 0 for not at all. */
  block: number;
}

// The pipeline of one read, and what its replies need (see Reader.#commands).
interface Commands {
  commands: (readonly RedisArg[])[];
  sweeping: boolean;
  carried?: ReturnType<Riders["take"]>;
  trackArgs: RedisArg[];
}

type StreamReply = [string, [string, unknown[]][]][] | null;

/** Fast-path claims for one backend. */
export class Reader {
  #deps: ReaderDeps;
  #states = new Map<string, State>();
  // Aborted when the backend closes: ends blocking reads and waits.
  #closing = new AbortController();
  // Redis's clock (ms) as the last PEEK read it, and the monotonic time it was sent at.
  #clock?: { redisMs: number; tick: number };
  // Lease records of recent reads, not sent yet (see #record), and the timer that sends them.
  #held: HeldRecord[] = [];
  #flushTimer?: ReturnType<typeof setTimeout>;
  // REST: commands that go out in the next claim's request (see riders.ts).
  #riders: Riders;

  constructor(deps: ReaderDeps) {
    this.#deps = deps;
    this.#riders = new Riders((commands) => deps.client.pipeline!(commands));
  }

  /**
   * REST: sends `command` in the request of a claim that is running, or returns `undefined`
   * when none is (see riders.ts). Resolves with its reply; an error reply rejects.
   */
  ride(command: readonly RedisArg[]): Promise<unknown> | undefined {
    if (this.#deps.client.ordered || !this.#deps.client.pipeline) return undefined;
    return this.#riders.ride(command);
  }

  /** Whether a claim on `streams` can take the fast path. */
  fits(streams: readonly string[]): boolean {
    return streams.length === 1 && this.#deps.client.pipeline !== undefined;
  }

  /**
   * Claims on one stream. Returns `undefined` when the fast path cannot serve this claim (the
   * group is missing, say): the backend then claims with the CLAIM script alone.
   */
  async claim(
    group: string,
    stream: string,
    options: ClaimOptions,
  ): Promise<Delivery[] | undefined> {
    if (this.#deps.client.ordered) return await this.#claim(group, stream, options);
    const ended = this.#riders.claiming();
    try {
      return await this.#claim(group, stream, options);
    } finally {
      ended();
    }
  }

  async #claim(
    group: string,
    stream: string,
    options: ClaimOptions,
  ): Promise<Delivery[] | undefined> {
    const run = this.#begin(group, stream, options);
    // (Awaited only when there is a pause: each await costs the read a turn of the event loop.)
    if (this.#pausing(run)) await this.#pause(run);
    while (!this.#deps.closed()) {
      const { state } = run;
      if (state.dueFirst) {
        state.dueFirst = false;
        const due = await this.#slow(run, run.max);
        if (due.length > 0) return due;
      }
      const turn = await this.#readOnce(run);
      if (turn === undefined) return undefined;
      if (turn.out.length > 0) {
        this.#pace(run, turn.out.length);
        return turn.out;
      }
      // Everything read was parked behind its key: read on at once.
      if (turn.read > 0) continue;
      if (run.ordered && run.block > 0) {
        // PEEK looked before this wait: look again (a timer may be due by now, or this process
        // changed them and ended the wait) before waiting any longer.
        run.block = 0;
        run.look = true;
        continue;
      }
      const wait = Math.min(run.deadline, state.dueAt + 1) - Date.now();
      if (wait <= 0 || run.signal.aborted) return [];
      if (this.#deps.client.unblock) run.block = Math.max(1, Math.ceil(wait));
      else await this.#deps.poller.wait(run.channel, wait, run.signal);
    }
    return [];
  }

  // One claim's fixed parts, and whether its first read looks at the timers or blocks.
  #begin(group: string, stream: string, options: ClaimOptions): ClaimRun {
    const { client, keys } = this.#deps;
    const { consumer, leaseMs } = options;
    const channel = `${group}|${consumer}`;
    const state = this.#state(group, channel, stream);
    const sk = keys.stream(stream), tk = keys.timers(stream, group);
    const ordered = client.ordered === true;
    const deadline = Date.now() + options.waitMs;
    const run: ClaimRun = {
      group,
      stream,
      consumer,
      leaseMs,
      max: Math.min(options.max, 1000),
      channel,
      state,
      signal: options.signal
        ? AbortSignal.any([options.signal, this.#closing.signal])
        : this.#closing.signal,
      deadline,
      sk,
      tk,
      trackKeys: [sk, tk, keys.redrive(stream, group), keys.redriveTimers(stream, group)],
      ordered,
      // Ordered (TCP): PEEK only when what the last look learnt is no longer trusted.
      look: !ordered || !this.#fresh(state),
      block: 0,
    };
    if (client.unblock && !state.dueFirst && Date.now() - state.seenAt < FRESH_MS) {
      // Nothing was due a moment ago: read, waiting if need be, in one round trip.
      run.block = Math.max(0, Math.ceil(Math.min(deadline, state.dueAt) - Date.now()));
    }
    return run;
  }

  // Waits before the first read when reading at once would mostly find little: see
  // DRAINED_WAIT_MS (REST) and LINGER_MS (TCP).
  #pausing(run: ClaimRun): boolean {
    return run.ordered ? run.state.lingerUntil > 0 : run.state.drained;
  }

  async #pause(run: ClaimRun): Promise<void> {
    const { state } = run;
    if (!run.ordered && state.drained) {
      // REST: the last claim emptied the stream, so a poll at once would mostly find nothing
      // (one HTTP request for none): let what arrives meanwhile gather for a poll interval.
      state.drained = false;
      const wait = Math.min(DRAINED_WAIT_MS, run.deadline - Date.now());
      if (wait > 0) await this.#deps.poller.wait(run.channel, wait, run.signal);
    }
    if (run.ordered && state.lingerUntil > 0) {
      const wait = Math.min(state.lingerUntil - performance.now(), run.deadline - Date.now());
      state.lingerUntil = 0;
      if (wait > 0) await sleep(wait, run.signal);
    }
  }

  // One read, with SWEEP, PEEK or TRACK as they are due: what it hands out (due timers too),
  // and how many entries it read; undefined when the fast path cannot serve the claim.
  async #readOnce(run: ClaimRun): Promise<{ out: Delivery[]; read: number } | undefined> {
    if (run.look) run.state.gen = this.#deps.nudges.gen(run.group, run.stream);
    const made = this.#commands(run);
    const { commands, sweeping, carried, trackArgs } = made instanceof Promise ? await made : made;
    const sentAt = Date.now(), sentTick = performance.now();
    let replies: unknown[];
    const sent = run.ordered ? undefined : this.#riders.sending();
    try {
      replies = await this.#send(commands, run);
    } catch (err) {
      carried?.fail(err);
      throw err;
    } finally {
      sent?.();
    }
    if (carried) replies = carried.answer(replies);
    if (sweeping) await this.#swept(run, replies.shift());
    const [readReply, peekReply] = !run.ordered
      ? replies
      : run.look
      ? [replies[1], replies[0]]
      : [replies[0], undefined];
    const expires = this.#expiry(run, readReply, peekReply, sentTick);
    // What was read must not stay untracked: a TRACK refused for want of the script runs again.
    const due = this.#looked(
      run,
      peekReply instanceof RedisReplyError
        ? await this.#again(peekReply, run.ordered, run.trackKeys, trackArgs, run.channel)
        : peekReply as [number, number] | undefined,
      sentAt,
    );
    if (readReply instanceof RedisReplyError) return undefined;
    const entries = (readReply as StreamReply)?.[0]?.[1] ?? [];
    const read = entries.length;
    const handed = this.#handOut(run, entries, expires, sentTick);
    const out = Array.isArray(handed) ? handed : await handed;
    // The read's entries are made into deliveries and lease records by now: let them go.
    // Something of the read's reply stays reachable until V8's next full collection, which
    // moved every read's entries to the old generation; empty, it holds nothing big.
    (entries as unknown[]).length = 0;
    if (due) {
      if (out.length < run.max) out.push(...await this.#slow(run, run.max - out.length));
      else run.state.dueFirst = true;
    }
    return { out, read };
  }

  // The pipeline of one read. Ordered (TCP): PEEK (unless fresh), then the read, whose leases
  // are recorded after the reply. Else (REST): the read, then TRACK, which records them and
  // peeks; settles waiting to ride go first. SWEEP goes in front when its time came.
  #commands(run: ClaimRun): Commands | Promise<Commands> {
    const { state, ordered } = run;
    const read: RedisArg[] = ["XREADGROUP", "GROUP", run.group, run.consumer, "COUNT", run.max];
    if (run.block > 0) read.push("BLOCK", run.block);
    read.push("STREAMS", run.sk, ">");
    const trackArgs = [run.group, run.consumer, run.leaseMs, state.cursor];
    const sweeping = Date.now() >= state.sweepAt;
    // The read alone (TCP, fresh) goes out without waiting for a script's SHA.
    if (ordered && !run.look && !sweeping) {
      return { commands: [read], sweeping, carried: undefined, trackArgs };
    }
    return this.#scripted(run, read, trackArgs, sweeping);
  }

  // #commands with scripts: PEEK or TRACK, SWEEP, and REST's riders.
  async #scripted(
    run: ClaimRun,
    read: RedisArg[],
    trackArgs: RedisArg[],
    sweeping: boolean,
  ): Promise<Commands> {
    const { scripts } = this.#deps;
    const { state, ordered } = run;
    const commands: (readonly RedisArg[])[] = !ordered
      ? [read, await scripts.call(TRACK, run.trackKeys, trackArgs)]
      : run.look
      ? [await scripts.call(PEEK, run.trackKeys.slice(1), []), read]
      : [read];
    if (sweeping) {
      const idle = Math.max(run.leaseMs, SWEEP_MIN_IDLE_MS);
      state.sweepAt = Date.now() + idle;
      commands.unshift(
        await scripts.call(SWEEP, [run.sk, run.tk], [run.group, idle, state.sweepFrom]),
      );
    }
    const carried = ordered ? undefined : this.#riders.take();
    if (carried) commands.unshift(...carried.commands);
    return { commands, sweeping, carried, trackArgs };
  }

  // SWEEP's reply: where to scan next, or load the script for the next time.
  async #swept(run: ClaimRun, swept: unknown): Promise<void> {
    if (swept instanceof RedisReplyError) {
      if (swept.reply !== "NOSCRIPT") throw swept;
      await this.#deps.scripts.load(SWEEP, run.channel);
      run.state.sweepAt = 0;
    } else run.state.sweepFrom = (swept as [number, string])[1];
  }

  // Ordered (TCP): the expiry of the read's leases, recorded after it (see #record); undefined
  // when Redis's clock is not known (then TRACK records them).
  #expiry(
    run: ClaimRun,
    readReply: unknown,
    peekReply: unknown,
    sentTick: number,
  ): number | undefined {
    if (!run.ordered || readReply instanceof RedisReplyError) return undefined;
    // The read happened at most this long after PEEK looked at Redis's clock (this claim's
    // PEEK, or the last one while fresh: Redis's clock then moved as our monotonic clock did).
    if (peekReply !== undefined && !(peekReply instanceof RedisReplyError)) {
      this.#clock = { redisMs: (peekReply as [number])[0], tick: sentTick };
    }
    const clock = peekReply instanceof RedisReplyError ? undefined : this.#clock;
    // (Measured on the monotonic clock: a wall-clock step must not shorten a lease.)
    if (!clock) return undefined;
    return clock.redisMs + Math.ceil(performance.now() - clock.tick) + run.leaseMs;
  }

  // What PEEK or TRACK said of the timers (Redis's clock, the earliest timer), or nothing when
  // neither looked: whether a timer is due now.
  #looked(run: ClaimRun, peek: [number, number] | undefined, sentAt: number): boolean {
    const { state, ordered } = run;
    if (peek === undefined) {
      // Fresh: what the last look said still holds, unless its earliest timer came due.
      run.look = true;
      return Date.now() >= state.dueAt;
    }
    const [now, nextDue] = peek;
    state.seenAt = ordered ? sentAt : Date.now();
    state.dueAt = nextDue >= 0 ? state.seenAt + nextDue - now : Infinity;
    run.look = !ordered;
    return nextDue >= 0 && nextDue <= now;
  }

  // The deliveries of what a read handed this consumer. Entries without a key go out as they
  // are (their leases recorded after the read, see #record), at once; keyed ones pass GATE
  // first, and those whose key is held elsewhere are parked instead (see key_scripts.ts).
  #handOut(
    run: ClaimRun,
    entries: readonly [string, unknown[]][],
    expires: number | undefined,
    sentTick: number,
  ): Delivery[] | Promise<Delivery[]> {
    const out = this.#deliveries(run.state, run.stream, run.consumer, entries);
    let keyed: number[] | undefined;
    for (let i = 0; i < out.length; i++) {
      if (out[i].envelope?.key !== undefined) (keyed ??= []).push(i);
    }
    if (keyed === undefined) {
      // Before this claim returns, so before any settle of what it read.
      if (expires !== undefined && out.length > 0) {
        this.#record(run, entries, out, expires, sentTick);
      }
      return out;
    }
    return this.#gate(run, entries, out, keyed, expires, sentTick);
  }

  // Runs GATE on a read's keyed entries (at `keyed` in `out`): what it hands out of the read.
  async #gate(
    run: ClaimRun,
    entries: readonly [string, unknown[]][],
    out: Delivery[],
    keyed: number[],
    expires: number | undefined,
    sentTick: number,
  ): Promise<Delivery[]> {
    const args: RedisArg[] = [run.group, run.consumer];
    for (const i of keyed) args.push(entries[i][0], out[i].envelope!.key!);
    const { keys, scripts } = this.#deps;
    const pass = await scripts.run(GATE, keys.keyed(run.stream, run.group), args) as number[];
    // Handed out: entries without a key, and keyed ones that hold their key (marked, so that a
    // fresh ack of theirs passes the key on).
    const flag = new Uint8Array(out.length);
    keyed.forEach((i, j) => flag[i] = pass[j] === 1 ? 1 : 2);
    const kept: number[] = [];
    for (let i = 0; i < out.length; i++) if (flag[i] !== 2) kept.push(i);
    const pick = <T>(xs: readonly T[]) => kept.map((i) => xs[i]);
    const handed = pick(out);
    if (expires !== undefined && kept.length > 0) {
      this.#record(run, pick(entries), handed, expires, sentTick, Uint8Array.from(pick([...flag])));
    }
    return handed;
  }

  // Runs the CLAIM script for up to n deliveries: due timers first, then new entries.
  async #slow(run: ClaimRun, n: number): Promise<Delivery[]> {
    // Timers were due: whether more are is not known until the next look.
    run.state.seenAt = 0;
    const found = await this.#deps.slow(run.group, run.stream, run.consumer, n, run.leaseMs);
    return this.#note(run.state, found);
  }

  // After a read that handed something out: REST notes whether it drained the stream, TCP
  // measures the arrival rate and lingers before the next read while it is high (LINGER_RATE).
  #pace(run: ClaimRun, n: number): void {
    const { state } = run;
    this.#deps.poller.found(run.channel);
    state.drained = n < run.max;
    if (!run.ordered) return;
    const now = performance.now();
    state.rateCount += n;
    const span = now - state.rateFrom;
    if (span >= RATE_WINDOW_MS) {
      state.fast = state.rateCount >= span * LINGER_RATE;
      state.rateFrom = now;
      state.rateCount = 0;
    }
    // A full read means a backlog: read on at once.
    if (state.fast && n > 1 && n < run.max) state.lingerUntil = now + LINGER_MS;
  }

  /**
   * This process changed `group`'s timers (a retry, a release) or redrove to it: claims look at
   * the timers again, and blocked ones stop waiting to do so.
   */
  timersChanged(group: string): void {
    for (const state of this.#states.values()) if (state.group === group) state.seenAt = 0;
    this.#deps.nudges.nudged(group);
  }

  /** Ends every blocking read and wait: the backend closes. Riders waiting go out alone. */
  close(): void {
    this.#riders.flush();
    this.#closing.abort();
  }

  // Whether what `state`'s last look learnt of the timers still holds (see FRESH_MS), and
  // Redis's clock is known: then a claim reads without PEEK in front.
  #fresh(state: State): boolean {
    const now = Date.now();
    return this.#clock !== undefined && !state.dueFirst && now - state.seenAt < FRESH_MS &&
      now < state.dueAt && state.gen === this.#deps.nudges.gen(state.group, state.stream);
  }

  #state(group: string, channel: string, stream: string): State {
    const key = `${channel}|${stream}`;
    let state = this.#states.get(key);
    if (!state) {
      // Consumers come and go (each worker instance has its own name): forgetting them all
      // now and then costs their next claim a sweep and a look before it waits.
      if (this.#states.size >= MAX_STATES) this.#states.clear();
      state = {
        group,
        stream,
        gen: 0,
        cursor: "-",
        dueFirst: false,
        // A consumer's first claim sweeps: a process that starts again frees what it left.
        sweepAt: 0,
        sweepFrom: "-",
        dueAt: Infinity,
        seenAt: 0,
        drained: false,
        rateFrom: 0,
        rateCount: 0,
        fast: false,
        lingerUntil: 0,
      };
      this.#states.set(key, state);
    }
    return state;
  }

  // PEEK or TRACK came back NOSCRIPT (first use, or Redis restarted): load it and run it again.
  async #again(
    err: RedisReplyError,
    ordered: boolean,
    keys: string[],
    args: RedisArg[],
    channel: string,
  ): Promise<[number, number]> {
    if (err.reply !== "NOSCRIPT") throw err;
    const { scripts } = this.#deps;
    // Without PEEK's clock the read's leases were not recorded: TRACK finds and records them.
    if (ordered) await scripts.load(PEEK, channel);
    return await scripts.run(TRACK, keys, args, channel) as [number, number];
  }

  // Records the leases of what an ordered read handed out: `ZADD NX` (a lease taken over in the
  // meantime keeps its token), sent within HOLD_MS (see takeFresh), or before a settle or an
  // extend (flushRecords). Without a clock (NOSCRIPT), TRACK does it. A failure leaves the
  // entries pending with no timer: their owner can still settle them, and SWEEP frees them
  // should it die.
  #record(
    { group, stream, sk, tk, consumer }: ClaimRun,
    entries: readonly [string, unknown[]][],
    deliveries: readonly Delivery[],
    expires: number,
    sentTick: number,
    keyed?: Uint8Array,
  ) {
    // (A Set of the ids would cost more than the rest of the read: new strings, hashed.)
    const n = entries.length;
    const ids = new Array<string>(n), refs = new Array<string>(n);
    for (let i = 0; i < n; i++) {
      ids[i] = entries[i][0];
      refs[i] = deliveries[i].ref;
    }
    this.#held.push({
      group,
      stream,
      sk,
      tk,
      consumer,
      expires,
      sentTick,
      ids,
      refs,
      taken: new Uint8Array(n),
      left: n,
      next: 0,
      acked: [],
      ackedKeyed: [],
      keyed,
    });
    this.#flushTimer ??= setTimeout(() => this.flushRecords(), HOLD_MS);
  }

  /** Whether lease records are held back (see takeFresh). */
  holdsRecords(): boolean {
    return this.#held.length > 0;
  }

  /**
   * Takes the delivery `ref` of `group`, handed out by a recent claim, out of the lease records
   * held back: its ack then needs no lease check (and its lease no record), since no one else
   * can hold it yet — only a due timer (it has none) or SWEEP (idle at least SWEEP_MIN_IDLE_MS)
   * hand out an entry that a consumer holds. `now` is performance.now(), read once per settle
   * by the caller. Returns whether it was taken; {@linkcode Reader.takeAcks} then has its id.
   */
  takeFresh(group: string, ref: string, now = performance.now()): boolean {
    for (const h of this.#held) {
      // A read whose entries were all taken: without this, every ack of a later read searched
      // it, and with reads of 500 events that search was a third of a consumer's CPU.
      if (h.left === 0 || h.group !== group) continue;
      // Acks mostly come in the order of the read, with the very ref the claim made: found
      // without parsing it, and mostly without comparing more than one string. Out of order
      // (handlers that take different times), by an index of the read's refs, made once.
      let i = h.refs[h.next] === ref ? h.next : -1;
      if (i < 0) {
        h.index ??= new Map(h.refs.map((r, j) => [r, j]));
        i = h.index.get(ref) ?? -1;
      }
      if (i < 0 || h.taken[i]) continue;
      // Read at most this long ago (measured from before the read was sent).
      if (now - h.sentTick >= FRESH_ACK_MS) return false;
      h.taken[i] = 1;
      h.left--;
      h.next = i + 1;
      if (h.keyed?.[i]) h.ackedKeyed.push(h.ids[i]);
      else h.acked.push(h.ids[i]);
      return true;
    }
    return false;
  }

  /** The acks {@linkcode Reader.takeFresh} took since the last call, by stream and consumer. */
  takeAcks(): FreshAcks[] {
    const out: FreshAcks[] = [];
    for (const h of this.#held) {
      if (h.acked.length === 0 && h.ackedKeyed.length === 0) continue;
      const channel = `${h.group}|${h.consumer}`;
      const run = out.find((a) => a.sk === h.sk && a.channel === channel);
      if (run) {
        run.ids.push(...h.acked);
        run.keyed.push(...h.ackedKeyed);
      } else {
        out.push({ stream: h.stream, sk: h.sk, channel, ids: h.acked, keyed: h.ackedKeyed });
      }
      h.acked = [];
      h.ackedKeyed = [];
    }
    return out;
  }

  /**
   * Sends the lease records held back, in the order the reads came: before a settle or an
   * extend, which must find them in Redis, at the latest HOLD_MS after the read, and on close.
   */
  flushRecords(): void {
    clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    const held = this.#held;
    if (held.length === 0) return;
    this.#held = [];
    const { client } = this.#deps;
    for (const h of held) {
      if (h.left === 0) continue;
      const args: RedisArg[] = ["ZADD", h.tk, "NX", "inf", SENTINEL_MEMBER];
      const tail = `|1|${h.consumer}`;
      const expires = String(h.expires);
      h.ids.forEach((id, i) => {
        if (!h.taken[i]) args.push(expires, id + tail);
      });
      client.command(args).catch(() => {});
    }
  }

  #deliveries(
    state: State,
    stream: string,
    consumer: string,
    entries: readonly [string, unknown[]][],
  ): Delivery[] {
    const n = entries.length;
    if (n === 0) return [];
    state.cursor = entries[n - 1][0];
    // Each ref is encodeRef({ source: "s", stream, entryId, count: 1, consumer }).
    const head = `s|${stream}|`, tail = `|1|${consumer}`;
    const out = new Array<Delivery>(n);
    for (let i = 0; i < n; i++) {
      const [entryId, fields] = entries[i];
      out[i] = entryDelivery(stream, head + entryId + tail, 1, fields);
    }
    return out;
  }

  // Moves the cursor past what the CLAIM script handed out from the stream.
  #note(state: State, deliveries: Delivery[]): Delivery[] {
    for (const d of deliveries) {
      const ref = decodeRef(d.ref);
      if (ref.source !== "s") continue;
      if (state.cursor === "-" || compareIds(ref.entryId, state.cursor) > 0) {
        state.cursor = ref.entryId;
      }
    }
    return deliveries;
  }

  // Sends the pipeline. A blocking one is ended through CLIENT UNBLOCK by the claim's signal
  // or by a nudge of its group (see nudge.ts); it does not block when one came since the group
  // was last looked at.
  async #send(commands: (readonly RedisArg[])[], run: ClaimRun): Promise<unknown[]> {
    const { client, nudges } = this.#deps;
    const { channel, signal, group, stream } = run;
    if (run.block <= 0) return await client.pipeline!(commands, channel);
    if (signal.aborted || nudges.gen(group, stream) !== run.state.gen) {
      return await client.pipeline!(commands.map(unblocking), channel);
    }
    return await nudges.during(
      group,
      [stream],
      signal,
      (ended) => interruptible(client, channel, ended, () => client.pipeline!(commands, channel)),
    );
  }
}

// An aborted claim does not block.
function unblocking(command: readonly RedisArg[]): readonly RedisArg[] {
  const i = command.indexOf("BLOCK");
  return command[0] === "XREADGROUP" && i > 0 ? command.toSpliced(i, 2) : command;
}
