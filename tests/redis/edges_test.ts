/**
 * Edge cases of the Redis backend: a redrive that meets a foreign dead-letter entry, consumers
 * left behind by stopped workers, dead-letter streams' bound, and the errors a user reads when
 * Redis is down.
 *
 * @module
 */
import { assert, assertEquals, assertRejects, assertStringIncludes } from "@std/assert";
import { z } from "zod";
import { BackendUnavailableError, createBus, createWorker, defineEvent } from "@herald/herald";
import { createRedisBackend, type RedisBackend } from "@herald/herald/redis";
import { freePort, PrivateRedis } from "./_private_redis.ts";
import { createEnvelope } from "../../src/envelope.ts";
import { until } from "../_until.ts";
import { raw, REDIS_URL, SKIP, testBackend } from "./_redis.ts";

const Placed = defineEvent({
  stream: "orders",
  type: "order.placed",
  schema: z.object({ i: z.number() }),
});

const ignore = Boolean(SKIP);

/** Appends `n` events to `stream` and dead-letters them for `group`. */
async function deadLetter(backend: RedisBackend, group: string, n: number): Promise<void> {
  await backend.subscribe(group, ["orders"], "earliest");
  const events = Array.from(
    { length: n },
    (_, i) => createEnvelope("orders", "order.placed", { i }, "t"),
  );
  await backend.append(events);
  const claimed = await backend.claim(group, ["orders"], {
    consumer: "c1",
    max: n,
    leaseMs: 10_000,
    waitMs: 0,
  });
  const error = { name: "Error", message: "boom" };
  await backend.settle(group, claimed.map((delivery) => ({ delivery, outcome: "dead", error })));
}

Deno.test({
  name: "redrive() moves nothing when a foreign dead-letter entry cannot be read",
  ignore,
  async fn() {
    const { backend, prefix, cleanup } = testBackend();
    try {
      await deadLetter(backend, "g", 2);
      // A foreign writer's entry after Herald's two: its "f" is JSON, but not a list of fields.
      const record = { id: "foreign", stream: "orders", error: {}, attempts: 1, at: "" };
      await raw(["XADD", `${prefix}d|g`, "*", "d", JSON.stringify(record), "f", '"x"']);
      await assertRejects(() => backend.redrive("g"), Error, "nothing was moved");
      assertEquals((await backend.deadLetters("g")).length, 3, "every dead letter is still there");
      assertEquals(await raw(["XLEN", `${prefix}r|orders|g`]), 0, "nothing was redriven");
    } finally {
      await backend.close();
      await cleanup();
    }
  },
});

Deno.test({
  name: "a dead-letter stream is bounded by deadLetterMaxLen",
  ignore,
  async fn() {
    const { backend, prefix, cleanup } = testBackend({ url: REDIS_URL, deadLetterMaxLen: 10 });
    try {
      await deadLetter(backend, "g", 500);
      const kept = await raw(["XLEN", `${prefix}d|g`]) as number;
      // Trimming is approximate (whole stream nodes of up to 100 entries go at once).
      assert(kept >= 10 && kept < 500, `kept ${kept} of 500 dead letters`);
    } finally {
      await backend.close();
      await cleanup();
    }
  },
});

/** The consumers of `group` on `key`, by name, with their pending counts. */
async function consumers(key: string, group: string): Promise<Map<string, number>> {
  const rows = await raw(["XINFO", "CONSUMERS", key, group]) as unknown[][];
  const out = new Map<string, number>();
  for (const row of rows) {
    const f = Object.fromEntries(
      Array.from({ length: row.length / 2 }, (_, i) => [row[2 * i], row[2 * i + 1]]),
    );
    out.set(String(f.name), Number(f.pending));
  }
  return out;
}

