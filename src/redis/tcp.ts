/**
 * The TCP adapter, on npm `ioredis`: one shared connection for commands (ioredis pipelines
 * concurrent commands on it), and one more per consumer for its claims and blocking reads.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import process from "node:process";
import type { Command, Redis as IORedis, RedisOptions as IORedisOptions } from "ioredis";
import { BackendUnavailableError } from "../errors.ts";
import { type RedisArg, type RedisClient, RedisReplyError } from "./client.ts";
import { interruptible } from "./poll.ts";

/** Options of {@linkcode tcpClient}. */
export interface TcpClientOptions {
  /**
   * How long to wait for a connection before a command fails, in milliseconds.
   *
   * @default 5000
   */
  connectTimeoutMs?: number;
}

/**
 * Connects to Redis over TCP (`redis://` or `rediss://` URL). Commands fail fast with
 * `BackendUnavailableError` while Redis is unreachable (they are not queued, so a publish never
 * waits silently); the connection comes back by itself with backoff.
 *
 * @param url A `redis://[user:password@]host:port[/db]` or `rediss://…` URL.
 * @param options Connection options.
 * @returns The client; it connects on first use.
 *
 * @example
 * ```ts
 * import { tcpClient } from "@herald/herald/redis";
 * const client = tcpClient("redis://127.0.0.1:6379");
 * console.log(await client.command(["PING"])); // PONG
 * await client.close();
 * ```
 */
export function tcpClient(url: string, options: TcpClientOptions = {}): RedisClient {
  return new TcpClient(url, options);
}

// What #cork needs of a connection's socket.
interface Corkable {
  cork(): void;
  uncork(): void;
}

/** The socket under an ioredis connection (not in ioredis's types). */
function socketOf(conn: IORedis): Corkable | undefined {
  return (conn as unknown as { stream?: Corkable }).stream;
}

// A consumer's own connection, and its id for CLIENT UNBLOCK.
interface Channel {
  conn: IORedis;
  id: number;
  /** Blocking reads in flight on it. */
  blocked: number;
}

class TcpClient implements RedisClient {
  readonly transport = "tcp";
  readonly ordered = true;
  #url: string;
  #options: IORedisOptions;
  #main?: Promise<IORedis>;
  // The main connection once made, and how many commands still wait for it, in call order.
  #ready?: IORedis;
  #waiting = 0;
  #channels = new Map<string, Promise<Channel>>();
  #closed = false;
  // Sockets corked until the end of the current task, with the writes deferred to then.
  #corked = new Map<Corkable, (() => void)[]>();

