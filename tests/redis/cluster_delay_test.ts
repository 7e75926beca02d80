/**
 * Delayed events on a real Redis Cluster the test starts: a consumer of a stream promotes the
 * events its publisher left behind; `cancel(id)` finds an event from a process that knows none
 * of its streams; the index by id does not outlive the event.
 */
import { assert, assertEquals } from "@std/assert";
import { z } from "zod";
import { createBus, defineEvent } from "@herald/herald";
import { createRedisBackend } from "@herald/herald/redis";
import type { Delivery } from "../../src/backend.ts";
import { clusterClient } from "../../src/redis/cluster.ts";
import { KeysCluster } from "../../src/redis/cluster_keys.ts";
import { INDEX_GRACE_MS } from "../../src/redis/cluster_schedule.ts";
import { until } from "../_until.ts";
import { CLUSTER_SKIP, masterOf, sharedCluster } from "./_cluster_redis.ts";
import { testPrefix } from "./_redis.ts";

const cluster = await sharedCluster();

const thing = (stream: string) =>
  defineEvent({ stream, type: "thing.happened", schema: z.object({ n: z.number() }) });

// Streams until `count` masters serve them.
async function streamsOnMasters(prefix: string, count: number): Promise<string[]> {
  const streams: string[] = [];
  const masters = new Set<number>();
  for (let i = 0; masters.size < count; i++) {
    const port = await masterOf(cluster!, cluster!.nodes[0].port, `${prefix}s|s${i}`);
    if (!masters.has(port)) streams.push(`s${i}`);
    masters.add(port);
  }
  return streams;
}

Deno.test({
  name:
    "redis cluster: a delayed event whose publisher stopped is promoted by its stream's consumer",
  ignore: CLUSTER_SKIP !== undefined,
  fn: async () => {
    const prefix = testPrefix();
    const keys = new KeysCluster(prefix);
    const raw = clusterClient(cluster!.urls);
    const consumer = createRedisBackend({ cluster: cluster!.urls, prefix });
    try {
      await consumer.subscribe("g", ["s"], "earliest");
      const publisher = createBus({
        backend: createRedisBackend({ cluster: cluster!.urls, prefix }),
        source: "test",
      });
      const event = await publisher.publish(thing("s"), { n: 1 }, { delay: 300 });
      // The publisher's promoter goes with it: only the consumer's can move the event.
      await publisher.close();
      assertEquals(await raw.command(["GET", keys.scheduled(event.id)]), "s");
      const got: Delivery[] = [];
      const options = { consumer: "c", max: 10, leaseMs: 30_000, waitMs: 500 };
      await until(async () => (got.push(...await consumer.claim("g", ["s"], options))) > 0);
      assertEquals(got.map((d) => d.envelope?.id), [event.id]);
      // Its index by id is removed once it moved.
      await until(async () => await raw.command(["GET", keys.scheduled(event.id)]) === null);
    } finally {
      await consumer.close();
      await raw.close();
    }
  },
});

Deno.test({
  name: "redis cluster: cancel(id) from a process that knows none of the streams finds each event",
  ignore: CLUSTER_SKIP !== undefined,
  fn: async () => {
    const prefix = testPrefix();
    const keys = new KeysCluster(prefix);
    const raw = clusterClient(cluster!.urls);
    const streams = await streamsOnMasters(prefix, 3);
    const publisher = createBus({
      backend: createRedisBackend({ cluster: cluster!.urls, prefix }),
      source: "test",
    });
    // A process that never published to nor consumed these streams.
    const other = createBus({
      backend: createRedisBackend({ cluster: cluster!.urls, prefix }),
      source: "test",
    });
    try {
      const delay = 3_600_000;
      const events = await publisher.publishMany(
        streams.map((s, n) => ({ contract: thing(s), data: { n }, options: { delay } })),
      );
      for (const e of events) {
        // Each schedule is in its stream's slot; the index by id expires after the due time.
        const [zset] = keys.schedule(e.stream);
        assertEquals(await raw.command(["ZSCORE", zset, e.id]) !== null, true);
        const ttl = Number(await raw.command(["PTTL", keys.scheduled(e.id)]));
        assert(ttl > delay && ttl <= delay + INDEX_GRACE_MS, `index ttl ${ttl}`);
      }
      for (const e of events) assertEquals(await other.cancel(e.id), true, e.stream);
      for (const e of events) assertEquals(await other.cancel(e.id), false, "cancelled before");
      for (const e of events) {
        assertEquals(await raw.command(["EXISTS", keys.scheduled(e.id)]), 0);
        assertEquals(await raw.command(["ZCARD", keys.schedule(e.stream)[0]]), 0);
        assertEquals(await raw.command(["HLEN", keys.schedule(e.stream)[1]]), 0);
      }
    } finally {
      await publisher.close();
      await other.close();
      await raw.close();
    }
  },
});

Deno.test({
  name: "redis cluster: without its index, cancel(id) finds the event in the streams it knows",
  ignore: CLUSTER_SKIP !== undefined,
  fn: async () => {
    const prefix = testPrefix();
    const keys = new KeysCluster(prefix);
    const raw = clusterClient(cluster!.urls);
    const bus = createBus({
      backend: createRedisBackend({ cluster: cluster!.urls, prefix }),
      source: "test",
    });
    try {
      const [a, b] = await streamsOnMasters(prefix, 2);
      await bus.publish(thing(a), { n: 0 }, { delay: 3_600_000 });
      const event = await bus.publish(thing(b), { n: 1 }, { delay: 3_600_000 });
      // As after a failover that lost the index's write, or a week past its due time.
      await raw.command(["DEL", keys.scheduled(event.id)]);
      assertEquals(await bus.cancel(event.id), true);
      assertEquals(await raw.command(["ZCARD", keys.schedule(b)[0]]), 0);
      assertEquals(await raw.command(["ZCARD", keys.schedule(a)[0]]), 1);
    } finally {
      await bus.close();
      await raw.close();
    }
  },
});

Deno.test({
  name: "redis cluster: stop the cluster",
  ignore: CLUSTER_SKIP !== undefined,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => await cluster!.stop(),
});
