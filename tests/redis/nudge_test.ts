/**
 * A claim blocked in a long read (60 s here) ends when another backend instance (its own
 * connections, as another process) changes the group in a way no new stream entry shows: a
 * reset, a redrive, a retry. Runs on a private redis-server, so that which clients are blocked
 * in a read is known (CLIENT LIST) before the change is made.
 */
import { assertEquals } from "@std/assert";
import { createRedisBackend, type RedisBackend } from "@herald/herald/redis";
import type { Delivery } from "../../src/backend.ts";
import { createEnvelope } from "../../src/envelope.ts";
import { tcpClient } from "../../src/redis/tcp.ts";
import { until } from "../_until.ts";
import { SKIP, testPrefix } from "./_redis.ts";
import { freePort, PrivateRedis } from "./_private_redis.ts";

const WAIT_MS = 60_000;

interface Pair {
  url: string;
  a: RedisBackend;
  b: RedisBackend;
}

function nudgeTest(name: string, fn: (pair: Pair) => Promise<void>): void {
  Deno.test({
    name,
    ignore: Boolean(SKIP),
    sanitizeResources: false,
    async fn() {
      const dir = await Deno.makeTempDir();
      const redis = new PrivateRedis(freePort(), dir);
      await redis.start();
      const url = `redis://127.0.0.1:${redis.port}`;
      const prefix = testPrefix();
      const a = createRedisBackend({ url, prefix });
      const b = createRedisBackend({ url, prefix });
      try {
        await fn({ url, a, b });
      } finally {
        await a.close();
        await b.close();
        await redis.kill();
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
}

// How many clients of the private Redis are blocked in `cmd`.
async function blockedIn(url: string, cmd: string): Promise<number> {
  const client = tcpClient(url);
  try {
    const list = String(await client.command(["CLIENT", "LIST"]));
    return list.split("\n").filter((line) =>
      line.includes(`cmd=${cmd} `) && /flags=\S*b/.test(line)
    ).length;
  } finally {
    await client.close();
  }
}

function events(stream: string, n: number) {
  return Array.from({ length: n }, (_, i) => createEnvelope(stream, "t", { n: i }, "tests"));
}

// Claims on `streams` as consumer `c1` with a long wait, and a stop for the end of the test.
function blockedClaim(backend: RedisBackend, group: string, streams: string[]) {
  const stop = new AbortController();
  const claim = backend.claim(group, streams, {
    consumer: "c1",
    max: 10,
    leaseMs: 30_000,
    waitMs: WAIT_MS,
    signal: stop.signal,
  });
  return { claim, stop };
}

const ns = (ds: readonly Delivery[]) => ds.map((d) => (d.envelope?.data as { n: number }).n);

nudgeTest("a reset by another instance ends a blocked claim", async ({ url, a, b }) => {
  await a.subscribe("g", ["nudge-s"], "latest");
  await b.append(events("nudge-s", 2));
  assertEquals((await a.claim("g", ["nudge-s"], { ...OPTS, max: 10 })).length, 2);
  const { claim, stop } = blockedClaim(a, "g", ["nudge-s"]);
  try {
    await until(async () => await blockedIn(url, "xreadgroup") === 1);
    await b.resetGroup("g", "nudge-s", "earliest");
    let got: Delivery[] = [];
    void claim.then((ds) => got = ds);
    await until(() => got.length > 0);
    assertEquals(ns(got), [0, 1]);
  } finally {
    stop.abort();
    await claim;
  }
});

nudgeTest("a redrive by another instance ends a blocked claim", async ({ url, a, b }) => {
  await a.subscribe("g", ["nudge-r"], "latest");
  await b.append(events("nudge-r", 1));
  const [d] = await b.claim("g", ["nudge-r"], { ...OPTS, consumer: "other" });
  await b.settle("g", [{ delivery: d, outcome: "dead", error: { name: "E", message: "no" } }]);
  const { claim, stop } = blockedClaim(a, "g", ["nudge-r"]);
  try {
    await until(async () => await blockedIn(url, "xreadgroup") === 1);
    assertEquals(await b.redrive("g"), 1);
    let got: Delivery[] = [];
    void claim.then((ds) => got = ds);
    await until(() => got.length > 0);
    assertEquals(ns(got), [0]);
  } finally {
    stop.abort();
    await claim;
  }
});

nudgeTest("a retry set by another instance ends a blocked claim", async ({ url, a, b }) => {
  await a.subscribe("g", ["nudge-t"], "latest");
  await b.append(events("nudge-t", 1));
  const [d] = await b.claim("g", ["nudge-t"], { ...OPTS, consumer: "other" });
  const { claim, stop } = blockedClaim(a, "g", ["nudge-t"]);
  try {
    await until(async () => await blockedIn(url, "xreadgroup") === 1);
    const error = { name: "E", message: "again" };
    await b.settle("g", [{ delivery: d, outcome: "retry", delayMs: 1, error }]);
    let got: Delivery[] = [];
    void claim.then((ds) => got = ds);
    await until(() => got.length > 0);
    assertEquals(ns(got), [0]);
    assertEquals(got[0].attempt, 2);
  } finally {
    stop.abort();
    await claim;
  }
});

nudgeTest("a reset ends a blocked claim on several streams", async ({ url, a, b }) => {
  await a.subscribe("g", ["nudge-m1", "nudge-m2"], "latest");
  await b.append(events("nudge-m1", 2));
  const first = await a.claim("g", ["nudge-m1", "nudge-m2"], { ...OPTS, max: 10 });
  assertEquals(first.length, 2);
  const { claim, stop } = blockedClaim(a, "g", ["nudge-m1", "nudge-m2"]);
  try {
    // The claim waits in a plain XREAD of both streams, next to one nudge watch per stream.
    await until(async () => await blockedIn(url, "xread") === 3);
    await b.resetGroup("g", "nudge-m1", "earliest");
    let got: Delivery[] = [];
    void claim.then((ds) => got = ds);
    await until(() => got.length > 0);
    assertEquals(ns(got), [0, 1]);
  } finally {
    stop.abort();
    await claim;
  }
});

const OPTS = { consumer: "c1", max: 1, leaseMs: 30_000, waitMs: 0 };
