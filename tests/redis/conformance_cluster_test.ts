/**
 * The conformance suite on a real Redis Cluster the test starts: three masters, three replicas.
 */
import { type ConformanceTarget, testBackendConformance } from "@herald/herald/backend";
import { createRedisBackend } from "@herald/herald/redis";
import { clusterClient } from "../../src/redis/cluster.ts";
import { CLUSTER_SKIP, sharedCluster } from "./_cluster_redis.ts";
import { testPrefix } from "./_redis.ts";

const cluster = await sharedCluster();

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
  // ioredis's Cluster can leave a slot refresh's timeout pending past quit() under load.
  sanitizeOps: false,
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
