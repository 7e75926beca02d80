/**
 * Redis Cluster specifics on a real cluster the test starts: a consumer on one stream blocks on
 * its slot's master rather than polling, and hears of an event another process's backend
 * appends; a batch over several streams lands on several masters.
 */
import { assert, assertEquals, assertRejects } from "@std/assert";
import { BackendUnavailableError } from "../../src/errors.ts";
import { createRedisBackend, type RedisArg, type RedisClient } from "@herald/herald/redis";
import { clusterClient } from "../../src/redis/cluster.ts";
import { createEnvelope } from "../../src/envelope.ts";
import { CLUSTER_SKIP, masterOf, sharedCluster } from "./_cluster_redis.ts";
import { testPrefix } from "./_redis.ts";

const cluster = await sharedCluster();

// A cluster client that counts the scripts it runs, but the promoter's looks at the schedule of
// delayed events (once a second per stream a consumer subscribed to): those are no claims.
function counted(inner: RedisClient): RedisClient & { scripts: number } {
  const out = {
    transport: inner.transport,
    cluster: inner.cluster,
    scripts: 0,
    command(args: readonly RedisArg[], channel?: string) {
      if (args[0] === "EVALSHA" && !String(args[3]).endsWith("sched")) out.scripts++;
      return inner.command(args, channel);
    },
    waitForEntries: inner.waitForEntries!.bind(inner),
    unblock: inner.unblock!.bind(inner),
    close: () => inner.close(),
  };
  return out;
}

Deno.test({
  name: "redis cluster: a waiting consumer blocks on its master, and wakes for another's append",
  ignore: CLUSTER_SKIP !== undefined,
  fn: async () => {
    const prefix = testPrefix();
    const client = counted(clusterClient(cluster!.urls));
    const consumer = createRedisBackend({ client, prefix });
    const publisher = createRedisBackend({ cluster: cluster!.urls, prefix });
    try {
      await consumer.subscribe("g", ["s"], "earliest");
      // Nothing comes: one claim, one blocking read to the end of the wait, one claim after it.
      // A polling consumer would have claimed again and again.
      const options = { consumer: "c", max: 10, leaseMs: 30_000, waitMs: 1_500 };
      assertEquals(await consumer.claim("g", ["s"], options), []);
      assert(client.scripts <= 3, `claims while waiting: ${client.scripts}`);
      // Another backend's append (as from another process) ends the wait.
      const waiting = consumer.claim("g", ["s"], { ...options, waitMs: 60_000 });
      const event = createEnvelope("s", "t", { n: 1 }, "test");
      await publisher.append([event]);
      const got = await waiting;
      assertEquals(got.map((d) => d.envelope?.id), [event.id]);
    } finally {
      await consumer.close();
      await client.close();
      await publisher.close();
    }
  },
});

Deno.test({
  name: "redis cluster: a consumer on streams in several slots blocks on each, and wakes for any",
  ignore: CLUSTER_SKIP !== undefined,
  fn: async () => {
    const prefix = testPrefix();
    const [a, b] = await twoMasters(prefix);
    const client = counted(clusterClient(cluster!.urls));
    const consumer = createRedisBackend({ client, prefix });
    const publisher = createRedisBackend({ cluster: cluster!.urls, prefix });
    try {
      await consumer.subscribe("g", [a, b], "earliest");
      // Nothing comes: one claim per stream before the wait and after it; a consumer polling
      // every 200 ms would have claimed some twenty times.
      const options = { consumer: "c", max: 10, leaseMs: 30_000, waitMs: 1_500 };
      assertEquals(await consumer.claim("g", [a, b], options), []);
      assert(client.scripts <= 5, `claims while waiting: ${client.scripts}`);
      for (const stream of [b, a]) {
        const waiting = consumer.claim("g", [a, b], { ...options, waitMs: 60_000 });
        const event = createEnvelope(stream, "t", { n: 1 }, "test");
        await publisher.append([event]);
        assertEquals((await waiting).map((d) => d.envelope?.id), [event.id]);
      }
    } finally {
      await consumer.close();
      await client.close();
      await publisher.close();
    }
  },
});

// Two stream names whose keys two different masters serve.
async function twoMasters(prefix: string): Promise<[string, string]> {
  const first = await masterOf(cluster!, cluster!.nodes[0].port, `${prefix}s|s0`);
  for (let i = 1;; i++) {
    const port = await masterOf(cluster!, cluster!.nodes[0].port, `${prefix}s|s${i}`);
    if (port !== first) return ["s0", `s${i}`];
  }
}

