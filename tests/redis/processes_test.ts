import { assert, assertEquals } from "@std/assert";
import { z } from "zod";
import { createBus, defineEvent } from "@herald/herald";
import { createRedisBackend } from "@herald/herald/redis";
import { dropPrefix, raw, REDIS_URL, SKIP, testPrefix } from "./_redis.ts";

const CONSUMER = new URL("./_consumer.ts", import.meta.url).pathname;

function thing(stream: string) {
  return defineEvent({ stream, type: "thing.happened", schema: z.object({ n: z.number() }) });
}

/** Starts a consumer process and waits for its READY line. */
async function consumer(
  prefix: string,
  stream: string,
  group: string,
  name: string,
  leaseMs: number,
  handle: string,
): Promise<Deno.ChildProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CONSUMER, REDIS_URL, prefix, stream, group, name, String(leaseMs), handle],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  while (!out.includes("READY")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`consumer ${name} exited before READY`);
    out += value;
  }
  // Keep draining so the child never blocks on a full pipe; ends when the process does.
  (async () => {
    while (!(await reader.read()).done);
  })();
  return child;
}

async function lines(key: string): Promise<string[][]> {
  return (await raw(["LRANGE", key, 0, -1]) as string[]).map((l) => l.split(" "));
}

async function until(check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("Timed out waiting for a condition");
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function stop(child: Deno.ChildProcess, signal: Deno.Signal = "SIGTERM"): Promise<void> {
  try {
    child.kill(signal);
  } catch {
    // already exited
  }
  await child.status;
}

Deno.test({
  name:
    "createRedisBackend(): a consumer killed with SIGKILL has its deliveries taken by another after the lease",
  ignore: Boolean(SKIP),
  async fn() {
    const prefix = testPrefix(), stream = "orders", group = "billing";
    const Thing = thing(stream);
    const bus = createBus({
      backend: createRedisBackend({ url: REDIS_URL, prefix }),
      source: "test",
    });
    let b: Deno.ChildProcess | undefined;
    try {
      await bus.backend.subscribe(group, [stream], "earliest");
      const events = await bus.publishMany(
        Array.from({ length: 5 }, (_, n) => ({ contract: Thing, data: { n } })),
      );
      const a = await consumer(prefix, stream, group, "a", 1_500, "hang");
      await until(async () => (await lines(`${prefix}started`)).length >= 1);
      await stop(a, "SIGKILL");
      const takenByA = new Set((await lines(`${prefix}started`)).map(([id]) => id));
      b = await consumer(prefix, stream, group, "b", 1_500, "0");
      await until(async () => (await lines(`${prefix}done`)).length >= 5);
      const done = await lines(`${prefix}done`);
      assertEquals(done.map(([id]) => id).sort(), events.map((e) => e.id).sort());
      assert(done.every(([, by]) => by === "b"));
      for (const [id, , attempt] of done) {
        if (takenByA.has(id)) assert(Number(attempt) >= 2, `${id} was a's: attempt 2 at b`);
      }
    } finally {
      if (b) await stop(b);
      await bus.close();
      await dropPrefix(prefix);
    }
  },
});

Deno.test({
  name: "createRedisBackend(): four consumer processes in one group handle every event once",
  ignore: Boolean(SKIP),
  async fn() {
    const prefix = testPrefix(), stream = "clicks", group = "stats";
    const Thing = thing(stream);
    const bus = createBus({
      backend: createRedisBackend({ url: REDIS_URL, prefix }),
      source: "test",
    });
    const children: Deno.ChildProcess[] = [];
    try {
      await bus.backend.subscribe(group, [stream], "earliest");
      for (const name of ["p1", "p2", "p3", "p4"]) {
        children.push(await consumer(prefix, stream, group, name, 30_000, "2"));
      }
      const events = [];
      for (let i = 0; i < 20; i++) {
        events.push(
          ...await bus.publishMany(
            Array.from({ length: 20 }, (_, n) => ({ contract: Thing, data: { n: i * 20 + n } })),
          ),
        );
      }
      await until(async () => (await lines(`${prefix}done`)).length >= events.length);
      await Promise.all(children.map((c) => stop(c)));
      const started = await lines(`${prefix}started`);
      const done = await lines(`${prefix}done`);
      const want = events.map((e) => e.id).sort();
      assertEquals(started.map(([id]) => id).sort(), want, "each event started exactly once");
      assertEquals(done.map(([id]) => id).sort(), want, "each event handled exactly once");
      const by = new Set(done.map(([, name]) => name));
      assert(by.size >= 2, `the group shared the work (handled by ${[...by].join(", ")})`);
    } finally {
      await Promise.all(children.map((c) => stop(c)));
      await bus.close();
      await dropPrefix(prefix);
    }
  },
});
