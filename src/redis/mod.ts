/**
 * Herald on Redis Streams, for when one machine is not enough: over TCP (`redis://`, npm
 * `ioredis`, blocking reads) or through Upstash's REST API (`https://` and a token, npm
 * `@upstash/redis`, polling). The client is loaded only when the backend is made, so users who
 * never touch Redis never load one.
 *
 * Layout, under the key prefix (default `herald:`): each stream is a Redis stream `s|<stream>`
 * holding the envelope JSON in field `e`; each Herald group is a Redis consumer group on it;
 * leases and retries live in a sorted set `t|<stream>|<group>`; dead letters in a stream
 * `d|<group>`; redriven events in `r|<stream>|<group>`.
 *
 * @example Switching a service to Redis
 * ```ts ignore
 * import { createBus } from "@herald/herald";
 * import { createRedisBackend } from "@herald/herald/redis";
 *
 * const bus = createBus({ backend: createRedisBackend({ url: "redis://127.0.0.1:6379" }), source: "users" });
 * ```
 *
 * @module
 */
import { RedisBackend } from "./backend.ts";
import { optionsFromEnv, type RedisOptions, resolveOptions } from "./options.ts";
import { tcpClient } from "./tcp.ts";
import { clusterClient } from "./cluster.ts";
import { upstashClient } from "./upstash.ts";

export type { RedisBackend } from "./backend.ts";
export { type RedisArg, type RedisClient, RedisReplyError } from "./client.ts";
export type { RedisOptions, TrimPolicy } from "./options.ts";
export { tcpClient, type TcpClientOptions } from "./tcp.ts";
export { clusterClient } from "./cluster.ts";
export { upstashClient, type UpstashConfig, type UpstashExec } from "./upstash.ts";

/**
 * Makes a Redis Streams backend. Nothing connects until first use.
 *
 * Given neither `url` nor `client`, it reads the environment (and needs `--allow-env`):
 * `HERALD_REDIS_URL` (`redis://…`, TCP), or else `UPSTASH_REDIS_REST_URL` and
 * `UPSTASH_REDIS_REST_TOKEN` (REST), and `HERALD_REDIS_PREFIX` when set; the options given apply
 * over what the environment says.
 *
 * @param options Where Redis is (`url`, with `token` for REST, or a `client`; else the
 * environment), the key prefix, trimming and polling.
 * @returns The backend.
 * @throws {InvalidOptionsError} listing every problem with the options, including no Redis named
 * by the options or the environment.
 *
 * @example Over TCP
 * ```ts
 * import { createRedisBackend } from "@herald/herald/redis";
 * const backend = createRedisBackend({ url: "redis://127.0.0.1:6379", prefix: "docs:" });
 * console.log(backend.name); // redis
 * await backend.close();
 * ```
 *
 * @example Through Upstash's REST API
 * ```ts ignore
 * import { createRedisBackend } from "@herald/herald/redis";
 * const backend = createRedisBackend({
 *   url: Deno.env.get("UPSTASH_REDIS_REST_URL")!,
 *   token: Deno.env.get("UPSTASH_REDIS_REST_TOKEN")!,
 * });
 * ```
 *
 * @example From the environment
 * ```ts
 * import { createRedisBackend } from "@herald/herald/redis";
 * Deno.env.set("HERALD_REDIS_URL", "redis://127.0.0.1:6379");
 * const backend = createRedisBackend();
 * await backend.close();
 * ```
 */
export function createRedisBackend(options: RedisOptions = {}): RedisBackend {
  const named = options.url !== undefined || options.client !== undefined;
  const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  const resolved = resolveOptions(named ? options : { ...optionsFromEnv(), ...given });
  if (resolved.client) return new RedisBackend(resolved.client, resolved, false);
  if (resolved.cluster) return new RedisBackend(clusterClient(resolved.cluster), resolved, true);
  const url = resolved.url!;
  const client = url.startsWith("http")
    ? upstashClient({ url, token: resolved.token! })
    : tcpClient(url);
  return new RedisBackend(client, resolved, true);
}
