/**
 * Connecting the CLI to a backend: `--kv PATH`, `--redis URL`, or the environment variables
 * services use (`HERALD_BACKEND`, `HERALD_BUS_PATH`, `HERALD_REDIS_URL`,
 * `UPSTASH_REDIS_REST_URL` and `UPSTASH_REDIS_REST_TOKEN`, `HERALD_REDIS_PREFIX`).
 *
 * @module
 */
import type { Backend } from "../backend.ts";
import { createKvBackend } from "../kv/mod.ts";
import { UsageError } from "./context.ts";

/** The bus file services use when `HERALD_BUS_PATH` is not set. */
export const DEFAULT_BUS_PATH = ".herald/bus.sqlite";

/** Where to connect, from the command line. */
export interface Target {
  kv?: string;
  redis?: string;
  prefix?: string;
}

function env(name: string): string | undefined {
  return Deno.env.get(name) || undefined;
}

/** Opens the backend the command line or the environment names. */
export async function connect(target: Target): Promise<Backend> {
  if (target.kv !== undefined && target.redis !== undefined) {
    throw new UsageError("Give --kv or --redis, not both");
  }
  const useRedis = target.redis !== undefined ||
    (target.kv === undefined && env("HERALD_BACKEND") === "redis");
  if (useRedis) return await openRedis(target);
  const path = target.kv ?? env("HERALD_BUS_PATH") ?? DEFAULT_BUS_PATH;
  if (path !== ":memory:") await mustExist(path);
  // Journeys on: `herald trace` reads the index the services wrote (and a publish writes it).
  return createKvBackend({ path, journeys: true });
}

async function openRedis(target: Target): Promise<Backend> {
  const { createRedisBackend } = await import("../redis/mod.ts");
  const prefix = target.prefix ?? env("HERALD_REDIS_PREFIX");
  if (target.redis === undefined) return createRedisBackend({ journeys: true });
  const url = target.redis;
  const token = env("UPSTASH_REDIS_REST_TOKEN");
  if (/^https?:/.test(url) && !token) {
    throw new UsageError("A REST URL needs UPSTASH_REDIS_REST_TOKEN in the environment");
  }
  return createRedisBackend({
    url,
    journeys: true,
    ...(token && /^https?:/.test(url) ? { token } : {}),
    ...(prefix ? { prefix } : {}),
  });
}

/** Refuses to create an empty database where the user meant an existing one. */
async function mustExist(path: string): Promise<void> {
  try {
    await Deno.stat(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new UsageError(
        `No Deno KV database at ${path} (give --kv PATH or set HERALD_BUS_PATH)`,
      );
    }
    throw err;
  }
}
