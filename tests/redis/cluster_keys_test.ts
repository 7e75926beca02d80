import { assertEquals, assertThrows } from "@std/assert";
import { InvalidOptionsError } from "../../src/errors.ts";
import { createRedisBackend } from "@herald/herald/redis";
import { Keys } from "../../src/redis/keys.ts";
import { KeysCluster } from "../../src/redis/cluster_keys.ts";
import { optionsFromEnv } from "../../src/redis/options.ts";

/** Every key of stream `s` and group `g`, as each layout names it. */
function all(keys: Keys, stream: string, group: string): string[] {
  return [
    keys.stream(stream),
    ...keys.keyed(stream, group),
    keys.dead(group, stream),
    keys.dedupe("e1", stream),
    keys.correlation("c1", stream),
    keys.correlated("c1", stream),
    keys.caused("e1", stream),
    ...keys.schedule(stream),
  ];
}

Deno.test("single-node key names stay as they were (no migration for existing data)", () => {
  assertEquals(all(new Keys("herald:"), "orders", "mailer"), [
    "herald:s|orders",
    "herald:s|orders",
    "herald:t|orders|mailer",
    "herald:r|orders|mailer",
    "herald:rt|orders|mailer",
    "herald:h|orders|mailer",
    "herald:p|orders|mailer",
    "herald:d|mailer",
    "herald:id|e1",
    "herald:c|c1",
    "herald:cc|c1",
    "herald:ce|e1",
    "herald:sched",
    "herald:sched|e",
  ]);
});

Deno.test("in cluster mode every key of a stream hashes as the stream key (one slot)", () => {
  const keys = new KeysCluster("herald:");
  const names = all(keys, "orders", "mailer");
  // The stream key keeps its name; every other key carries it as its hash tag.
  assertEquals(names[0], "herald:s|orders");
  for (const name of names.slice(1)) {
    assertEquals(hashPart(name), "herald:s|orders", name);
  }
  // Another stream's keys hash apart.
  assertEquals(hashPart(keys.timers("payments", "mailer")), "herald:s|payments");
});

Deno.test("in cluster mode the keys that name no stream are refused, not put in a wrong slot", () => {
  const keys = new KeysCluster("herald:");
  assertThrows(() => keys.dead("mailer"), Error, "needs a stream");
  assertThrows(() => keys.dedupe("e1"), Error, "needs a stream");
  assertThrows(() => keys.schedule(), Error, "needs a stream");
});

Deno.test("createRedisBackend({ cluster }) checks its node URLs and the prefix, with every problem", () => {
  const err = assertThrows(
    () => createRedisBackend({ cluster: ["http://x:1", "127.0.0.1:7000"], prefix: "{app}:" }),
    InvalidOptionsError,
  );
  assertEquals(err.problems.length, 2);
  assertThrows(() => createRedisBackend({ cluster: [] }), InvalidOptionsError, "non-empty list");
  assertThrows(
    () =>
      createRedisBackend({
        url: "https://example.invalid",
        token: "t",
        waitForReplicas: { count: 0, timeoutMs: 0 },
      }),
    InvalidOptionsError,
    "REST cannot WAIT",
  );
  assertThrows(
    () =>
      createRedisBackend({ cluster: ["redis://127.0.0.1:7000"], url: "redis://127.0.0.1:6379" }),
    InvalidOptionsError,
    "only one",
  );
});

// What Redis Cluster hashes: the first {…} with something in it, else the whole key.
function hashPart(key: string): string {
  const open = key.indexOf("{");
  const close = open < 0 ? -1 : key.indexOf("}", open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : key;
}

Deno.test("HERALD_REDIS_CLUSTER names the cluster's nodes, comma-separated", () => {
  const env = new Map([
    ["HERALD_REDIS_CLUSTER", "redis://10.0.0.1:7000, redis://10.0.0.2:7000"],
    ["HERALD_REDIS_PREFIX", "shop:"],
  ]);
  assertEquals(optionsFromEnv(env), {
    prefix: "shop:",
    cluster: ["redis://10.0.0.1:7000", "redis://10.0.0.2:7000"],
  });
});
