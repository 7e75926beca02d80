import { assert, assertEquals, assertRejects } from "@std/assert";
import type { Delivery } from "../../src/backend.ts";
import { createEnvelope } from "../../src/envelope.ts";
import { BackendUnavailableError } from "../../src/errors.ts";
import { createRedisBackend } from "@herald/herald/redis";
import { SKIP } from "./_redis.ts";
import { freePort, PrivateRedis } from "./_private_redis.ts";

Deno.test({
  name:
    "createRedisBackend(): every acknowledged publish is delivered after Redis is killed and restarted",
  ignore: Boolean(SKIP),
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "herald-redis-" });
    const server = new PrivateRedis(freePort(), dir);
    await server.start();
    const backend = createRedisBackend({
      url: `redis://127.0.0.1:${server.port}`,
      prefix: "restart:",
    });
    const warnings: string[] = [];
    const warn = console.warn;
    const log = console.log;
    try {
      const s = "payments", g = "ledger";
      await backend.subscribe(g, [s], "earliest");
      const acknowledged: string[] = [];
      for (let n = 0; n < 50; n++) {
        const e = createEnvelope(s, "payment.made", { n }, "test");
        await backend.append([e]);
        acknowledged.push(e.id);
      }
      await server.kill();

      // Down: a publish fails loudly, a claim waits it out and warns once.
      await assertRejects(
        () => backend.append([createEnvelope(s, "payment.made", { n: -1 }, "test")]),
        BackendUnavailableError,
      );
      console.warn = (...args: unknown[]) => void warnings.push(args.join(" "));
      // The outage's end is logged at info.
      console.log = (...args: unknown[]) => void warnings.push(args.join(" "));
      for (let i = 0; i < 3; i++) {
        assertEquals(
          await backend.claim(g, [s], { consumer: "c", max: 10, leaseMs: 5_000, waitMs: 0 }),
          [],
        );
      }

      await server.start();
      // The client reconnects by itself with backoff; publish again once it is back.
      const deadline = Date.now() + 20_000;
      for (;;) {
        const e = createEnvelope(s, "payment.made", { n: 50 }, "test");
        try {
          await backend.append([e]);
          acknowledged.push(e.id);
          break;
        } catch (err) {
          if (!(err instanceof BackendUnavailableError) || Date.now() > deadline) throw err;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      const got: Delivery[] = [];
      while (got.length < acknowledged.length && Date.now() < deadline) {
        got.push(
          ...await backend.claim(g, [s], { consumer: "c", max: 100, leaseMs: 5_000, waitMs: 100 }),
        );
      }
      console.warn = warn;
      console.log = log;
      assertEquals(got.map((d) => d.envelope?.id), acknowledged);
      assertEquals(
        warnings.filter((w) => w.includes("unavailable")).length,
        1,
        warnings.join("\n"),
      );
      assert(warnings.some((w) => w.includes("reachable again")));
    } finally {
      console.warn = warn;
      console.log = log;
      await backend.close();
      await server.kill();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
