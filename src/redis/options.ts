/**
 * Options of the Redis backend, their checks and defaults, and reading them from the environment.
 *
 * @module
 */
import { InvalidOptionsError } from "../errors.ts";
import type { RedisClient } from "./client.ts";

/**
 * How streams are trimmed as events are appended. Trimming is approximate by default (Redis
 * trims whole nodes, which is much cheaper), so a stream may hold a little more than asked.
 * Trimming drops old entries whether or not every group has read them.
 */
export type TrimPolicy =
  /** Keep about the newest `maxLen` entries of each stream (`XADD … MAXLEN ~`). */
  | { maxLen: number; exact?: boolean }
  /** Keep about the entries of the last `maxAgeMs` milliseconds (`XADD … MINID ~`). */
  | { maxAgeMs: number; exact?: boolean }
  /** Never trim. */
  | "none";

/** Options of `createRedisBackend()`. */
export interface RedisOptions {
  /**
   * Where Redis is: `redis://…` or `rediss://…` for TCP, `https://…` (with `token`) for an
   * Upstash or Upstash-compatible REST endpoint. Give `url` or `client`, not both.
   */
  url?: string;
  /** The REST token, with an `https://` (or `http://`) `url`. */
  token?: string;
  /** A client you made (see `tcpClient`, `upstashClient`); the backend does not close it. */
  client?: RedisClient;
  /**
   * Redis Cluster: `redis://host:port` URLs of some of its nodes (the client finds the rest).
   * Every key of a stream and its groups then shares one hash slot; see `docs/backends.md`.
   * Give `url`, `client` or `cluster`, one of them.
   */
  cluster?: readonly string[];
  /**
   * Put before every key, so several apps (or tests) can share one Redis.
   *
   * @default {"herald:"}
   */
  prefix?: string;
  /**
   * How streams are trimmed.
   *
   * @default {{ maxLen: 1_000_000 }}
   */
  trim?: TrimPolicy;
  /**
   * How long `append(…, { dedupe: true })` remembers an event id, in milliseconds (at least a
   * day).
   *
   * @default {86_400_000}
   */
  dedupeTtlMs?: number;
  /**
   * The most dead letters kept per group, about (`XADD … MAXLEN ~`): past it the oldest go.
   * Inspect and redrive or purge them before that.
   *
   * @default {100_000}
   */
  deadLetterMaxLen?: number;
  /**
   * REST only: the longest wait between two polls of an idle consumer, in milliseconds. The
   * wait starts short and doubles while polls come back empty; each REST poll is one request.
   *
   * @default {1000}
   */
  pollMaxMs?: number;
  /**
   * Index every appended event by its correlation id, in the append script, so that `trace()`
   * (journeys: `herald trace`, `GET /herald/journeys/:id`) can follow a request. One or two more
   * keys written per event, and a single event goes through the script instead of a plain
   * `XADD`, which slows publishing (see docs/operate.md for the cost). Off, `trace()` rejects
   * with a `NotFoundError` saying journeys are off.
   *
   * @default {false}
   */
  journeys?: boolean;
  /**
   * TCP and Redis Cluster: a publish is acknowledged only once `count` replicas of its master
   * hold it (`WAIT`), so that it survives the master's failover. When fewer confirm within
   * `timeoutMs` (1000 by default), the publish fails with `BackendUnavailableError` although the
   * master may hold it: retry it with `dedupe`. Off by default (Redis replicates asynchronously).
   */
  waitForReplicas?: { count: number; timeoutMs?: number };
}

/** The options after checks and defaults. */
export interface ResolvedOptions {
  url?: string;
  token?: string;
  client?: RedisClient;
  cluster?: readonly string[];
  prefix: string;
  trim: TrimPolicy;
  dedupeTtlMs: number;
  deadLetterMaxLen: number;
  pollMaxMs: number;
  journeys: boolean;
  waitForReplicas?: { count: number; timeoutMs: number };
}

const DAY = 86_400_000;

