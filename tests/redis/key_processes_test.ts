import { assert, assertEquals } from "@std/assert";
import { z } from "zod";
import { createBus, defineEvent } from "@herald/herald";
import { createRedisBackend } from "@herald/herald/redis";
import { until } from "../_until.ts";
import { dropPrefix, raw, REDIS_URL, SKIP, startEmulator, testPrefix } from "./_redis.ts";

const CONSUMER = new URL("./_key_consumer.ts", import.meta.url).pathname;
const PLAIN_CONSUMER = new URL("./_consumer.ts", import.meta.url).pathname;
const KEYS = 12, EVENTS = 360;

/** Starts a key-order consumer process (_key_consumer.ts). */
function consumer(args: string[]): Promise<Deno.ChildProcess> {
  return spawn(CONSUMER, args);
}

/** Starts a consumer process of the process tests (_consumer.ts). */
function plainConsumer(args: string[]): Promise<Deno.ChildProcess> {
  return spawn(PLAIN_CONSUMER, args);
}

/** Starts a consumer process and waits for its READY line. */
async function spawn(script: string, args: string[]): Promise<Deno.ChildProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script, ...args],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  while (!out.includes("READY")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`consumer ${args.join(" ")} exited before READY`);
    out += value;
  }
  // Keep draining so the child never blocks on a full pipe; ends when the process does.
  (async () => {
    while (!(await reader.read()).done);
  })();
  return child;
}

async function stop(child: Deno.ChildProcess, signal: Deno.Signal = "SIGTERM"): Promise<void> {
  try {
    child.kill(signal);
  } catch {
    // already exited
  }
  await child.status;
}

/**
 * Four consumer processes of one group and this process publishing, in batches while they run:
 * per key, the log must be start/end pairs of one event at a time, in publish order (a failed
 * first attempt is followed by its retry before the key's next event), and every event handled.
 */
async function fourProcesses(backendUrl: string, token: string | undefined): Promise<void> {
  const prefix = testPrefix(), stream = "accounts", group = "ledger";
  const schema = z.object({ n: z.number() });
  const A = defineEvent({ stream, type: "thing.a", schema });
  const B = defineEvent({ stream, type: "thing.b", schema });
  const bus = createBus({
    backend: createRedisBackend({ url: REDIS_URL, prefix }),
    source: "test",
  });
  const children: Deno.ChildProcess[] = [];
  try {
    await bus.backend.subscribe(group, [stream], "earliest");
    for (const name of ["p1", "p2", "p3", "p4"]) {
      children.push(
        await consumer([backendUrl, token ?? "-", REDIS_URL, prefix, stream, group, name]),
      );
    }
    for (let i = 0; i < EVENTS; i += 30) {
      await bus.publishMany(Array.from({ length: 30 }, (_, j) => {
        const n = i + j;
        // Unkeyed events flow among them; keyed ones cycle through the keys.
        const key = n % 10 === 9 ? undefined : `k${n % KEYS}`;
        return { contract: n % 4 === 0 ? B : A, data: { n }, options: key ? { key } : {} };
      }));
    }
    const log = async () => (await raw(["LRANGE", `${prefix}log`, 0, -1]) as string[]);
    const retries = Array.from({ length: EVENTS }, (_, n) => n).filter((n) => n % 7 === 3).length;
    await until(async () => (await log()).length >= 2 * (EVENTS + retries), 60_000, 50);
    await Promise.all(children.map((c) => stop(c)));
    const lines = (await log()).map((l) => l.split(" "));
    for (let k = 0; k < KEYS; k++) {
      const mine = lines.filter(([key]) => key === `k${k}`);
      const want = Array.from({ length: EVENTS }, (_, n) => n)
        .filter((n) => n % 10 !== 9 && n % KEYS === k)
        .flatMap((n) => n % 7 === 3 ? [n, n, n, n] : [n, n]);
      assertEquals(mine.map(([, n]) => Number(n)), want, `k${k}: in publish order, none lost`);
      assert(
        mine.every(([, , edge], i) => edge === (i % 2 === 0 ? "start" : "end")),
        `k${k}: one event at a time`,
      );
    }
    const unkeyed = lines.filter(([key]) => key === "undefined");
    assertEquals(new Set(unkeyed.map(([, n]) => n)).size, EVENTS / 10, "every unkeyed event");
    const by = new Set(lines.map(([, , , name]) => name));
    assert(by.size >= 2, `the group shared the work (handled by ${[...by].join(", ")})`);
  } finally {
    await Promise.all(children.map((c) => stop(c)));
    await bus.close();
    await dropPrefix(prefix);
  }
}

Deno.test({
  name:
    "createRedisBackend(): four consumer processes keep each key in publish order, one at a time (TCP)",
  ignore: Boolean(SKIP),
  fn: () => fourProcesses(REDIS_URL, undefined),
});

Deno.test({
  name:
    "createRedisBackend(): four consumer processes keep each key in publish order, one at a time (REST)",
  ignore: Boolean(SKIP),
  async fn() {
    const emulator = await startEmulator();
    try {
      await fourProcesses(emulator.url, emulator.token);
    } finally {
      await emulator.stop();
    }
  },
});

Deno.test({
  name:
    "createRedisBackend(): keys held by a consumer killed with SIGKILL wait for its leases, then go on in order",
  ignore: Boolean(SKIP),
  async fn() {
    const prefix = testPrefix(), stream = "orders", group = "billing";
    const Thing = defineEvent({
      stream,
      type: "thing.happened",
      schema: z.object({ n: z.number() }),
    });
    const bus = createBus({
      backend: createRedisBackend({ url: REDIS_URL, prefix }),
      source: "test",
    });
    let b: Deno.ChildProcess | undefined;
    try {
      await bus.backend.subscribe(group, [stream], "earliest");
      const events = await bus.publishMany(Array.from({ length: 12 }, (_, n) => ({
        contract: Thing,
        data: { n },
        options: { key: `k${n % 3}` },
      })));
      const keyOf = new Map(events.map((e) => [e.id, e.key!]));
      const lines = async (list: string) =>
        (await raw(["LRANGE", `${prefix}${list}`, 0, -1]) as string[]).map((l) => l.split(" "));
      // a takes the first event of each key and hangs in its handler (concurrency 4).
      const a = await plainConsumer([REDIS_URL, prefix, stream, group, "a", "1500", "hang"]);
      await until(async () => (await lines("started")).length >= 3, 60_000, 50);
      await stop(a, "SIGKILL");
      const byA = await lines("started");
      assertEquals(
        byA.map(([id]) => keyOf.get(id)).sort(),
        ["k0", "k1", "k2"],
        "a held one event of each key, no more",
      );
      b = await plainConsumer([REDIS_URL, prefix, stream, group, "b", "1500", "0"]);
      await until(async () => (await lines("done")).length >= 12, 60_000, 50);
      const done = await lines("done");
      for (const key of ["k0", "k1", "k2"]) {
        const want = events.filter((e) => e.key === key).map((e) => e.id);
        assertEquals(done.filter(([id]) => keyOf.get(id) === key).map(([id]) => id), want);
      }
      const taken = new Set(byA.map(([id]) => id));
      for (const [id, , attempt] of done) {
        if (taken.has(id)) assert(Number(attempt) >= 2, `${id} was a's: attempt 2 at b`);
      }
    } finally {
      if (b) await stop(b);
      await bus.close();
      await dropPrefix(prefix);
    }
  },
});
