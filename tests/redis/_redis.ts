/**
 * Test helpers for the Redis backend: a reachability probe done once at load, unique key
 * prefixes cleaned up after each test, a raw client for foreign writes, and the
 * Upstash-compatible REST endpoint (`@humanwhocodes/upstash-redis-server`) in front of the local
 * Redis, started by the tests themselves.
 *
 * @module
 */
import { createRedisBackend, type RedisBackend, type RedisOptions } from "@herald/herald/redis";
import { tcpClient } from "../../src/redis/tcp.ts";

/** The Redis the tests use. */
export const REDIS_URL = Deno.env.get("HERALD_TEST_REDIS_URL") ?? "redis://127.0.0.1:6379";

/** The pinned REST emulator. */
export const EMULATOR = "npm:@humanwhocodes/upstash-redis-server@1.0.0";

/** Why the Redis tests are skipped, or `undefined` when Redis answers. */
export const SKIP: string | undefined = await probe();

async function probe(): Promise<string | undefined> {
  const { hostname, port } = new URL(REDIS_URL);
  try {
    const conn = await Deno.connect({ hostname, port: Number(port || 6379) });
    try {
      await conn.write(new TextEncoder().encode("PING\r\n"));
      const buf = new Uint8Array(64);
      const n = await conn.read(buf);
      if (!new TextDecoder().decode(buf.subarray(0, n ?? 0)).startsWith("+PONG")) {
        return `Redis at ${REDIS_URL} did not answer PING`;
      }
    } finally {
      conn.close();
    }
  } catch (err) {
    const reason = `Redis is not reachable at ${REDIS_URL} (${(err as Error).message})`;
    if (Deno.env.get("CI") === "true") throw new Error(`${reason}; CI needs it`);
    console.warn(`Redis tests skipped: ${reason}`);
    return reason;
  }
  return undefined;
}

/** A key prefix unique to one test. */
export function testPrefix(): string {
  return `herald-test:${crypto.randomUUID().slice(0, 8)}:`;
}

/** Runs one raw command on the test Redis. */
export async function raw(args: (string | number)[]): Promise<unknown> {
  const client = tcpClient(REDIS_URL);
  try {
    return await client.command(args);
  } finally {
    await client.close();
  }
}

/** Deletes every key under `prefix`. */
export async function dropPrefix(prefix: string, url = REDIS_URL): Promise<void> {
  const client = tcpClient(url);
  try {
    let cursor = "0";
    do {
      const [next, keys] = await client.command(
        ["SCAN", cursor, "MATCH", `${prefix}*`, "COUNT", 1000],
      ) as [string, string[]];
      cursor = next;
      if (keys.length > 0) await client.command(["DEL", ...keys]);
    } while (cursor !== "0");
  } finally {
    await client.close();
  }
}

/** Writes an entry into a Herald stream as a foreign writer would: the object's fields. */
export async function appendRaw(prefix: string, stream: string, value: unknown): Promise<void> {
  const fields = typeof value === "object" && value !== null
    ? Object.entries(value).flatMap(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)])
    : ["value", JSON.stringify(value)];
  await raw(["XADD", `${prefix}s|${stream}`, "*", ...fields]);
}

/** A running REST emulator. */
export interface Emulator {
  url: string;
  token: string;
  /** The emulator's process id (the bench measures its CPU). */
  pid: number;
  /** Stops it and waits for the process to end. */
  stop(): Promise<void>;
}

/**
 * Starts the Upstash-compatible endpoint in front of `redisUrl` as a child process, and waits
 * until it answers.
 */
export async function startEmulator(redisUrl = REDIS_URL): Promise<Emulator> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const token = crypto.randomUUID();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-lock", "--no-config", EMULATOR],
    env: { URS_TOKEN: token, PORT: String(port), REDIS_URL: redisUrl },
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const res = await fetch(url, {
        method: "POST",
        headers: { authorization: `Bearer ${token}` },
        body: JSON.stringify(["PING"]),
      });
      const body = await res.json();
      if (body.result === "PONG") break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill();
      await child.status;
      throw new Error("The REST emulator did not start within 60 s");
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    token,
    pid: child.pid,
    async stop() {
      try {
        child.kill();
      } catch {
        // already gone
      }
      await child.status;
    },
  };
}

/** Makes a backend on its own prefix; `cleanup` closes nothing and drops the keys. */
export function testBackend(
  options: Omit<RedisOptions, "prefix"> = { url: REDIS_URL },
): { backend: RedisBackend; prefix: string; cleanup: () => Promise<void> } {
  const prefix = testPrefix();
  const backend = createRedisBackend({ ...options, prefix } as RedisOptions);
  return { backend, prefix, cleanup: () => dropPrefix(prefix) };
}

/** What {@linkcode redisTest} hands the test. */
export interface RedisFixture {
  /** A backend on the test Redis, under a key prefix of its own. */
  backend: RedisBackend;
  /** That prefix. */
  prefix: string;
}

/**
 * Registers a test on the test Redis: skipped, saying why, when Redis is not reachable (failed
 * under `CI=true`); given a backend under a key prefix of its own; and, whatever the test did,
 * the backend closed and its keys dropped afterwards.
 *
 * @param name The test's name.
 * @param options The backend's options (the test Redis by default), or the test itself.
 * @param fn The test, when options are given.
 */
export function redisTest(
  name: string,
  options: Omit<RedisOptions, "prefix"> | ((fixture: RedisFixture) => Promise<void>),
  fn?: (fixture: RedisFixture) => Promise<void>,
): void {
  const test = typeof options === "function" ? options : fn!;
  const backendOptions = typeof options === "function" ? {} : options;
  Deno.test({
    name,
    ignore: Boolean(SKIP),
    async fn() {
      const { backend, prefix, cleanup } = testBackend(
        backendOptions.url || backendOptions.client
          ? backendOptions
          : { url: REDIS_URL, ...backendOptions },
      );
      try {
        await test({ backend, prefix });
      } finally {
        await backend.close();
        await cleanup();
      }
    },
  });
}