  constructor(url: string, options: TcpClientOptions) {
    this.#url = url;
    this.#options = {
      lazyConnect: true,
      // Fail fast instead of queueing: the caller learns at once that nothing was written.
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 0,
      connectTimeout: options.connectTimeoutMs ?? 5000,
      // A dropped connection's socket is destroyed at once rather than after a 2 s timer.
      disconnectTimeout: 0,
      retryStrategy: (times) => Math.min(50 * 2 ** times, 2000) + Math.random() * 100,
    };
  }

  command(args: readonly RedisArg[], channel?: string): Promise<unknown> {
    if (this.#closed) {
      return Promise.reject(
        new BackendUnavailableError("redis", "the client is closed", { url: this.#url }),
      );
    }
    if (channel !== undefined) {
      return this.#channel(channel).then((ch) => {
        // Not behind a blocking read: then on the main connection.
        if (ch.blocked > 0) return this.command(args);
        this.#cork(ch.conn);
        return run(ch.conn, args);
      });
    }
    // Written at once when nothing waits for the connection: commands go out in call order.
    if (this.#ready && this.#waiting === 0) {
      const conn = this.#ready;
      if (this.#isCorked(conn)) return run(conn, args);
      // The first command of a task leaves at once, the ones after it share a write (see
      // #cork): a publisher awaiting each command does not wait for the nextTick queue.
      const sent = run(conn, args);
      this.#cork(conn);
      return sent;
    }
    let pending: Promise<IORedis>;
    try {
      pending = this.#connection();
    } catch (err) {
      return Promise.reject(err);
    }
    this.#waiting++;
    return pending.then((conn) => {
      this.#waiting--;
      this.#ready = conn;
      this.#cork(conn);
      return run(conn, args);
    }, (err) => {
      this.#waiting--;
      throw err;
    });
  }

  async pipeline(commands: readonly (readonly RedisArg[])[], channel?: string): Promise<unknown[]> {
    const ch = channel === undefined ? undefined : await this.#channel(channel);
    const conn = ch ? ch.conn : await this.#connection();
    // Corked, the commands leave in one write, as a pipeline would, without the cost of
    // ioredis's pipeline object; each reply settles its own command.
    const deferred = this.#cork(conn);
    const send = () => Promise.allSettled(commands.map((args) => run(conn, args)));
    let sending: Promise<PromiseSettledResult<unknown>[]>;
    if (ch && deferred && commands.some((c) => c.includes("BLOCK"))) {
      // A blocking read goes last in this task's write, so that what the task sends on this
      // connection besides (a consumer's acks) is not stuck behind it; commands sent while it
      // blocks take the main connection (see command()).
      sending = new Promise((resolve) => {
        deferred.push(() => {
          ch.blocked++;
          const sent = send();
          sent.then(() => ch.blocked--);
          resolve(sent);
        });
      });
    } else sending = send();
    const settled = await sending;
    return settled.map((r) => {
      if (r.status === "fulfilled") return r.value;
      if (r.reason instanceof RedisReplyError) return r.reason;
      throw r.reason;
    });
  }

  async unblock(channel: string): Promise<void> {
    const pending = this.#channels.get(channel);
    const ch = pending && await pending.catch(() => undefined);
    if (!ch || ch.conn.status !== "ready") return;
    try {
      await run(await this.#connection(), ["CLIENT", "UNBLOCK", ch.id]);
    } catch {
      // No other way in: drop the blocked connection, a new one is made next time.
      this.#channels.delete(channel);
      ch.conn.disconnect();
    }
  }

  async waitForEntries(
    channel: string,
    keys: readonly string[],
    ids: readonly string[],
    ms: number,
    signal?: AbortSignal,
  ): Promise<void> {
    if (signal?.aborted || ms <= 0) return;
    const ch = await this.#channel(channel);
    const block = Math.max(1, Math.ceil(ms));
    ch.blocked++;
    try {
      // A blocked connection cannot take a command: another one unblocks it.
      await interruptible(
        this,
        channel,
        signal,
        () => run(ch.conn, ["XREAD", "COUNT", 1, "BLOCK", block, "STREAMS", ...keys, ...ids]),
      );
    } catch (err) {
      if (!signal?.aborted) throw err;
    } finally {
      ch.blocked--;
    }
  }

  // A consumer's own connection: its claims and its blocking reads, one after the other.
  #channel(channel: string): Promise<Channel> {
    if (this.#closed) {
      throw new BackendUnavailableError("redis", "the client is closed", { url: this.#url });
    }
    let pending = this.#channels.get(channel);
    if (!pending) {
      pending = this.#connect().then(async (conn) => {
        try {
          return { conn, id: await run(conn, ["CLIENT", "ID"]) as number, blocked: 0 };
        } catch (err) {
          conn.disconnect();
          throw err;
        }
      });
      this.#channels.set(channel, pending);
      pending.catch(() => this.#channels.delete(channel));
    }
    return pending;
  }

  async close(): Promise<void> {
    this.#closed = true;
    const main = await this.#main?.catch(() => undefined);
    const channels = await Promise.all(
      [...this.#channels.values()].map((p) => p.catch(() => undefined)),
    );
    this.#channels.clear();
    const ready = main?.status === "ready";
    // Blocked reads end first, so that each connection can quit cleanly; without a connection
    // to unblock them from, they are dropped.
    if (ready) {
      await Promise.all(
        channels.map((ch) => ch && run(main, ["CLIENT", "UNBLOCK", ch.id]).catch(() => {})),
      );
    }
    const all = [...channels.map((ch) => ch?.conn), main];
    await Promise.all(all.map(async (conn) => {
      if (!conn) return;
      if (ready && conn.status === "ready") await conn.quit().catch(() => conn.disconnect());
      else conn.disconnect();
    }));
  }

  /**
   * Holds a connection's writes until the current task's promise jobs have run (Deno runs
   * `nextTick` callbacks after them), so that commands issued together, such as a claim's lease
   * records and the settle of what it handed out, leave in one write: a socket write costs Deno
   * far more CPU than the bytes in it.
   */
  #cork(conn: IORedis): (() => void)[] | undefined {
    const socket = socketOf(conn);
    if (!socket?.cork) return undefined;
    let deferred = this.#corked.get(socket);
    if (!deferred) {
      const writes: (() => void)[] = deferred = [];
      this.#corked.set(socket, writes);
      socket.cork();
      process.nextTick(() => {
        this.#corked.delete(socket);
        // Writes deferred to the end of the task (blocking reads) go last.
        for (const write of writes) write();
        socket.uncork();
      });
    }
    return deferred;
  }

  #isCorked(conn: IORedis): boolean {
    const socket = socketOf(conn);
    return socket !== undefined && this.#corked.has(socket);
  }

  #connection(): Promise<IORedis> {
    if (this.#closed) {
      throw new BackendUnavailableError("redis", "the client is closed", { url: this.#url });
    }
    if (!this.#main) {
      this.#main = this.#connect();
      // A first connection that failed is retried on the next command.
      this.#main.catch(() => this.#main = undefined);
    }
    return this.#main;
  }

  async #connect(): Promise<IORedis> {
    const { Redis } = await import("ioredis");
    const conn = new Redis(this.#url, this.#options);
    // The backend reports outages itself; without a listener ioredis prints every retry. The
    // last one is the cause a failing command reports.
    const state: ConnState = { url: this.#url };
    CONNS.set(conn, state);
    conn.on("error", (err: Error) => state.last = err);
    try {
      await conn.connect();
    } catch (err) {
      conn.disconnect();
      // Let ioredis's zero-delay socket clean-up timer run before we report.
      await new Promise((r) => setTimeout(r, 1));
      // ioredis rejects with "Connection is closed."; the reason came as an error event.
      const cause = state.last ?? err;
      throw new BackendUnavailableError("redis", describe(cause), { cause, url: this.#url });
    }
    return conn;
  }
}

/**
 * A command as an ioredis connection handles it: `sendCommand` reads only these members, so a
 * plain object does, in place of ioredis's `Command`. With `Command`, and with an instance of a
 * class of ours with the same members, every reply outlived the next young collection in Deno
 * (why is not known), so a draining worker grew V8's young generation to its largest and filled the
 * old one; with an object literal it does not (see "A draining worker's memory" in bench/README.md).
 */
interface Sent {
  readonly name: string;
  readonly args: readonly string[];
  readonly promise: Promise<unknown>;
  resolve(reply: unknown): void;
  reject(err: Error): void;
  // Read by ioredis: this client sends no transactions; ioredis sets `isTraced` when it sends.
  readonly inTransaction: false;
  isTraced: boolean;
  toWritable(): string;
  setTimeout(): void;
  setBlockingTimeout(): void;
  extractBlockingTimeout(): undefined;
}

/**
 * Makes the command `name args`. Arguments are encoded here, measuring short ones in JavaScript:
 * ioredis calls `Buffer.byteLength` for each, which is slow in Deno, and a claim's lease records and
 * a settle carry two arguments per event. Replies come as Buffers, decoded by
 * {@linkcode decodeReply}.
 */
function sent(name: string, args: readonly string[]): Sent {
  let resolve!: (value: unknown) => void, reject!: (err: Error) => void;
  const promise = new Promise((yes, no) => {
    resolve = yes;
    reject = no;
  });
  return {
    name,
    args,
    promise,
    resolve: (reply) => resolve(decodeReply(reply)),
    reject,
    inTransaction: false,
    isTraced: false,
    toWritable() {
      let out = `*${args.length + 1}\r\n$${byteLength(name)}\r\n${name}\r\n`;
      for (const arg of args) out += `$${byteLength(arg)}\r\n${arg}\r\n`;
      return out;
    },
    // Timers ioredis sets for its own timeouts, which this client does not use.
    setTimeout() {},
    setBlockingTimeout() {},
    extractBlockingTimeout: () => undefined,
  };
}

const utf8 = new TextDecoder();

/**
 * A reply with every Buffer in it decoded as UTF-8, as ioredis's `replyEncoding: "utf8"` does,
 * but faster for long strings: ioredis calls `Buffer#toString` for each, which in Deno is slower
 * than `TextDecoder` (both replace malformed bytes with U+FFFD), and a claim's reply holds three
 * strings per event. Arrays are decoded in place (the parser made them for this reply only), so
 * a claim's reply is not copied once more.
 */
function decodeReply(value: unknown): unknown {
  if (value instanceof Uint8Array) {
    return value.length > 32 ? utf8.decode(value) : (value as Buffer).toString();
  }
  if (!Array.isArray(value)) return value;
  for (let i = 0; i < value.length; i++) value[i] = decodeReply(value[i]);
  return value;
}

// A string's length in UTF-8, as Buffer.byteLength counts it (a lone surrogate takes 3 bytes).
function byteLength(text: string): number {
  // Long strings (event JSON): Buffer.byteLength's native loop is faster than ours.
  if (text.length > 64) return Buffer.byteLength(text);
  let n = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c <= 0xdbff && c >= 0xd800 && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 2;
      i++;
    } else n += 2;
  }
  return n;
}

function isReplyError(err: unknown): err is Error {
  return err instanceof Error && err.name === "ReplyError";
}

async function run(conn: IORedis, args: readonly RedisArg[]): Promise<unknown> {
  try {
    const rest = new Array<string>(args.length - 1);
    for (let i = 1; i < args.length; i++) rest[i - 1] = String(args[i]);
    return await conn.sendCommand(sent(String(args[0]), rest) as unknown as Command);
  } catch (err) {
    if (isReplyError(err)) throw new RedisReplyError(err.message, { cause: err });
    throw unavailable(conn, err);
  }
}

// Where each connection goes, and the last error it reported.
interface ConnState {
  url: string;
  last?: Error;
}
const CONNS = new WeakMap<IORedis, ConnState>();

/** A command's failure in words a Herald user can act on, with the connection's last error. */
function unavailable(conn: IORedis, err: unknown): BackendUnavailableError {
  const state = CONNS.get(conn);
  const text = describe(err);
  const last = state?.last ? ` (${describe(state.last)})` : "";
  // ioredis names its own options, which Herald sets and its users cannot.
  const detail = /enableOfflineQueue|isn't writeable/.test(text)
    ? `not connected${last}; reconnecting with backoff`
    : /maxRetriesPerRequest/.test(text)
    ? `the connection dropped before Redis answered${last}; reconnecting with backoff`
    : /Connection is closed/.test(text)
    ? `the connection is closed${last}`
    : text;
  return new BackendUnavailableError("redis", detail, { cause: err, url: state?.url });
}

function describe(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) {
    return err.errors.map(describe).join("; ");
  }
  const code = (err as { code?: unknown })?.code;
  const message = err instanceof Error ? err.message : String(err);
  return message || (typeof code === "string" ? code : "unknown error");
}
