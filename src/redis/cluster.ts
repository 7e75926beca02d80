/**
 * The Redis Cluster adapter, on npm `ioredis`'s `Cluster` client: it follows the cluster's slot
 * map (and its changes after a failover), sends each command to the master of its keys' slot,
 * loads scripts on every master, and walks `SCAN` over every master.
 *
 * @module
 */
import type { Cluster as IOCluster, Redis as IORedis } from "ioredis";
import calculateSlot from "cluster-key-slot";
import { BackendUnavailableError } from "../errors.ts";
import { sleep } from "../sleep.ts";
import { type RedisArg, type RedisClient, RedisReplyError } from "./client.ts";
import { interruptible } from "./poll.ts";
import type { TcpClientOptions } from "./tcp.ts";

/**
 * Connects to a Redis Cluster through some of its nodes (`redis://host:port` URLs; the client
 * finds the others). The backend made on it keeps every key of a stream and its groups in one
 * hash slot (see `docs/backends.md`, "Redis Cluster"). Commands fail fast with
 * `BackendUnavailableError` while a slot has no reachable master; the client follows a failover
 * by itself.
 *
 * @param nodes `redis://[user:password@]host:port` URLs of one or more nodes of the cluster.
 * @param options Connection options.
 * @returns The client; it connects on first use.
 *
 * @example Connect a backend to a cluster
 * ```ts ignore
 * import { clusterClient, createRedisBackend } from "@herald/herald/redis";
 * const backend = createRedisBackend({ client: clusterClient(["redis://127.0.0.1:7000"]) });
 * await backend.close();
 * ```
 */
export function clusterClient(
  nodes: readonly string[],
  options: TcpClientOptions = {},
): RedisClient {
  return new ClusterClient(nodes, options);
}

/** How soon a consumer looks again when no master is known for its slot, in milliseconds. */
const SLOT_UNKNOWN_MS = 200;

// A consumer's own connection to the master of the slot it waits on, and its id for unblocking.
interface Channel {
  node: string;
  conn: IORedis;
  id: number;
}

class ClusterClient implements RedisClient {
  readonly transport = "tcp";
  readonly cluster = true;
  /** Commands without a channel go through one connection per master, in call order. */
  readonly ordered = true;
  #nodes: readonly string[];
  #options: TcpClientOptions;
  #conn?: Promise<IOCluster>;
  #closed = false;
  #channels = new Map<string, Promise<Channel>>();

  constructor(nodes: readonly string[], options: TcpClientOptions) {
    if (nodes.length === 0) throw new TypeError("clusterClient needs at least one node URL");
    this.#nodes = nodes;
    this.#options = options;
  }

