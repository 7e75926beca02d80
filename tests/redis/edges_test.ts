/**
 * Edge cases of the Redis backend: a redrive that meets a foreign dead-letter entry, consumers
 * left behind by stopped workers, dead-letter streams' bound, and the errors a user reads when
 * Redis is down.
 *
 * @module
 */
import { assertEquals, assertRejects } from "@std/assert";
import { createEnvelope } from "../../src/envelope.ts";
import type { RedisBackend } from "@herald/herald/redis";
import { raw, SKIP, testBackend } from "./_redis.ts";

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
