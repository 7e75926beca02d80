/**
 * The small Redis client interface the Redis backend runs on, so one backend works over TCP and
 * over Upstash's REST API alike.
 *
 * @module
 */

import { HeraldError } from "../errors.ts";

/** One argument of a Redis command. */
export type RedisArg = string | number;

/**
 * What the Redis backend needs from a connection to Redis. Replies are plain values: strings,
 * numbers, `null` and arrays of them. Build one with `tcpClient` or `upstashClient`, or adapt
 * another client.
 *
 * @example A client that logs every command
 * ```ts
 * import { type RedisClient, tcpClient } from "@herald/herald/redis";
 * function logged(inner: RedisClient): RedisClient {
 *   return {
 *     transport: inner.transport,
 *     command(args, channel) {
 *       console.log(args[0]);
 *       return inner.command(args, channel);
 *     },
 *     close: () => inner.close(),
 *   };
 * }
 * const client = logged(tcpClient("redis://127.0.0.1:6379"));
 * await client.close();
 * ```
 */
export interface RedisClient {
  /** `tcp` or `rest`: REST clients cannot block, so the backend polls them. */
  readonly transport: "tcp" | "rest";
  /**
   * Whether commands sent without a channel reach Redis in the order `command()` was called
   * (one connection, written at once). The backend then records a claim's leases with a plain
   * command behind the claim instead of a script inside it.
   */
  readonly ordered?: boolean;
  /**
   * A Redis Cluster client (see `clusterClient`): the backend then keeps each stream's keys in
   * one hash slot and splits calls that span streams.
   */
  readonly cluster?: boolean;
  /**
   * Runs one command. A TCP client runs it on the connection of `channel` (a consumer) when
   * given, so that a consumer's claims never queue behind other traffic, and its acks share a
   * write with its next claim; while that connection waits in a blocking read, on the main
   * connection instead (so only commands whose order against the main connection's does not
   * matter should name a channel when a read may block). REST ignores it.
   *
   * @throws {RedisReplyError} when Redis answered with an error.
   * @throws {BackendUnavailableError} when Redis could not be reached.
   */
  command(args: readonly RedisArg[], channel?: string): Promise<unknown>;
  /**
   * Runs commands in one round trip, in order, on `channel`'s connection when given. Each reply
   * takes its command's place; an error reply is a {@linkcode RedisReplyError} in that place.
   * Optional: without it the backend uses Lua scripts alone.
   *
   * @throws {BackendUnavailableError} when Redis could not be reached.
   */
  pipeline?(commands: readonly (readonly RedisArg[])[], channel?: string): Promise<unknown[]>;
  /**
   * Ends a blocking command that `channel`'s connection is waiting in, as if it timed out
   * (`CLIENT UNBLOCK`). Only clients that block have it.
   */
  unblock?(channel: string): Promise<void>;
  /**
   * Waits until one of `keys` has an entry after the matching id in `ids` (`XREAD BLOCK`), at
   * most `ms` milliseconds or until `signal` aborts. Only TCP clients have it; each `channel`
   * (a consumer) gets its own connection, because a blocked connection can do nothing else.
   */
  waitForEntries?(
    channel: string,
    keys: readonly string[],
    ids: readonly string[],
    ms: number,
    signal?: AbortSignal,
  ): Promise<void>;
  /**
   * Waits until `count` replicas hold the writes made so far on the connection that wrote
   * `key` (`WAIT` on that key's master); answers how many do. Without it, the backend sends
   * `WAIT` as a plain command, which a single connection runs where it wrote.
   */
  waitForReplicas?(key: string, count: number, timeoutMs: number): Promise<number>;
  /** Closes every connection. */
  close(): Promise<void>;
}

/**
 * Redis answered a command with an error reply, such as `NOSCRIPT` or `WRONGTYPE`. A
 * `HeraldError` with code `REDIS_REPLY`; Redis's own code is in `reply`.
 *
 * @example
 * ```ts
 * import { RedisReplyError } from "@herald/herald/redis";
 * const err = new RedisReplyError("NOSCRIPT No matching script.");
 * console.log(err.code, err.reply); // REDIS_REPLY NOSCRIPT
 * ```
 */
export class RedisReplyError extends HeraldError {
  /** The reply's code, such as `NOSCRIPT` or `BUSYGROUP`. */
  readonly reply: string;

  /**
   * Wraps an error reply.
   *
   * @param message The reply, as Redis sent it (proxies may add words in front).
   * @param options The underlying error as `cause`.
   */
  constructor(message: string, options?: ErrorOptions) {
    super("REDIS_REPLY", message, options);
    this.name = "RedisReplyError";
    // Upstash-compatible proxies prefix the reply with their own words: find the code anywhere.
    const known = message.match(
      /\b(NOSCRIPT|BUSYGROUP|NOGROUP|WRONGTYPE|OOM|LOADING|READONLY|MASTERDOWN|TRYAGAIN|FOREIGN)\b/,
    );
    this.reply = known ? known[1] : message.split(" ")[0];
  }
}