  async command(args: readonly RedisArg[]): Promise<unknown> {
    const conn = await this.#connection();
    const name = String(args[0]).toUpperCase();
    // Scripts live per node: load one on every master, so EVALSHA finds it wherever it goes.
    if (name === "SCRIPT") {
      const masters = conn.nodes("master");
      const replies = await Promise.all(masters.map((node) => run(node, args, this.#nodes)));
      return replies[0];
    }
    if (name === "SCAN") return await this.#scan(conn, args);
    return await run(conn, args, this.#nodes);
  }

  /**
   * SCAN over every master in turn. The cursor handed back is `<master index>:<its cursor>`,
   * and `0` once the last master is done, so a caller's usual cursor loop sees every key.
   */
  async #scan(conn: IOCluster, args: readonly RedisArg[]): Promise<unknown> {
    const masters = conn.nodes("master").sort((a, b) => label(a).localeCompare(label(b)));
    const cursor = String(args[1]);
    let index = 0, inner = "0";
    if (cursor !== "0") [index, inner] = [Number(cursor.split(":")[0]), cursor.split(":")[1]];
    const node = masters[index];
    if (!node) return ["0", []];
    const [next, keys] = await run(node, ["SCAN", inner, ...args.slice(2)], this.#nodes) as [
      string,
      string[],
    ];
    if (String(next) !== "0") return [`${index}:${next}`, keys];
    return [index + 1 < masters.length ? `${index + 1}:0` : "0", keys];
  }

  /**
   * Runs the commands of one slot (a consumer's read of one stream: see reader.ts) in one round
   * trip, on `channel`'s own connection to that slot's master, so a blocking read there holds up
   * nothing else. Without a channel, or for commands of no single slot, through the cluster's
   * connections. A redirection (`MOVED`, the slot moved) is an error reply in its command's
   * place: the backend's slower path, through the cluster's connections, follows it.
   */
  async pipeline(commands: readonly (readonly RedisArg[])[], channel?: string): Promise<unknown[]> {
    const conn = await this.#connection();
    const slot = channel === undefined ? undefined : slotOf(commands);
    const node = slot === undefined ? undefined : conn.slots[slot]?.[0];
    let settled: PromiseSettledResult<unknown>[] | undefined;
    if (node !== undefined) {
      const ch = await this.#channel(channel!, node).catch(() => undefined);
      settled = ch && await Promise.allSettled(commands.map((args) => run(ch.conn, args, [node])));
      if (!settled || settled.some((r) => r.status === "rejected" && !isReply(r.reason))) {
        // The master went away (a failover): a new connection next time, to the master the
        // refreshed slot map names; this time through the cluster's connections, which wait
        // for it, and without blocking them.
        if (ch) this.#drop(channel!, ch);
        conn.refreshSlotsCache();
        settled = undefined;
      }
    }
    // A blocking read never goes out on the connections every command shares.
    settled ??= await Promise.allSettled(
      commands.map((args) => run(conn, unblocking(args), this.#nodes)),
    );
    return settled.map((r) => {
      if (r.status === "fulfilled") return r.value;
      if (r.reason instanceof RedisReplyError) return r.reason;
      throw r.reason;
    });
  }

  /** `WAIT` on the master of `key`'s slot, through the connection the cluster wrote with. */
  async waitForReplicas(key: string, count: number, timeoutMs: number): Promise<number> {
    const conn = await this.#connection();
    const address = conn.slots[calculateSlot(key) as number]?.[0];
    const node = conn.nodes("master").find((n) => label(n) === address);
    if (!node) {
      throw new BackendUnavailableError("redis", `no master known for ${key}`, {
        url: this.#nodes[0],
      });
    }
    return Number(await run(node, ["WAIT", count, timeoutMs], this.#nodes));
  }

  /**
   * Waits for entries after `ids` in `keys`: a blocking `XREAD` on the consumer's own connection
   * to the master of the keys' slot. Keys in several slots (a consumer on several streams) cannot
   * be read by one command: one blocking read per slot, each on its own connection, and the
   * first to return ends the others.
   */
  async waitForEntries(
    channel: string,
    keys: readonly string[],
    ids: readonly string[],
    ms: number,
    signal?: AbortSignal,
  ): Promise<void> {
    if (signal?.aborted || ms <= 0) return;
    const conn = await this.#connection();
    const bySlot = new Map<number, { keys: string[]; ids: string[] }>();
    keys.forEach((key, i) => {
      const slot = calculateSlot(key) as number;
      let part = bySlot.get(slot);
      if (!part) bySlot.set(slot, part = { keys: [], ids: [] });
      part.keys.push(key);
      part.ids.push(ids[i]);
    });
    if (bySlot.size === 1) {
      const [[slot, part]] = bySlot;
      return await this.#block(channel, conn.slots[slot]?.[0], part.keys, part.ids, ms, signal);
    }
    const first = new AbortController();
    const stop = () => first.abort();
    signal?.addEventListener("abort", stop, { once: true });
    try {
      await Promise.all(
        [...bySlot].map(([slot, part]) =>
          this.#block(
            `${channel}#${slot}`,
            conn.slots[slot]?.[0],
            part.keys,
            part.ids,
            ms,
            first.signal,
          ).finally(stop)
        ),
      );
    } finally {
      signal?.removeEventListener("abort", stop);
    }
  }

  // One blocking read on `channel`'s connection to `node`, ended early by `signal`.
  async #block(
    channel: string,
    node: string | undefined,
    keys: readonly string[],
    ids: readonly string[],
    ms: number,
    signal?: AbortSignal,
  ): Promise<void> {
    if (node === undefined) return await sleep(Math.min(ms, SLOT_UNKNOWN_MS), signal);
    const ch = await this.#channel(channel, node);
    const block = Math.max(1, Math.ceil(ms));
    try {
      await interruptible(this, channel, signal, async () => {
        try {
          return await ch.conn.call(
            "XREAD",
            "COUNT",
            1,
            "BLOCK",
            block,
            "STREAMS",
            ...keys,
            ...ids,
          );
        } catch (err) {
          // The node went away or the slot moved: a new connection is made next time.
          this.#drop(channel, ch);
          throw err instanceof Error && err.name === "ReplyError"
            ? new RedisReplyError(err.message, { cause: err })
            : new BackendUnavailableError("redis", describe(err), { cause: err, url: node });
        }
      });
    } catch (err) {
      if (!signal?.aborted) throw err;
    }
  }

  async unblock(channel: string): Promise<void> {
    const ch = await this.#channels.get(channel)?.catch(() => undefined);
    if (!ch) return;
    const conn = await this.#connection();
    const node = conn.nodes("master").find((n) => label(n) === ch.node);
    try {
      if (!node) throw new Error("no such master");
      await node.call("CLIENT", "UNBLOCK", ch.id);
    } catch {
      this.#drop(channel, ch);
    }
  }

  #drop(channel: string, ch: Channel): void {
    this.#channels.delete(channel);
    ch.conn.disconnect();
  }

  // A consumer's own connection to `node`; a connection to another node is replaced.
  async #channel(channel: string, node: string): Promise<Channel> {
    const pending = this.#channels.get(channel);
    const had = await pending?.catch(() => undefined);
    if (had && had.node === node && had.conn.status === "ready") return had;
    if (had) this.#drop(channel, had);
    const made = this.#connectNode(node);
    this.#channels.set(channel, made);
    made.catch(() => this.#channels.delete(channel));
    return await made;
  }

  async #connectNode(node: string): Promise<Channel> {
    const { Redis } = await import("ioredis");
    const [host, port] = [
      node.slice(0, node.lastIndexOf(":")),
      node.slice(node.lastIndexOf(":") + 1),
    ];
    const conn = new Redis({
      ...this.#nodeOptions(),
      host,
      port: Number(port),
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      // A dropped connection's socket is destroyed at once rather than after a 2 s timer.
      disconnectTimeout: 0,
    });
    conn.on("error", () => {});
    try {
      await conn.connect();
      return { node, conn, id: await conn.call("CLIENT", "ID") as number };
    } catch (err) {
      conn.disconnect();
      throw new BackendUnavailableError("redis", describe(err), { cause: err, url: node });
    }
  }

  #nodeOptions() {
    const first = new URL(this.#nodes[0]);
    return {
      username: first.username ? decodeURIComponent(first.username) : undefined,
      password: first.password ? decodeURIComponent(first.password) : undefined,
      tls: first.protocol === "rediss:" ? {} : undefined,
      connectTimeout: this.#options.connectTimeoutMs ?? 5000,
    };
  }

  #connection(): Promise<IOCluster> {
    if (this.#closed) {
      return Promise.reject(
        new BackendUnavailableError("redis", "the client is closed", { url: this.#nodes[0] }),
      );
    }
    if (!this.#conn) {
      this.#conn = this.#connect();
      this.#conn.catch(() => this.#conn = undefined);
    }
    return this.#conn;
  }

  async #connect(): Promise<IOCluster> {
    const { Cluster } = await import("ioredis");
    const startup = this.#nodes.map((url) => {
      const u = new URL(url);
      return { host: u.hostname, port: Number(u.port || 6379) };
    });
    const conn = new Cluster(startup, {
      lazyConnect: true,
      // Commands wait while the slot map is refreshed (after MOVED or a failover), not forever:
      // each retries a few times, then fails with an error the caller sees.
      enableOfflineQueue: true,
      retryDelayOnFailover: 200,
      retryDelayOnClusterDown: 200,
      retryDelayOnTryAgain: 200,
      maxRedirections: 16,
      clusterRetryStrategy: (times) => Math.min(100 * times, 2000),
      redisOptions: {
        ...this.#nodeOptions(),
        maxRetriesPerRequest: 2,
        // A closed node connection's socket is destroyed at once rather than after a 2 s timer.
        disconnectTimeout: 0,
        autoResendUnfulfilledCommands: false,
      },
    });
    // The backend reports outages itself; without a listener ioredis prints every retry.
    conn.on("error", () => {});
    try {
      await conn.connect();
    } catch (err) {
      conn.disconnect();
      throw new BackendUnavailableError("redis", describe(err), {
        cause: err,
        url: this.#nodes[0],
      });
    }
    return conn;
  }

  async close(): Promise<void> {
    this.#closed = true;
    const channels = await Promise.all(
      [...this.#channels.values()].map((p) => p.catch(() => undefined)),
    );
    this.#channels.clear();
    for (const ch of channels) ch?.conn.disconnect();
    const conn = await this.#conn?.catch(() => undefined);
    if (conn) await conn.quit().catch(() => conn.disconnect());
    // Let ioredis's zero-delay socket clean-up timers run before close() returns.
    await new Promise((r) => setTimeout(r, 1));
  }
}

const isReply = (err: unknown) => err instanceof RedisReplyError;

// A read that would block, without blocking.
function unblocking(args: readonly RedisArg[]): readonly RedisArg[] {
  const i = args.indexOf("BLOCK");
  return i > 0 && String(args[0]).toUpperCase().startsWith("XREAD") ? args.toSpliced(i, 2) : args;
}

/** The one slot every command's first key is in, or `undefined` (no key, or several slots). */
function slotOf(commands: readonly (readonly RedisArg[])[]): number | undefined {
  let slot: number | undefined;
  for (const args of commands) {
    const name = String(args[0]).toUpperCase();
    const at = name === "EVALSHA" || name === "EVAL"
      ? (Number(args[2]) > 0 ? 3 : -1)
      : name.startsWith("XREAD")
      ? args.findIndex((a) => String(a).toUpperCase() === "STREAMS") + 1
      : 1;
    if (at <= 0 || at >= args.length) return undefined;
    const one = calculateSlot(String(args[at])) as number;
    if (slot !== undefined && one !== slot) return undefined;
    slot = one;
  }
  return slot;
}

function label(node: IORedis): string {
  return `${node.options.host}:${node.options.port}`;
}

async function run(
  conn: IOCluster | IORedis,
  args: readonly RedisArg[],
  nodes: readonly string[],
): Promise<unknown> {
  try {
    return await conn.call(String(args[0]), ...args.slice(1));
  } catch (err) {
    if (err instanceof Error && err.name === "ReplyError") {
      throw new RedisReplyError(err.message, { cause: err });
    }
    throw new BackendUnavailableError("redis", describe(err), { cause: err, url: nodes[0] });
  }
}

function describe(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message || "unknown error";
}
