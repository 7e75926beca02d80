/**
 * Redis Cluster failover: a master killed with SIGKILL while a publisher publishes steadily and a
 * worker consumes. The cluster promotes the master's replica; no publish that was acknowledged
 * is lost, and the worker goes on by itself. Prints how long publishing and consuming took to
 * recover (no assertion on it).
 */
import { assert, assertEquals } from "@std/assert";
import { z } from "zod";
import { createBus, createWorker, defineEvent } from "@herald/herald";
import { createRedisBackend } from "@herald/herald/redis";
import { createEnvelope } from "../../src/envelope.ts";
import { until } from "../_until.ts";
import { CLUSTER_SKIP, masterOf, PrivateCluster } from "./_cluster_redis.ts";

Deno.test({
  name: "redis cluster: a master killed during steady publishing fails over; nothing acked is lost",
  ignore: CLUSTER_SKIP !== undefined,
  // The nodes' processes outlive single operations by design; the cluster is stopped below.
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const cluster = await PrivateCluster.start();
    const prefix = "failover:";
    // Default settings: acknowledged by the master (replication is asynchronous). With
    // waitForReplicas the promoted replica, which has no replica of its own until the killed node
    // comes back, could not acknowledge anything: see docs/backends.md.
    const backend = createRedisBackend({ cluster: cluster.urls, prefix });
    const Thing = defineEvent({
      stream: "things",
      type: "thing",
      schema: z.object({ n: z.number() }),
    });
    // The worker runs on a backend of its own (its own connections, its own blocking reads), as
    // in another process: nothing the publisher does wakes it.
    const bus = createBus({
      backend: createRedisBackend({ cluster: cluster.urls, prefix }),
      source: "test",
    });
    const handled = new Map<number, number>(); // n → when handled
    const worker = createWorker({ bus, group: "g", idleWaitMs: 100 }).on(Thing, (e) => {
      if (!handled.has(e.data.n)) handled.set(e.data.n, Date.now());
    });
    const acked = new Map<number, number>(); // n → when acknowledged
    let stop = false, failures = 0;
    try {
      await backend.subscribe("g", ["things"], "earliest");
      await worker.start();
      const publishing = (async () => {
        for (let n = 0; !stop; n++) {
          const event = createEnvelope("things", "thing", { n }, "test");
          // Retried until acknowledged; dedupe keeps a retry of a write that did land from
          // appearing twice.
          for (;;) {
            try {
              await backend.append([event], { dedupe: true });
              acked.set(n, Date.now());
              break;
            } catch {
              failures++;
              await new Promise((r) => setTimeout(r, 50));
            }
          }
          await new Promise((r) => setTimeout(r, 2));
        }
      })();
      await until(() => handled.size >= 200, 20_000);
      const victim = await masterOf(cluster, cluster.nodes[0].port, `${prefix}s|things`);
      const survivor = cluster.nodes.find((n) => n.port !== victim)!.port;
      const killedAt = Date.now();
      const before = acked.size;
      await cluster.kill(victim);
      // Publishing goes on, then the worker handles events published after the kill.
      await until(
        () => [...acked.values()].some((t) => t > killedAt + 1) && acked.size > before + 200,
        60_000,
        20,
      );
      // Publishing resumed at the end of the longest pause between acknowledgements after the kill.
      const published = resumedAt([...acked.values()], killedAt);
      await until(
        () => [...handled.keys()].some((n) => (acked.get(n) ?? 0) > published),
        60_000,
        20,
      );
      stop = true;
      await publishing;
      await until(() => [...acked.keys()].every((n) => handled.has(n)), 60_000, 50);
      const consumed = Math.min(
        ...[...handled.entries()].filter(([n]) => (acked.get(n) ?? 0) >= published).map(([, t]) =>
          t
        ),
      );
      const promoted = await masterOf(cluster, survivor, `${prefix}s|things`);
      assert(promoted !== victim, "a replica took over the slot");
      const lost = [...acked.keys()].filter((n) => !handled.has(n));
      assertEquals(lost, []);
      console.log(
        `failover: ${acked.size} acknowledged, ${failures} failed attempts retried; ` +
          `publishing recovered ${published - killedAt} ms and consuming ` +
          `${consumed - killedAt} ms after the SIGKILL`,
      );
    } finally {
      stop = true;
      await worker.stop();
      await bus.close();
      await backend.close();
      await cluster.stop();
    }
  },
});

// The end of the longest gap between acknowledgement times after `from`.
function resumedAt(times: number[], from: number): number {
  const sorted = [from, ...times.filter((t) => t > from)].sort((a, b) => a - b);
  let best = sorted[1], gap = -1;
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i] - sorted[i - 1] > gap) [gap, best] = [sorted[i] - sorted[i - 1], sorted[i]];
  }
  return best;
}
