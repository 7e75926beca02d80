import { assert, assertEquals, assertGreater, assertRejects, assertThrows } from "@std/assert";
import { z } from "zod";
import { createBus, createWorker, defineEvent } from "@herald/herald";
import { createRedisBackend, type RedisArg, tcpClient } from "@herald/herald/redis";
import { createEnvelope } from "../../src/envelope.ts";
import { BackendUnavailableError, InvalidOptionsError } from "../../src/errors.ts";
import { appendRaw, raw, REDIS_URL, redisTest, testBackend } from "./_redis.ts";

function closedPort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

Deno.test("createRedisBackend() reports every problem with its options at once", () => {
  const err = assertThrows(
    () =>
      createRedisBackend({
        url: "ftp://x",
        prefix: 3 as unknown as string,
        trim: { maxLen: 0 },
        dedupeTtlMs: 5,
      }),
    InvalidOptionsError,
  );
  assertEquals(err.problems.length, 4);
  assertThrows(
    () => createRedisBackend({ url: "https://example.invalid" }),
    InvalidOptionsError,
    "token",
  );
});

Deno.test("createRedisBackend() reads HERALD_REDIS_URL, then the Upstash variables", async () => {
  const names = [
    "HERALD_REDIS_URL",
    "HERALD_REDIS_CLUSTER",
    "UPSTASH_REDIS_REST_URL",
    "UPSTASH_REDIS_REST_TOKEN",
  ];
  const saved = names.map((n) => Deno.env.get(n));
  try {
    for (const n of names) Deno.env.delete(n);
    assertThrows(() => createRedisBackend(), InvalidOptionsError, "HERALD_REDIS_URL");
    const err = assertThrows(
      () => createRedisBackend({ prefix: 3 as unknown as string }),
      InvalidOptionsError,
    );
    assertEquals(err.problems.length, 2); // no Redis named, and the prefix
    assert(err.problems[0].includes("url or client"), err.problems[0]);
    Deno.env.set("UPSTASH_REDIS_REST_URL", "https://example.invalid");
    Deno.env.set("UPSTASH_REDIS_REST_TOKEN", "t");
    await createRedisBackend().close();
    Deno.env.set("HERALD_REDIS_URL", REDIS_URL);
    await createRedisBackend({ prefix: "env:" }).close();
  } finally {
    names.forEach((n, i) =>
      saved[i] === undefined ? Deno.env.delete(n) : Deno.env.set(n, saved[i]!)
    );
  }
});

Deno.test("append() to an unreachable Redis throws BackendUnavailableError, over TCP and REST", async () => {
  const e = createEnvelope("s", "t", {}, "test");
  const tcp = createRedisBackend({ url: `redis://127.0.0.1:${closedPort()}` });
  await assertRejects(() => tcp.append([e]), BackendUnavailableError);
  await tcp.close();
  const rest = createRedisBackend({ url: `http://127.0.0.1:${closedPort()}`, token: "t" });
  await assertRejects(() => rest.append([e]), BackendUnavailableError);
  await rest.close();
});

redisTest("append() trims streams as configured and keeps dedupe ids for a day", {
  trim: { maxLen: 5, exact: true },
}, async ({ backend, prefix }) => {
  const events = Array.from(
    { length: 20 },
    (_, n) => createEnvelope("trimmed", "t", { n }, "test"),
  );
  for (const e of events) await backend.append([e], { dedupe: true });
  assertEquals(await raw(["XLEN", `${prefix}s|trimmed`]), 5);
  assertGreater(await raw(["PTTL", `${prefix}id|${events[0].id}`]) as number, 86_000_000);
});

redisTest("append() of a batch over two streams leaves each trimmed as configured", {
  trim: { maxLen: 5, exact: true },
}, async ({ backend, prefix }) => {
  const events = Array.from(
    { length: 30 },
    (_, n) => createEnvelope(n % 3 === 0 ? "few" : "many", "t", { n }, "test"),
  );
  await backend.append(events);
  assertEquals(await raw(["XLEN", `${prefix}s|many`]), 5);
  assertEquals(await raw(["XLEN", `${prefix}s|few`]), 5);
  // The newest of each stream stay, each in its own stream, in publish order.
  const kept = async (stream: string) =>
    (await raw(["XRANGE", `${prefix}s|${stream}`, "-", "+"]) as [string, string[]][])
      .map(([, fields]) => JSON.parse(fields[1]).data.n);
  assertEquals(await kept("many"), [23, 25, 26, 28, 29]);
  assertEquals(await kept("few"), [15, 18, 21, 24, 27]);
});