Deno.test({
  name: "redis cluster: a batch over streams in several slots is written, each on its master",
  ignore: CLUSTER_SKIP !== undefined,
  fn: async () => {
    const prefix = testPrefix();
    const backend = createRedisBackend({ cluster: cluster!.urls, prefix });
    try {
      // Streams until two masters serve them.
      const streams: string[] = [];
      const masters = new Set<number>();
      for (let i = 0; masters.size < 2; i++) {
        streams.push(`s${i}`);
        masters.add(await masterOf(cluster!, cluster!.nodes[0].port, `${prefix}s|s${i}`));
      }
      for (const s of streams) await backend.subscribe("g", [s], "earliest");
      const events = streams.map((s) => createEnvelope(s, "t", { s }, "test"));
      await backend.append(events, { dedupe: true });
      await backend.append(events, { dedupe: true });
      const got = await backend.claim("g", streams, {
        consumer: "c",
        max: 100,
        leaseMs: 30_000,
        waitMs: 0,
      });
      const all = [...got];
      while (all.length < events.length) {
        const more = await backend.claim("g", streams, {
          consumer: "c",
          max: 100,
          leaseMs: 30_000,
          waitMs: 5_000,
        });
        assert(more.length > 0, "every stream's event is claimed");
        all.push(...more);
      }
      assertEquals(all.map((d) => d.envelope?.id).sort(), events.map((e) => e.id).sort());
      await backend.settle("g", all.map((delivery) => ({ delivery, outcome: "ack" as const })));
      const groups = await backend.groups();
      assertEquals(groups.map((g) => g.pending), streams.map(() => 0));
    } finally {
      await backend.close();
    }
  },
});

Deno.test({
  name: "redis cluster: waitForReplicas acknowledges a publish once a replica holds it",
  ignore: CLUSTER_SKIP !== undefined,
  fn: async () => {
    const prefix = testPrefix();
    const one = createRedisBackend({
      cluster: cluster!.urls,
      prefix,
      waitForReplicas: { count: 1 },
    });
    // Each master has one replica: two can never confirm.
    const two = createRedisBackend({
      cluster: cluster!.urls,
      prefix,
      waitForReplicas: { count: 2, timeoutMs: 100 },
    });
    try {
      await one.append([createEnvelope("s", "t", { n: 1 }, "test")]);
      const err = await assertRejects(
        () => two.append([createEnvelope("s", "t", { n: 2 }, "test")]),
        BackendUnavailableError,
        "reached 1 of 2 replicas",
      );
      assert(err.message.includes("retry with dedupe"), err.message);
      // The master holds both: the second was written, only not confirmed.
      const page = await one.peek("s");
      assertEquals(page.events.map((e) => e.envelope?.data), [{ n: 1 }, { n: 2 }]);
    } finally {
      await one.close();
      await two.close();
    }
  },
});

Deno.test({
  name: "redis cluster: a busy consumer of one stream reads with a plain XREADGROUP, no script",
  ignore: CLUSTER_SKIP !== undefined,
  fn: async () => {
    const prefix = testPrefix();
    const inner = clusterClient(cluster!.urls);
    const sent: string[] = [];
    const client: RedisClient = {
      transport: inner.transport,
      cluster: inner.cluster,
      ordered: inner.ordered,
      command: (args, channel) => {
        // The promoter's looks at the schedule of delayed events are no claims.
        const promoter = args[0] === "EVALSHA" && String(args[3]).endsWith("sched");
        sent.push(promoter ? "promote" : String(args[0]));
        return inner.command(args, channel);
      },
      pipeline: (commands, channel) => {
        sent.push(...commands.map((c) => String(c[0])));
        return inner.pipeline!(commands, channel);
      },
      waitForEntries: inner.waitForEntries!.bind(inner),
      unblock: inner.unblock!.bind(inner),
      close: () => inner.close(),
    };
    const backend = createRedisBackend({ client, prefix });
    const n = 100, max = 10;
    try {
      await backend.subscribe("g", ["s"], "earliest");
      await backend.append(
        Array.from({ length: n }, (_, i) => createEnvelope("s", "t", { i }, "x")),
      );
      const options = { consumer: "c", max, leaseMs: 30_000, waitMs: 0 };
      // The first claim loads its scripts; the next ones look at the timers once, then read.
      const got = await backend.claim("g", ["s"], options);
      sent.length = 0;
      while (got.length < n) got.push(...await backend.claim("g", ["s"], options));
      assertEquals(got.map((d) => d.envelope?.data), Array.from({ length: n }, (_, i) => ({ i })));
      const count = (name: string) => sent.filter((c) => c === name).length;
      assertEquals(count("XREADGROUP"), n / max - 1, sent.join(" "));
      assert(count("EVALSHA") <= 2, `scripts: ${sent.join(" ")}`);
      await backend.settle("g", got.map((delivery) => ({ delivery, outcome: "ack" as const })));
      assertEquals((await backend.groups("s"))[0].pending, 0);
    } finally {
      await backend.close();
      await inner.close();
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
