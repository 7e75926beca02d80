import { assertEquals } from "@std/assert";
import { z } from "zod";
import { createBus, createWorker, defineEvent } from "../../mod.ts";
import { createRedisBackend } from "@herald/herald/redis";
import { REDIS_URL, redisTest } from "./_redis.ts";
import { until } from "../_until.ts";

const Ping = defineEvent({
  stream: "idle-ping",
  type: "ping",
  schema: z.object({ n: z.number() }),
});

redisTest(
  "over TCP, an idle worker's claim blocks long, an event still ends it, and stop ends it",
  async ({ backend, prefix }) => {
    assertEquals(backend.features.claimWaitMs, 10_000);
    const seen: number[] = [];
    const worker = createWorker({ bus: createBus({ backend, source: "tests" }), group: "idle-w" })
      .on(Ping, (e) => void seen.push(e.data.n));
    // Another process's publisher: its own connection.
    const publisher = createRedisBackend({ url: REDIS_URL, prefix });
    try {
      await worker.start();
      const bus = createBus({ backend: publisher, source: "tests" });
      await bus.publish(Ping, { n: 1 });
      await until(() => seen.length === 1);
      await bus.publish(Ping, { n: 2 });
      await until(() => seen.length === 2);
      assertEquals(seen, [1, 2]);
    } finally {
      await worker.stop(); // ends its blocked read at once, whatever its wait
      await publisher.close();
    }
  },
);
