/**
 * The conformance suite on a real Redis Cluster the test starts: three masters, three replicas.
 */
import { type ConformanceTarget, testBackendConformance } from "@herald/herald/backend";
import { createRedisBackend } from "@herald/herald/redis";
import { clusterClient } from "../../src/redis/cluster.ts";
import { CLUSTER_SKIP, sharedCluster } from "./_cluster_redis.ts";
import { testPrefix } from "./_redis.ts";

const cluster = await sharedCluster();

// The schedule of delayed events is one sorted set for every stream, so its scripts span slots.
const NO_SCHEDULE = "delayed events are not yet laid out per slot in cluster mode";
const DELAY_CASES = [
  "schedule(): no group sees a delayed event before it is due; then every group gets it once",
  "promote(): promoters racing move each due event once",
  "cancel(): a cancelled event never enters its stream; cancelling twice returns false",
  "cancel() racing promote(): each event is either cancelled or delivered, never both",
  "cancel(): an event already due and in its stream is not cancelled",
  "publish(): a 30-day delay is accepted, kept out of the stream, and cancellable",
  "schedule(): a delayed keyed event takes its key's order when it enters the stream",
];

function target(journeys: boolean): Promise<ConformanceTarget> {
  {
    const prefix = testPrefix();
    const backend = createRedisBackend({ cluster: cluster!.urls, prefix, journeys });
    return Promise.resolve({
      backend,
      appendRaw: async (stream, value) => {
        const fields = typeof value === "object" && value !== null
          ? Object.entries(value).flatMap((
            [k, v],
          ) => [k, typeof v === "string" ? v : JSON.stringify(v)])
          : ["value", JSON.stringify(value)];
        const client = clusterClient(cluster!.urls);
        try {
          await client.command(["XADD", `${prefix}s|${stream}`, "*", ...fields]);
        } finally {
          await client.close();
        }
      },
      // The cluster is the test's own and goes away at the end.
      cleanup: () => Promise.resolve(),
    });
  }
}

testBackendConformance({
  name: "redis (cluster)",
  ignore: CLUSTER_SKIP,
  skip: Object.fromEntries(DELAY_CASES.map((name) => [name, NO_SCHEDULE])),
  make: () => target(false),
  journeys: () => target(true),
});

Deno.test({
  name: "redis (cluster): stop the cluster",
  ignore: CLUSTER_SKIP !== undefined,
  // The nodes were started at load, outside any test: their processes end here.
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => await cluster!.stop(),
});