Deno.test({
  name: "a worker's graceful stop removes its Redis consumer, unless it still holds entries",
  ignore,
  async fn() {
    const { backend, prefix, cleanup } = testBackend();
    const bus = createBus({ backend, source: "t" });
    try {
      let handled = 0;
      const done = createWorker({ bus, group: "g", consumer: "done", idleWaitMs: 20 })
        .on(Placed, () => void handled++);
      await done.start();
      await bus.publish(Placed, { i: 1 });
      await until(() => handled === 1);
      assertEquals([...(await consumers(`${prefix}s|orders`, "g")).keys()], ["done"]);
      await done.stop();
      assertEquals((await consumers(`${prefix}s|orders`, "g")).size, 0, "the consumer is gone");

      // A consumer stopped past its grace period still holds its entry: it stays.
      const stuck = createWorker({ bus, group: "g", consumer: "stuck", idleWaitMs: 20 })
        .on(Placed, () => new Promise<void>(() => {}));
      await stuck.start();
      await bus.publish(Placed, { i: 2 });
      await until(async () => (await consumers(`${prefix}s|orders`, "g")).get("stuck") === 1);
      await stuck.stop({ graceMs: 10 });
      assertEquals((await consumers(`${prefix}s|orders`, "g")).get("stuck"), 1);
    } finally {
      await bus.close();
      await cleanup();
    }
  },
});

Deno.test({
  name: "BackendUnavailableError names the backend, its URL without the password, and the cause",
  ignore,
  async fn() {
    const e = createEnvelope("s", "t", {}, "test");
    const port = freePort();
    const refused = createRedisBackend({ url: `redis://herald:s3cret@127.0.0.1:${port}` });
    try {
      const err = await assertRejects(() => refused.append([e]), BackendUnavailableError);
      assertEquals(err.code, "BACKEND_UNAVAILABLE");
      assertStringIncludes(err.message, `redis backend at redis://herald:***@127.0.0.1:${port}`);
      assertStringIncludes(err.message, "ECONNREFUSED");
      assert(!err.message.includes("s3cret"), err.message);
    } finally {
      await refused.close();
    }

    // A connection that was up and dropped: ioredis speaks of its own options; Herald must not.
    const dir = await Deno.makeTempDir({ prefix: "herald-redis-" });
    const server = new PrivateRedis(freePort(), dir);
    await server.start();
    const backend = createRedisBackend({
      url: `redis://127.0.0.1:${server.port}`,
      prefix: "edges:",
    });
    try {
      await backend.append([e]);
      await server.kill();
      const err = await assertRejects(() => backend.append([e]), BackendUnavailableError);
      assertStringIncludes(err.message, `redis backend at redis://127.0.0.1:${server.port}`);
      for (const foreign of ["enableOfflineQueue", "maxRetriesPerRequest"]) {
        assert(!err.message.includes(foreign), err.message);
      }
    } finally {
      await backend.close();
      await server.kill();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "an event deferred to the outbox while Redis was down is forwarded once it is back",
  ignore,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "herald-redis-" });
    const server = new PrivateRedis(freePort(), dir);
    await server.start();
    const bus = createBus({
      backend: createRedisBackend({ url: `redis://127.0.0.1:${server.port}`, prefix: "outbox:" }),
      source: "t",
    });
    const db = await Deno.openKv(":memory:");
    const warn = console.warn;
    console.warn = () => {};
    try {
      await bus.backend.subscribe("mail", ["orders"], "earliest");
      await server.kill();
      const result = await bus.atomic(db).set(["orders", 1], 1).publish(Placed, { i: 1 }).commit();
      assertEquals(result.ok, true);
      await server.start(); // the same directory: the group is still there
      // No sweep, no relay: the bus forwards what it deferred once Redis answers.
      const got: string[] = [];
      await until(
        async () => {
          const claimed = await bus.backend.claim("mail", ["orders"], {
            consumer: "c",
            max: 10,
            leaseMs: 5_000,
            waitMs: 50,
          }).catch(() => []);
          got.push(...claimed.map((d) => d.envelope!.id));
          return got.length > 0;
        },
        15_000,
        50,
      );
      assertEquals(got, [result.events[0].id]);
      // The forward deletes its outbox entry in a commit of its own, after the append.
      const left = async () => {
        let n = 0;
        for await (const _ of db.list({ prefix: ["herald_outbox"] })) n++;
        return n;
      };
      await until(async () => await left() === 0, 5_000, 20);
      assertEquals(await left(), 0, "the outbox is empty");
    } finally {
      console.warn = warn;
      db.close();
      await bus.close();
      await server.kill();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
