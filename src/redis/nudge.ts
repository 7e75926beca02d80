/**
 * Nudges: how a consumer blocked in a long read learns that its group changed in a way no new
 * stream entry shows (Redis does not end a blocked `XREADGROUP` on `XGROUP SETID`, a redrive,
 * or a retry timer written by another process). Whoever makes such a change appends a tiny
 * entry to the group's nudge stream on that stream (`Keys.nudge`, one entry kept, in the
 * stream's hash slot). Over TCP, each process watches the nudge streams of the groups it
 * claims for with one blocking `XREAD` per stream, on a connection of its own; an entry there
 * ends the blocked reads of that group and stream in this process, whose claims then look at
 * the group again. Changes made by this process end its reads at once, without Redis.
 *
 * @module
 */
import { type RedisArg, type RedisClient, RedisReplyError } from "./client.ts";
import type { Keys } from "./keys.ts";
import { interruptible } from "./poll.ts";
import { sleep } from "../sleep.ts";

/**
 * How long a watch's `XREAD` blocks before it is sent again, ms: so that a connection that
 * died without a word is found out within it.
 */
const WATCH_MS = 60_000;

/** How long a watch waits after an error before it reads again, ms. */
const RETRY_MS = 1_000;

// One stream's watch: the last nudge seen of each group, and the read in flight.
interface Watch {
  ids: Map<string, string>;
  restart?: AbortController;
  loop?: Promise<void>;
}

// A wait that a nudge of its group (on one of its streams) ends.
interface Listener {
  group: string;
  streams: readonly string[];
  fire: () => void;
}

/** The nudges of one backend: writing them, watching for them, and ending waits on them. */
export class Nudges {
  #client: RedisClient;
  #keys: Keys;
  #watches = new Map<string, Watch>();
  #gens = new Map<string, number>();
  #listeners = new Set<Listener>();
  #closing = new AbortController();

  constructor(client: RedisClient, keys: Keys) {
    this.#client = client;
    this.#keys = keys;
  }

  /** Whether this client can watch (TCP: it blocks, and unblocks a blocked connection). */
  get watching(): boolean {
    return this.#client.unblock !== undefined && this.#client.pipeline !== undefined;
  }

  /**
   * Tells every process that `group` changed on `streams` (appends to their nudge streams), and
   * ends this process's waits at once.
   */
  async send(group: string, streams: readonly string[]): Promise<void> {
    this.nudged(group, streams);
    await Promise.all(
      [...new Set(streams)].map((s) =>
        this.#client.command(["XADD", this.#keys.nudge(s, group), "MAXLEN", 1, "*", "n", 1])
      ),
    );
  }

  /**
   * `group` changed on `streams` (on every stream when not given): waits on it end, and a
   * wait about to start does not (see {@linkcode Nudges.gen}).
   */
  nudged(group: string, streams?: readonly string[]): void {
    this.#bump(group);
    for (const s of streams ?? []) this.#bump(`${group}|${s}`);
    for (const l of [...this.#listeners]) {
      if (l.group === group && (!streams || l.streams.some((s) => streams.includes(s)))) l.fire();
    }
  }

  /**
   * A number that changes whenever `group` is nudged on `stream`: a claim takes it before it
   * looks at the group, and does not block when it changed since.
   */
  gen(group: string, stream: string): number {
    return (this.#gens.get(group) ?? 0) + (this.#gens.get(`${group}|${stream}`) ?? 0);
  }

  /**
   * Runs `wait`, ended (through the signal it is given) by a nudge of `group` on `streams`, by
   * `signal`, or by close; watches those nudge streams from now on.
   */
  async during<T>(
    group: string,
    streams: readonly string[],
    signal: AbortSignal | undefined,
    wait: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    for (const s of streams) this.#watch(s, group);
    // (One controller and listeners rather than AbortSignal.any: this runs for every blocking
    // read, and a consumer that keeps up blocks on nearly every claim.)
    const ended = new AbortController();
    const end = () => ended.abort();
    const listener: Listener = { group, streams, fire: end };
    this.#listeners.add(listener);
    signal?.addEventListener("abort", end, { once: true });
    if (signal?.aborted || this.#closing.signal.aborted) end();
    try {
      return await wait(ended.signal);
    } finally {
      this.#listeners.delete(listener);
      signal?.removeEventListener("abort", end);
    }
  }

  /** Ends every watch; resolves when their reads have returned. */
  async close(): Promise<void> {
    this.#closing.abort();
    for (const l of [...this.#listeners]) l.fire();
    await Promise.all([...this.#watches.values()].map((w) => w.loop));
  }

  #bump(key: string): void {
    this.#gens.set(key, (this.#gens.get(key) ?? 0) + 1);
  }

  // Watches `group`'s nudges on `stream`: a new group restarts the stream's read with it.
  #watch(stream: string, group: string): void {
    if (!this.watching || this.#closing.signal.aborted) return;
    let watch = this.#watches.get(stream);
    if (!watch) this.#watches.set(stream, watch = { ids: new Map() });
    if (watch.ids.has(group)) return;
    // From the start: a nudge sent before this read is in place is seen (once more, at worst).
    watch.ids.set(group, "0-0");
    if (watch.loop) watch.restart?.abort();
    else watch.loop = this.#loop(stream, watch);
  }

  async #loop(stream: string, watch: Watch): Promise<void> {
    const channel = `\u0000nudge|${stream}`;
    const closing = this.#closing.signal;
    while (!closing.aborted) {
      const groups = [...watch.ids.keys()];
      const read: RedisArg[] = ["XREAD", "BLOCK", WATCH_MS, "STREAMS"];
      for (const g of groups) read.push(this.#keys.nudge(stream, g));
      for (const g of groups) read.push(watch.ids.get(g)!);
      watch.restart = new AbortController();
      const sentAt = performance.now();
      let reply: unknown;
      try {
        const signal = AbortSignal.any([watch.restart.signal, closing]);
        [reply] = await interruptible(
          this.#client,
          channel,
          signal,
          () => this.#client.pipeline!([read], channel),
        );
        if (reply instanceof RedisReplyError) throw reply;
      } catch {
        // An outage: the ids are kept, so nothing sent meanwhile is missed once it is over.
        if (!closing.aborted) await sleep(RETRY_MS, closing).catch(() => {});
        continue;
      }
      if (reply == null && !watch.restart.signal.aborted && !closing.aborted) {
        // Back before its time, unasked: the read went out without blocking (a cluster client
        // does that while a failover moves the slot), so wait rather than spin.
        if (performance.now() - sentAt < WATCH_MS / 2) await sleep(RETRY_MS, closing);
      }
      for (const [key, entries] of (reply ?? []) as [string, [string][]][]) {
        const i = groups.findIndex((g) => this.#keys.nudge(stream, g) === key);
        const last = entries.at(-1)?.[0];
        if (i < 0 || last === undefined) continue;
        watch.ids.set(groups[i], last);
        this.nudged(groups[i], [stream]);
      }
    }
  }
}