redisTest(
  "append() with dedupe over two streams writes each id once, in its own stream",
  async ({ backend, prefix }) => {
    const a = createEnvelope("a", "t", { n: 1 }, "test");
    const b = createEnvelope("b", "t", { n: 2 }, "test");
    const c = createEnvelope("a", "t", { n: 3 }, "test");
    await backend.append([a, b, a, c], { dedupe: true });
    await backend.append([b, c], { dedupe: true });
    const ids = async (stream: string) =>
      (await raw(["XRANGE", `${prefix}s|${stream}`, "-", "+"]) as [string, string[]][])
        .map(([, fields]) => JSON.parse(fields[1]).id);
    assertEquals(await ids("a"), [a.id, c.id]);
    assertEquals(await ids("b"), [b.id]);
  },
);

redisTest(
  "claim() leaves a parked retry alone while others claim with short leases",
  async ({ backend }) => {
    await backend.subscribe("g", ["s"], "earliest");
    await backend.append([createEnvelope("s", "t", { n: 1 }, "test")]);
    const [d] = await backend.claim("g", ["s"], {
      consumer: "a",
      max: 1,
      leaseMs: 50,
      waitMs: 0,
    });
    await backend.settle("g", [{
      delivery: d,
      outcome: "retry",
      delayMs: 60_000,
      error: { name: "E", message: "x" },
    }]);
    const other = await backend.claim("g", ["s"], {
      consumer: "b",
      max: 10,
      leaseMs: 50,
      waitMs: 300,
    });
    assertEquals(other, []);
  },
);

redisTest(
  "a worker on Redis dead-letters a foreign entry with the reason and keeps going",
  async ({ backend, prefix }) => {
    const Thing = defineEvent({
      stream: "mixed",
      type: "thing",
      schema: z.object({ n: z.number() }),
    });
    const bus = createBus({ backend, source: "test" });
    const seen: number[] = [];
    const worker = createWorker({ bus, group: "g", idleWaitMs: 50 }).on(
      Thing,
      (e) => void seen.push(e.data.n),
    );
    try {
      await backend.subscribe("g", ["mixed"], "earliest");
      await appendRaw(prefix, "mixed", { hello: "world" });
      await bus.publish(Thing, { n: 7 });
      await worker.start();
      const deadline = Date.now() + 10_000;
      while (
        (seen.length < 1 || (await backend.deadLetters("g")).length < 1) && Date.now() < deadline
      ) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assertEquals(seen, [7]);
      const [dead] = await backend.deadLetters("g");
      assertEquals(dead.raw, { hello: "world" });
      assert(dead.error.message.includes('no "e" field'), dead.error.message);
    } finally {
      await worker.stop();
    }
  },
);

redisTest(
  "acks of a read just made need no script over TCP, in whatever order handlers end",
  async () => {
    // Scripts counted on this backend's own client: Redis's INFO counts every client's, and the
    // test Redis is shared.
    const tcp = tcpClient(REDIS_URL);
    let scripts = 0;
    const note = (args: readonly RedisArg[]) => {
      if (/^EVAL(SHA)?$/i.test(String(args[0]))) scripts++;
    };
    const client = new Proxy(tcp, {
      get(target, prop) {
        if (prop === "command") {
          return (args: readonly RedisArg[], channel?: string) => {
            note(args);
            return target.command(args, channel);
          };
        }
        if (prop === "pipeline") {
          return (commands: readonly (readonly RedisArg[])[], channel?: string) => {
            commands.forEach(note);
            return target.pipeline!(commands, channel);
          };
        }
        const value = Reflect.get(target, prop, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const { backend, prefix, cleanup } = testBackend({ client });
    try {
      await backend.subscribe("g", ["s"], "earliest");
      const options = { consumer: "c", max: 20, leaseMs: 30_000, waitMs: 0 };
      // A first claim sweeps and looks at the timers (scripts); the next, within a second, reads.
      assertEquals(await backend.claim("g", ["s"], options), []);
      assert(scripts > 0, "the counter sees the first claim's scripts");
      await backend.append(
        Array.from({ length: 20 }, (_, n) => createEnvelope("s", "t", { n }, "test")),
      );
      const before = scripts;
      const got = await backend.claim("g", ["s"], options);
      assertEquals(got.length, 20);
      // The last first, then the rest scattered: each found in the read's held lease records.
      const order = [19, ...Array.from({ length: 19 }, (_, i) => (i * 7) % 19)];
      await backend.settle("g", order.map((i) => ({ delivery: got[i], outcome: "ack" as const })));
      assertEquals(scripts - before, 0, "settled by a plain XACK, no script");
      assertEquals((await raw(["XPENDING", `${prefix}s|s`, "g"]) as unknown[])[0], 0);
    } finally {
      await backend.close();
      await tcp.close();
      await cleanup();
    }
  },
);
