import { assertEquals } from "@std/assert";
import { z } from "zod";
import { createBus, defineEvent } from "@herald/herald";
import { createRedisBackend } from "@herald/herald/redis";
import { dropPrefix, REDIS_URL, SKIP, testPrefix } from "./_redis.ts";

function closedPort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

Deno.test({
  name:
    "the outbox keeps events committed while Redis is down and forwards them once, deduplicated",
  ignore: Boolean(SKIP),
  async fn() {
    const prefix = testPrefix();
    const Created = defineEvent({
      stream: "users",
      type: "user.created",
      schema: z.object({ id: z.string() }),
    });
    const kv = await Deno.openKv(":memory:");
    const down = createBus({
      backend: createRedisBackend({ url: `redis://127.0.0.1:${closedPort()}`, prefix }),
      source: "users",
    });
    const up = createBus({
      backend: createRedisBackend({ url: REDIS_URL, prefix }),
      source: "users",
    });
    const warn = console.warn;
    console.warn = () => {};
    try {
      await up.backend.subscribe("mail", ["users"], "earliest");
      const result = await down.atomic(kv).set(["users", "u1"], { id: "u1" }).publish(Created, {
        id: "u1",
      }).commit();
      assertEquals(result.ok, true);
      assertEquals((await kv.get(["users", "u1"])).value, { id: "u1" });
      assertEquals(await up.relayOutbox(kv), 1);
      assertEquals(await up.relayOutbox(kv), 0);
      // Forwarded twice (a relay that died after appending, before clearing): still one event.
      await up.backend.append(result.events, { dedupe: true });
      const got = [];
      const deadline = Date.now() + 1_000;
      while (Date.now() < deadline) {
        got.push(
          ...await up.backend.claim("mail", ["users"], {
            consumer: "c",
            max: 10,
            leaseMs: 5_000,
            waitMs: 100,
          }),
        );
      }
      assertEquals(got.map((d) => d.envelope?.id), [result.events[0].id]);
    } finally {
      console.warn = warn;
      await down.close();
      await up.close();
      kv.close();
      await dropPrefix(prefix);
    }
  },
});
