/**
 * The Redis Streams backend: `XADD` to append, one Redis consumer group per Herald group and
 * stream, leases and retries in per-group timers, dead letters in a stream per group. See
 * scripts.ts for the layout and the atomic steps.
 *
 * @module
 */
import { reachability } from "../telemetry/health.ts";
import type {
  AppendOptions,
  Backend,
  BackendFeatures,
  ClaimOptions,
  DeadLetter,
  Delivery,
  Settlement,
  StartPosition,
} from "../backend.ts";
import { type Envelope, envelopeJson } from "../envelope.ts";
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
import { type RedisArg, type RedisClient, RedisReplyError } from "./client.ts";
import { RedisInspector } from "./inspect.ts";
import { decodeRef, encodeRef, entryDelivery, Keys } from "./keys.ts";
import { byStream, KeysCluster } from "./cluster_keys.ts";
import { ClusterSchedule } from "./cluster_schedule.ts";
import type { ResolvedOptions } from "./options.ts";
import { Poller } from "./poll.ts";
import { extendCall, settleCall } from "./lease_args.ts";
import { EXTEND, SETTLE } from "./lease_scripts.ts";
import { CLAIM } from "./claim_scripts.ts";
import { FRESH_ACK } from "./key_scripts.ts";
import { Reader } from "./reader.ts";
import { isNoGroup, regroup } from "./regroup.ts";
import { Nudges } from "./nudge.ts";
import { APPEND, APPEND_PLAIN, LEAVE, REDRIVE, Scripts } from "./scripts.ts";
import { indexTtlMs, redisTrace } from "./trace.ts";
import { journeysOff, type Trace, type TraceOptions } from "../trace.ts";
import { TAKE_RATE } from "./coord_scripts.ts";
import type { PushEndpoint, PushRegistry, RateLimits } from "../capabilities.ts";
import { CANCEL, PROMOTE, promotion, SCHEDULE, scheduleArgs } from "./schedule.ts";
import { Promoter } from "../promoter.ts";
import type { Promotion, ScheduledEvent, Scheduler } from "../schedule.ts";

/** How many due events one promotion script moves: a script blocks Redis while it runs. */
const PROMOTE_BATCH = 500;

/**
 * Over TCP, how long a worker's claim waits by default (`BackendFeatures.claimWaitMs`): long,
 * so that idle workers cost next to nothing (see bench/fanout.ts). A nudge (see nudge.ts) ends
 * a wait when the group changes in a way no new entry shows.
 */
const CLAIM_WAIT_MS = 30_000;

