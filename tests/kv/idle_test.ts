import { assert, assertEquals } from "@std/assert";
import { createBus, createWorker, defineEvent } from "../../mod.ts";
import { createKvBackend } from "../../src/kv/mod.ts";
import { z } from "zod";
import { events, indexOf, tempDb, until } from "./_helpers.ts";

const opts = { consumer: "c", max: 10, leaseMs: 30_000 };

Deno.test("an idle consumer waits across claims without looking, and a ring still wakes it", async () => {
  const db = await tempDb();
  // A long backstop poll: only the doorbell can wake the claim before its wait ends.
  const a = createKvBackend({ path: db.path, pollMs: 60_000 });
  const b = createKvBackend({ path: db.path, pollMs: 60_000 });
  try {
    await a.subscribe("idle-g", ["idle"], "earliest");
    // The first claims look, and open the watch of the doorbell.
    assertEquals(await a.claim("idle-g", ["idle"], { ...opts, waitMs: 20 }), []);
    assertEquals(await a.claim("idle-g", ["idle"], { ...opts, waitMs: 20 }), []);
    const looks = a.stats.looks;
    // Idle for many claims: none of them reads the database.
    for (let i = 0; i < 10; i++) {
      assertEquals(await a.claim("idle-g", ["idle"], { ...opts, waitMs: 20 }), []);
    }
    assertEquals(a.stats.looks, looks);
    const waiting = a.claim("idle-g", ["idle"], { ...opts, waitMs: 60_000 });
    const heard = a.stats.rings;
    await b.append(events("idle", 1));
    // Once `a` heard the ring, close it: closing ends a claim still waiting with nothing, so
    // the event comes only from a look the ring started, not from a timed one.
    await until(() => a.stats.rings > heard);
    await until(() => a.stats.looks > looks);
    await a.close();
    assertEquals((await waiting).map(indexOf), [0]);
  } finally {
    await a.close();
    await b.close();
    await db.cleanup();
  }
});

Deno.test("an idle consumer still looks now and then, for what no ring tells", async () => {
  const db = await tempDb();
  // Backstop looks every 10 polls: 200 ms here.
  const a = createKvBackend({ path: db.path, pollMs: 20 });
  try {
    await a.subscribe("idle-back", ["idle-back"], "earliest");
    assertEquals(await a.claim("idle-back", ["idle-back"], { ...opts, waitMs: 20 }), []);
    const looks = a.stats.looks;
    await until(async () => {
      assertEquals(await a.claim("idle-back", ["idle-back"], { ...opts, waitMs: 20 }), []);
      return a.stats.looks > looks;
    });
  } finally {
    await a.close();
    await db.cleanup();
  }
});

Deno.test("a worker idle past its claim waits handles an event another process publishes", async () => {
  const db = await tempDb();
  const Ping = defineEvent({
    stream: "idle-ping",
    type: "ping",
    schema: z.object({ n: z.number() }),
  });
  // Claims of 30 s by default on Deno KV, and no backstop look within the test: the ring wakes it.
  const consumer = createKvBackend({ path: db.path, pollMs: 60_000 });
  const publisher = createKvBackend({ path: db.path, pollMs: 60_000 });
  assertEquals(consumer.features.claimWaitMs, 30_000);
  const seen: number[] = [];
  const worker = createWorker({
    bus: createBus({ backend: consumer, source: "tests" }),
    group: "idle-w",
  })
    .on(Ping, (e) => void seen.push(e.data.n));
  try {
    await worker.start();
    await until(() => consumer.stats.looks > 0);
    const looks = consumer.stats.looks;
    await createBus({ backend: publisher, source: "tests" }).publish(Ping, { n: 1 });
    await until(() => seen.length === 1);
    assertEquals(seen, [1]);
    assert(consumer.stats.looks > looks);
  } finally {
    await worker.stop(); // ends its waiting claim at once, whatever its wait
    await consumer.close();
    await publisher.close();
    await db.cleanup();
  }
});