/** Checks options, reporting every problem at once. */
export function resolveOptions(options: RedisOptions): ResolvedOptions {
  const problems: string[] = [];
  const { url, token, client, cluster } = options;
  const given = [url, client, cluster].filter((v) => v !== undefined).length;
  if (given === 0) {
    problems.push(
      "give url or client (or cluster), or set HERALD_REDIS_URL, HERALD_REDIS_CLUSTER, or UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN",
    );
  }
  if (given > 1) problems.push("give url or client (or cluster), only one of them");
  problems.push(...clusterProblems(cluster));
  if (url !== undefined) {
    const scheme = typeof url === "string" ? url.split(":")[0] : "";
    if (!["redis", "rediss", "http", "https"].includes(scheme)) {
      problems.push("url must start with redis://, rediss:// or https://");
    } else if (scheme.startsWith("http") && !token) {
      problems.push("a REST url needs a token");
    }
  }
  const prefix = options.prefix ?? "herald:";
  if (typeof prefix !== "string") problems.push("prefix must be a string");
  else if ((cluster || client?.cluster) && /[{}]/.test(prefix)) {
    problems.push("in cluster mode the prefix must not hold { or } (Herald sets the hash tags)");
  }
  const trim = options.trim ?? { maxLen: 1_000_000 };
  if (trim !== "none") {
    const n = "maxLen" in trim ? trim.maxLen : (trim as { maxAgeMs?: number }).maxAgeMs;
    if (!Number.isSafeInteger(n) || (n as number) < 1) {
      problems.push("trim must be { maxLen } or { maxAgeMs } with a positive integer, or none");
    }
  }
  const dedupeTtlMs = options.dedupeTtlMs ?? DAY;
  if (!Number.isSafeInteger(dedupeTtlMs) || dedupeTtlMs < DAY) {
    problems.push("dedupeTtlMs must be an integer of at least 86400000 (a day)");
  }
  const deadLetterMaxLen = options.deadLetterMaxLen ?? 100_000;
  if (!Number.isSafeInteger(deadLetterMaxLen) || deadLetterMaxLen < 1) {
    problems.push("deadLetterMaxLen must be a positive integer");
  }
  const pollMaxMs = options.pollMaxMs ?? 1000;
  if (!Number.isFinite(pollMaxMs) || pollMaxMs < 1) problems.push("pollMaxMs must be at least 1");
  const journeys = options.journeys ?? false;
  if (typeof journeys !== "boolean") problems.push("journeys must be a boolean");
  const waitForReplicas = replicasOption(options, problems);
  if (problems.length > 0) throw new InvalidOptionsError("createRedisBackend()", problems);
  return {
    url,
    token,
    client,
    cluster,
    prefix,
    trim,
    dedupeTtlMs,
    deadLetterMaxLen,
    pollMaxMs,
    journeys,
    ...(waitForReplicas ? { waitForReplicas } : {}),
  };
}

// The waitForReplicas option with its default, its problems added to `problems`.
function replicasOption(
  options: RedisOptions,
  problems: string[],
): ResolvedOptions["waitForReplicas"] {
  const wait = options.waitForReplicas;
  if (wait === undefined) return undefined;
  const timeoutMs = wait?.timeoutMs ?? 1000;
  if (!Number.isSafeInteger(wait?.count) || wait.count < 1) {
    problems.push("waitForReplicas.count must be a positive integer");
  }
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1) {
    problems.push("waitForReplicas.timeoutMs must be a positive integer");
  }
  const rest = options.client?.transport === "rest" || /^https?:/.test(options.url ?? "");
  if (rest) problems.push("waitForReplicas needs TCP or Redis Cluster (REST cannot WAIT)");
  return { count: wait?.count, timeoutMs };
}

// What is wrong with the cluster option: a non-empty list of redis:// or rediss:// URLs.
function clusterProblems(cluster: readonly string[] | undefined): string[] {
  if (cluster === undefined) return [];
  if (!Array.isArray(cluster) || cluster.length === 0) {
    return ["cluster must be a non-empty list of redis:// URLs"];
  }
  const bad = cluster.filter((u) => typeof u !== "string" || !/^rediss?:\/\/[^/]+/.test(u));
  return bad.length > 0
    ? [`cluster URLs must start with redis:// or rediss://: ${bad.join(", ")}`]
    : [];
}

/**
 * Reads the Redis options from the environment: `HERALD_REDIS_CLUSTER` (`redis://` URLs of
 * Redis Cluster nodes, comma-separated), or else `HERALD_REDIS_URL` (a `redis://` URL, for
 * TCP), or else `UPSTASH_REDIS_REST_URL` and `UPSTASH_REDIS_REST_TOKEN` (REST); and
 * `HERALD_REDIS_PREFIX` when set.
 *
 * @param env Where to read; `Deno.env` by default.
 * @returns The options, or `undefined` when no Redis is configured.
 */
export function optionsFromEnv(
  env: { get(name: string): string | undefined } = Deno.env,
): RedisOptions | undefined {
  const prefix = env.get("HERALD_REDIS_PREFIX");
  const base = prefix === undefined ? {} : { prefix };
  const cluster = env.get("HERALD_REDIS_CLUSTER");
  if (cluster) return { ...base, cluster: cluster.split(",").map((u) => u.trim()) };
  const url = env.get("HERALD_REDIS_URL");
  if (url) return { ...base, url };
  const restUrl = env.get("UPSTASH_REDIS_REST_URL");
  const token = env.get("UPSTASH_REDIS_REST_TOKEN");
  if (restUrl && token) return { ...base, url: restUrl, token };
  return undefined;
}