/** The Redis Streams backend. Made by `createRedisBackend()`. */
export class RedisBackend implements Backend, RateLimits, PushRegistry, Scheduler {
  /** `redis`. */
  readonly name = "redis";
  /**
   * Consumers in many processes share groups; everything lives in Redis. Claims of 200: a
   * consumer pays a round trip, a write and its bookkeeping per claim, so a batched publisher
   * outruns a consumer whose claims are smaller. Over TCP, a worker's claim waits 30 s
   * (`claimWaitMs`): a new entry ends its blocked read, and so does any other change to its
   * group, through the group's nudge stream (see nudge.ts).
   */
  readonly features: BackendFeatures;
  #keys: Keys;
  /** Where Redis is, for error messages (absent when the caller gave a client). */
  get #url(): string | undefined {
    return this.#options.url;
  }
  #client: RedisClient;
  #ownsClient: boolean;
  #scripts: Scripts;
  #options: ResolvedOptions;
  #poller: Poller;
  #reader: Reader;
  #nudges: Nudges;
  #inspector: RedisInspector;
  #closed = false;
  /** Moves delayed events into their streams when due (see `promoter.ts`). */
  #promoter: Promoter;
  /** Cluster mode: the schedules per stream, and the streams this process promotes. */
  #cluster?: ClusterSchedule;
  #rotate = 0;
  #outage = false;
  #backoffMs = 100;

  /**
   * Makes the backend; `createRedisBackend()` is the way in.
   *
   * @param client The connection to Redis.
   * @param options Checked options.
   * @param ownsClient Whether `close()` closes the client.
   */
  constructor(client: RedisClient, options: ResolvedOptions, ownsClient: boolean) {
    this.#client = client;
    this.#ownsClient = ownsClient;
    this.#options = options;
    this.#keys = client.cluster ? new KeysCluster(options.prefix) : new Keys(options.prefix);
    this.#nudges = new Nudges(client, this.#keys);
    this.features = {
      crossProcess: true,
      persistent: true,
      claimBatch: 200,
      ...(this.#nudges.watching ? { claimWaitMs: CLAIM_WAIT_MS } : {}),
    };
    this.#scripts = new Scripts(client);
    this.#poller = new Poller(options.pollMaxMs);
    const trim = options.trim;
    this.#inspector = new RedisInspector(
      (args) => this.#command(args),
      this.#keys,
      trim === "none" ? undefined : "maxLen" in trim ? { maxLength: trim.maxLen } : {
        maxAgeMs: trim.maxAgeMs,
      },
    );
    this.#reader = new Reader({
      client,
      scripts: this.#scripts,
      keys: this.#keys,
      poller: this.#poller,
      nudges: this.#nudges,
      slow: async (group, stream, consumer, max, leaseMs) =>
        (await this.#claimOnce(group, [stream], consumer, max, leaseMs)).found,
      closed: () => this.#closed,
    });
    if (this.#keys instanceof KeysCluster) {
      this.#cluster = new ClusterSchedule(
        this.#keys,
        (script, keys, args) => this.#run(script, keys, args),
        (args) => this.#command(args),
      );
    }
    this.#promoter = new Promoter(
      (now, max) => this.promote(now, max),
      options.pollMaxMs,
      (error) => reachability(this).logger.error("promoting delayed events failed", { error }),
      PROMOTE_BATCH,
    );
  }

  /** {@inheritDoc Scheduler.schedule} */
  async schedule(events: readonly ScheduledEvent[]): Promise<void> {
    this.#open();
    if (events.length === 0) return;
    if (this.#cluster) await this.#cluster.schedule(events);
    else await this.#run(SCHEDULE, this.#keys.schedule(), scheduleArgs(this.#keys, events));
    this.#promoter.scheduled(Math.min(...events.map((e) => e.dueAt)));
  }

  /** {@inheritDoc Scheduler.cancel} */
  async cancel(id: string): Promise<boolean> {
    this.#open();
    if (this.#cluster) return await this.#cluster.cancel(id);
    return Number(await this.#run(CANCEL, this.#keys.schedule(), [id])) === 1;
  }

  /** {@inheritDoc Scheduler.promote} */
  async promote(now: number, max: number): Promise<Promotion> {
    this.#open();
    const tail = [...this.#trimHead(), indexTtlMs(this.#options.trim)];
    const { moved, next } = this.#cluster
      ? await this.#cluster.promote(now, max, tail)
      : promotion(await this.#run(PROMOTE, this.#keys.schedule(), [now, max, ...tail]));
    if (moved > 0) this.#poller.wakeAll();
    return { moved, next };
  }

  /** The trim arguments of `APPEND` and `PROMOTE`: policy, approximation, limit. */
  #trimHead(): RedisArg[] {
    const trim = this.#options.trim;
    if (trim === "none") return ["none", "~", 0];
    const approx = trim.exact ? "=" : "~";
    return "maxLen" in trim
      ? ["MAXLEN", approx, trim.maxLen]
      : ["MINID", approx, `${Date.now() - trim.maxAgeMs}-0`];
  }

  async append(events: readonly Envelope[], options: AppendOptions = {}): Promise<void> {
    this.#open();
    if (events.length === 0) return;
    // Redis Cluster: one call per stream (slot), so a batch is atomic per stream only.
    const parts = this.#keys.cluster ? byStream(events, (e) => e.stream) : undefined;
    if (parts && parts.length > 1) {
      await Promise.all(parts.map((part) => this.append(part, options)));
      return;
    }
    const trim = this.#options.trim;
    const head = this.#trimHead();
    // Each stream named once in KEYS; with several, each event says which (see APPEND).
    const streams = [this.#keys.stream(events[0].stream)];
    const at = new Map([[events[0].stream, 1]]);
    for (const e of events) {
      if (!at.has(e.stream)) {
        streams.push(this.#keys.stream(e.stream));
        at.set(e.stream, streams.length);
      }
    }
    const keys = options.dedupe
      ? [...streams, ...events.map((e) => this.#keys.dedupe(e.id, e.stream))]
      : [...streams];
    if (!this.#options.journeys) {
      await this.#appendPlain(events, options, head, streams, at, keys);
      if (this.#options.waitForReplicas) await this.#replicated(keys[0]);
      return;
    }
    const index = new Map<string, number>();
    const place = (key: string) => {
      let n = index.get(key);
      if (n === undefined) index.set(key, n = keys.push(key));
      return n;
    };
    const args = [
      ...head,
      options.dedupe ? "1" : "0",
      this.#options.dedupeTtlMs,
      streams.length,
      indexTtlMs(trim),
    ];
    for (const e of events) {
      if (streams.length > 1) args.push(at.get(e.stream)!);
      const root = e.correlationid === e.id;
      args.push(
        place(this.#keys[root ? "correlation" : "correlated"](e.correlationid, e.stream)),
      );
      args.push(root ? 0 : place(this.#keys.caused(e.id, e.stream)));
      args.push(e.correlationid, envelopeJson(e));
    }
    await this.#run(APPEND, keys, args);
    if (this.#options.waitForReplicas) await this.#replicated(keys[0]);
    this.#poller.wakeAll();
  }

  // The publish just written to `key` is acknowledged once enough replicas hold it.
  async #replicated(key: string): Promise<void> {
    const { count, timeoutMs } = this.#options.waitForReplicas!;
    const client = this.#client;
    const held = Number(
      await this.#wrap(
        client.waitForReplicas
          ? client.waitForReplicas(key, count, timeoutMs)
          : client.command(["WAIT", count, timeoutMs]),
      ),
    );
    if (held < count) {
      throw new BackendUnavailableError(
        "redis",
        `the publish reached ${held} of ${count} replicas within ${timeoutMs} ms: its master ` +
          `holds it, but a failover may lose it; retry with dedupe`,
        { url: this.#url },
      );
    }
  }

  // Without the correlation index: one event is one XADD (atomic by itself, no script); a
  // batch goes through APPEND_PLAIN. (MULTI/EXEC would spare Redis the Lua, but costs the
  // client a command object per event, about four times the client CPU of one EVALSHA.)
  async #appendPlain(
    events: readonly Envelope[],
    options: AppendOptions,
    head: RedisArg[],
    streams: string[],
    at: Map<string, number>,
    keys: string[],
  ): Promise<void> {
    if (!options.dedupe && events.length === 1) {
      const trimArgs = head[0] === "none" ? [] : head;
      await this.#command(["XADD", streams[0], ...trimArgs, "*", "e", envelopeJson(events[0])]);
    } else {
      const args = [...head, options.dedupe ? "1" : "0", this.#options.dedupeTtlMs, streams.length];
      for (const e of events) {
        if (streams.length > 1) args.push(at.get(e.stream)!);
        args.push(envelopeJson(e));
      }
      await this.#run(APPEND_PLAIN, keys, args);
    }
    this.#poller.wakeAll();
  }

  async subscribe(group: string, streams: readonly string[], start: StartPosition): Promise<void> {
    this.#open();
    let id = start === "earliest" ? "0" : "$";
    if (start instanceof Date) {
      // The group's last-delivered id: just before the first id of that millisecond.
      const ms = start.getTime();
      id = ms > 0 ? `${ms - 1}-18446744073709551615` : "0";
    }
    await Promise.all(streams.map(async (stream) => {
      try {
        await this.#command(["XGROUP", "CREATE", this.#keys.stream(stream), group, id, "MKSTREAM"]);
      } catch (err) {
        if (
          !(err instanceof BackendUnavailableError && err.cause instanceof RedisReplyError &&
            err.cause.reply === "BUSYGROUP")
        ) throw err;
      }
    }));
    // A consumer's process promotes what falls due (in cluster mode, on the streams it consumes).
    this.#cluster?.watch(streams);
    this.#promoter.start();
  }

  async claim(
    group: string,
    streams: readonly string[],
    options: ClaimOptions,
  ): Promise<Delivery[]> {
    this.#open();
    const { consumer, max, leaseMs, waitMs, signal } = options;
    if (!(max >= 1) || !(leaseMs >= 1)) throw new RangeError("max and leaseMs must be at least 1");
    const deadline = Date.now() + waitMs;
    const waitKey = `${group}|${consumer}`;
    try {
      if (this.#reader.fits(streams)) {
        const found = await this.#reader.claim(group, streams[0], options);
        this.#up();
        if (found) return found;
      }
      // The CLAIM script alone: several streams, a client without pipelines, or no group yet.
      const sourceKeys = streams.flatMap((s) => [
        this.#keys.stream(s),
        this.#keys.redrive(s, group),
      ]);
      while (!this.#closed) {
        const gens = streams.map((s) => this.#nudges.gen(group, s));
        const { now, nextDue, found, lastIds } = await this.#claimOnce(
          group,
          streams,
          consumer,
          max,
          leaseMs,
        );
        this.#up();
        if (found.length > 0) {
          this.#poller.found(waitKey);
          return found;
        }
        let wait = deadline - Date.now();
        if (nextDue >= 0) wait = Math.min(wait, nextDue - now + 1);
        if (wait <= 0 || signal?.aborted) return [];
        const waitFor = this.#client.waitForEntries?.bind(this.#client);
        if (waitFor) {
          // A nudge since the look: look again at once.
          if (streams.some((s, i) => this.#nudges.gen(group, s) !== gens[i])) continue;
          await this.#nudges.during(
            group,
            streams,
            signal,
            (ended) => waitFor(waitKey, sourceKeys, lastIds, wait, ended),
          );
        } else {
          await this.#poller.wait(waitKey, wait, signal);
        }
      }
    } catch (err) {
      if (this.#closed || signal?.aborted) return [];
      if (isNoGroup(err)) {
        await this.#regroup(group, streams);
        return [];
      }
      if (!isOutage(err)) throw err;
      await this.#down(err, signal);
    }
    return [];
  }

  // One run of the CLAIM script: due timers first, then new entries, from every source.
  async #claimOnce(
    group: string,
    streams: readonly string[],
    consumer: string,
    max: number,
    leaseMs: number,
  ): Promise<{ now: number; nextDue: number; found: Delivery[]; lastIds: string[] }> {
    if (this.#keys.cluster && streams.length > 1) {
      return await this.#claimEach(group, streams, consumer, max, leaseMs);
    }
    // Two sources per stream: the stream, and the group's redrive stream for it.
    const keys: string[] = [];
    for (const s of streams) keys.push(...this.#keys.keyed(s, group));
    const first = this.#rotate++ % (2 * streams.length);
    const reply = await this.#run(CLAIM, keys, [
      group,
      consumer,
      Math.min(max, 1000),
      leaseMs,
      first,
    ], `${group}|${consumer}`);
    const [now, nextDue, rows, lastIds] = reply as [number, number, unknown[][], string[]];
    const found = rows.map((row) => this.#delivery(streams, consumer, row));
    return { now, nextDue, found, lastIds };
  }

  // Redis Cluster: one CLAIM per stream (slot), from a rotating first stream, until one finds.
  async #claimEach(
    group: string,
    streams: readonly string[],
    consumer: string,
    max: number,
    leaseMs: number,
  ): Promise<{ now: number; nextDue: number; found: Delivery[]; lastIds: string[] }> {
    const first = this.#rotate++ % streams.length;
    let now = 0, nextDue = -1;
    const lastIds: string[] = [];
    for (let i = 0; i < streams.length; i++) {
      const stream = streams[(first + i) % streams.length];
      const one = await this.#claimOnce(group, [stream], consumer, max, leaseMs);
      if (one.found.length > 0) return one;
      now = one.now;
      if (one.nextDue >= 0) nextDue = nextDue < 0 ? one.nextDue : Math.min(nextDue, one.nextDue);
      lastIds.push(...one.lastIds);
    }
    return { now, nextDue, found: [], lastIds };
  }

  async extend(
    group: string,
    deliveries: readonly Delivery[],
    leaseMs: number,
  ): Promise<Delivery[]> {
    this.#open();
    if (deliveries.length === 0) return [];
    const parts = this.#keys.cluster ? byStream(deliveries, (d) => d.stream) : undefined;
    if (parts && parts.length > 1) {
      return (await Promise.all(parts.map((p) => this.extend(group, p, leaseMs)))).flat();
    }
    this.#reader.flushRecords();
    const { keys, args } = extendCall(this.#keys, group, deliveries, leaseMs);
    try {
      const lost = await this.#run(EXTEND, keys, args) as number[];
      return lost.map((i) => deliveries[i - 1]);
    } catch (err) {
      if (!isNoGroup(err)) throw err;
      // Redis lost the group, and every lease with it.
      await this.#regroup(group, deliveries.map((d) => d.stream));
      return [...deliveries];
    }
  }

  async settle(group: string, settlements: readonly Settlement[]): Promise<void> {
    try {
      await this.#settle(group, settlements);
    } catch (err) {
      if (!isNoGroup(err)) throw err;
      // Redis lost the group: make it again, then record the outcomes (dead letters above all).
      await this.#regroup(group, settlements.map((s) => s.delivery.stream));
      await this.#settle(group, settlements);
    }
  }

  async #settle(group: string, settlements: readonly Settlement[]): Promise<void> {
    this.#open();
    if (settlements.length === 0) return;
    // Redis Cluster: one SETTLE per stream (slot); the dead letters are the stream's too.
    const parts = this.#keys.cluster
      ? byStream(settlements, (s) => decodeRef(s.delivery.ref).stream)
      : undefined;
    if (parts && parts.length > 1) {
      await Promise.all(parts.map((part) => this.settle(group, part)));
      return;
    }
    let rest = settlements;
    const sent: Promise<unknown>[] = [];
    let timersChanged = false;
    if (this.#reader.holdsRecords()) {
      // Acks of entries read moments ago, whose lease records are still held back: a plain
      // XACK, and no lease record at all (see Reader.takeFresh). The other records go out
      // first: the settle below must find them.
      const others: Settlement[] = [];
      const now = performance.now();
      for (const s of settlements) {
        if (s.outcome !== "ack" || !this.#reader.takeFresh(group, s.delivery.ref, now)) {
          others.push(s);
        }
      }
      rest = others;
      // By stream and consumer: the XACK's key and the consumer's connection.
      const acks = this.#reader.takeAcks();
      this.#reader.flushRecords();
      // On the consumer's own connection (see RedisClient.command): in the same write as its
      // next claim. Their order against other commands does not matter: no one else holds
      // these entries, and XACK is idempotent.
      for (const { stream, sk, channel, ids, keyed } of acks) {
        if (ids.length > 0) {
          sent.push(this.#wrap(this.#client.command(["XACK", sk, group, ...ids], channel)));
        }
        if (keyed.length === 0) continue;
        const keys = this.#keys.keyed(stream, group);
        sent.push(
          this.#run(FRESH_ACK, keys, [group, ...keyed]).then((due) => {
            // Entries parked behind a key that was passed on fell due.
            if ((due as number) > 0) timersChanged = true;
          }),
        );
      }
    }
    if (rest.length > 0) {
      const call = settleCall(this.#keys, group, rest, this.#options.deadLetterMaxLen);
      timersChanged ||= call.timersChanged;
      sent.push(
        this.#wrap(this.#ride(SETTLE, call.keys, call.args)).then((reply) => {
          // Entries parked behind a key that was passed on fell due.
          if ((reply as [number, number])[1] > 0) timersChanged = true;
        }),
      );
    }
    await Promise.all(sent);
    if (!timersChanged) return;
    this.#reader.timersChanged(group);
    await this.#nudge(group, settlements.map((s) => decodeRef(s.delivery.ref).stream));
  }

  async deadLetters(group: string, query?: DeadLetterQuery): Promise<DeadLetter[]> {
    this.#open();
    return await this.#inspector.deadLetters(group, query);
  }

  async streams(): Promise<StreamInfo[]> {
    this.#open();
    return await this.#inspector.streams();
  }

  async groups(stream?: string): Promise<GroupInfo[]> {
    this.#open();
    return await this.#inspector.groups(stream);
  }

  async purgeDeadLetters(group: string, options?: PurgeOptions): Promise<number> {
    this.#open();
    return await this.#inspector.purgeDeadLetters(group, options);
  }

  async deleteGroup(group: string, stream?: string): Promise<boolean> {
    this.#open();
    const streams = stream === undefined ? await this.#inspector.streamNames() : [stream];
    const deleted = await this.#inspector.deleteGroup(group, stream);
    if (deleted) await this.#nudge(group, streams);
    return deleted;
  }

  async resetGroup(group: string, stream: string, to: Position): Promise<void> {
    this.#open();
    await this.#inspector.resetGroup(group, stream, to);
    this.#poller.wakeAll();
    await this.#nudge(group, [stream]);
  }

  /** {@inheritDoc Tracer.trace} */
  async trace(id: string, options?: TraceOptions): Promise<Trace> {
    this.#open();
    if (!this.#options.journeys) throw journeysOff(this.name);
    return await redisTrace(
      (args) => this.#command(args),
      this.#keys,
      id,
      options,
      () => this.#inspector.streamNames(),
    );
  }

  async peek(stream: string, options?: PeekOptions): Promise<PeekPage> {
    this.#open();
    return await this.#inspector.peek(stream, options);
  }

  async redrive(group: string, ids?: readonly string[]): Promise<number> {
    this.#open();
    const wanted = ids ? new Set(ids) : undefined;
    const chosen = (await this.#inspector.readDead(group)).filter((d) =>
      !wanted || wanted.has(d.letter.id)
    );
    let moved = 0;
    // Redis Cluster: dead letters are per stream, so a call moves those of one stream.
    const batches: (typeof chosen)[] = [];
    for (const same of this.#keys.cluster ? byStream(chosen, (d) => d.letter.stream) : [chosen]) {
      for (let i = 0; i < same.length; i += 500) batches.push(same.slice(i, i + 500));
    }
    for (const part of batches) {
      const keys = [
        this.#keys.dead(group, part[0].letter.stream),
        ...part.map((d) => this.#keys.redrive(d.letter.stream, group)),
      ];
      const args = [group, ...part.map((d) => d.entryId)];
      // A foreign entry is the caller's to remove, not an outage: its reply goes out as it is.
      moved += await this.#scripts.run(REDRIVE, keys, args).catch((err) => {
        throw err instanceof RedisReplyError && err.reply !== "FOREIGN"
          ? new BackendUnavailableError("redis", err.message, { cause: err, url: this.#url })
          : err;
      }) as number;
    }
    if (moved > 0) {
      this.#poller.wakeAll();
      this.#reader.timersChanged(group);
      await this.#nudge(group, [...new Set(chosen.map((d) => d.letter.stream))]);
    }
    return moved;
  }

  async leave(group: string, streams: readonly string[], consumer: string): Promise<void> {
    this.#open();
    if (this.#keys.cluster && streams.length > 1) {
      await Promise.all(streams.map((s) => this.leave(group, [s], consumer)));
      return;
    }
    const keys = streams.flatMap((s) => [this.#keys.stream(s), this.#keys.redrive(s, group)]);
    await this.#run(LEAVE, keys, [group, consumer]);
  }

  async tryLock(name: string, ttlMs: number): Promise<boolean> {
    this.#open();
    const ttl = Math.max(1, Math.round(ttlMs));
    return await this.#command(["SET", this.#keys.lock(name), "1", "NX", "PX", ttl]) === "OK";
  }

  /** {@inheritDoc RateLimits.takeRate} */
  async takeRate(name: string, max: number, perMs: number): Promise<number> {
    this.#open();
    return Number(await this.#run(TAKE_RATE, [this.#keys.rate(name)], [max, Math.round(perMs)]));
  }

  /** {@inheritDoc PushRegistry.setPushEndpoint} */
  async setPushEndpoint(
    group: string,
    streams: readonly string[],
    endpoint: { url: string; secret: string } | null,
  ): Promise<void> {
    this.#open();
    for (const stream of streams) {
      const key = this.#keys.push(stream);
      if (endpoint) await this.#command(["HSET", key, group, JSON.stringify(endpoint)]);
      else await this.#command(["HDEL", key, group]);
    }
  }

  /** {@inheritDoc PushRegistry.pushEndpoints} */
  async pushEndpoints(stream: string): Promise<PushEndpoint[]> {
    this.#open();
    const flat = await this.#command(["HGETALL", this.#keys.push(stream)]) as unknown;
    const pairs: [string, string][] = Array.isArray(flat)
      ? flat.flatMap((v, i) => i % 2 === 0 ? [[String(v), String(flat[i + 1])]] : [])
      : Object.entries((flat ?? {}) as Record<string, unknown>).map(([k, v]) => [
        k,
        typeof v === "string" ? v : JSON.stringify(v),
      ]);
    return pairs.map(([group, json]) => ({ group, ...JSON.parse(json) }));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#reader.flushRecords();
    this.#closed = true;
    await this.#promoter.close();
    this.#poller.wakeAll();
    this.#reader.close();
    await this.#nudges.close();
    if (this.#ownsClient) await this.#client.close();
  }

  #delivery(streams: readonly string[], consumer: string, row: unknown[]): Delivery {
    const [source, entryId, count, fields] = row as [number, string, number, unknown[]];
    const stream = streams[Math.floor((source - 1) / 2)];
    const kind = (source - 1) % 2 === 0 ? "s" : "r";
    const ref = encodeRef({ source: kind, stream, entryId, count, consumer });
    return entryDelivery(stream, ref, count, fields);
  }

  // Tells blocked readers in every process that `group` changed on `streams` (see nudge.ts).
  #nudge(group: string, streams: readonly string[]): Promise<void> {
    return this.#wrap(this.#nudges.send(group, streams));
  }

  #regroup(group: string, streams: readonly string[]): Promise<void> {
    const logger = reachability(this).logger;
    return regroup((a) => this.#command(a), (s) => this.#keys.stream(s), group, streams, logger);
  }

  #open(): void {
    if (this.#closed) {
      throw new BackendUnavailableError("redis", "the backend is closed", { url: this.#url });
    }
  }

  #run(
    script: string,
    keys: readonly string[],
    args: readonly RedisArg[],
    channel?: string,
  ): Promise<unknown> {
    return this.#wrap(this.#scripts.run(script, keys, args, channel));
  }

  // REST: runs the script in the request of a claim that is running (see riders.ts), or alone.
  async #ride(script: string, keys: readonly string[], args: readonly RedisArg[]) {
    const riding = this.#reader.ride(await this.#scripts.call(script, keys, args));
    if (riding) {
      try {
        return await riding;
      } catch (err) {
        if (!(err instanceof RedisReplyError && err.reply === "NOSCRIPT")) throw err;
      }
    }
    return await this.#scripts.run(script, keys, args);
  }

  #command(args: readonly RedisArg[]): Promise<unknown> {
    return this.#wrap(this.#client.command(args));
  }

  // Error replies become BackendUnavailableError too: Redis refused, nothing is known written.
  async #wrap<T>(pending: Promise<T>): Promise<T> {
    try {
      return await pending;
    } catch (err) {
      if (err instanceof RedisReplyError) {
        throw new BackendUnavailableError("redis", err.message, { cause: err, url: this.#url });
      }
      throw err;
    }
  }

  // One warning per outage, then quiet retries with backoff until Redis answers again.
  async #down(err: BackendUnavailableError, signal?: AbortSignal): Promise<void> {
    if (!this.#outage) {
      this.#outage = true;
      reachability(this).down(err);
    }
    const ms = this.#backoffMs;
    this.#backoffMs = Math.min(5_000, ms * 2);
    await sleep(ms * (0.5 + Math.random() / 2), signal);
  }

  #up(): void {
    this.#backoffMs = 100;
    if (this.#outage) {
      this.#outage = false;
      reachability(this).up();
    }
  }
}

// Redis down or starting (LOADING) is an outage to wait out; other error replies are bugs.
function isOutage(err: unknown): err is BackendUnavailableError {
  if (!(err instanceof BackendUnavailableError)) return false;
  if (!(err.cause instanceof RedisReplyError)) return true;
  return ["LOADING", "READONLY", "MASTERDOWN", "TRYAGAIN", "OOM"].includes(err.cause.reply);
}
