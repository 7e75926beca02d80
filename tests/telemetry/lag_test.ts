/**
 * The lag readers behind the `herald.consumer.lag` and `herald.consumer.oldest_age` gauges, on
 * every backend that has one: Deno KV (memory and file) and Redis (TCP and the REST emulation).
 */
import { assert, assertEquals } from "@std/assert";
import { z } from "zod";
import { createBus, createKvBackend, defineEvent } from "@herald/herald";
import type { Backend } from "@herald/herald/backend";
import { LAG, lagReader } from "../../src/telemetry/lag.ts";
import { type Emulator, SKIP, startEmulator, testBackend } from "../redis/_redis.ts";

const Tick = defineEvent({ stream: "lagged", type: "tick", schema: z.object({ n: z.number() }) });

async function lagOf(make: () => Promise<{ backend: Backend; cleanup: () => Promise<void> }>) {
  const { backend, cleanup } = await make();
  const bus = createBus({ backend, source: "lag" });
  try {
    const reader = lagReader(backend);
    assert(reader, "the backend has no lag reader");
    await backend.subscribe("g", ["lagged"], "earliest");
    assertEquals((await reader[LAG]("g", "lagged")).lag, 0);
    const before = Date.now();
    const first = await bus.publish(Tick, { n: 1 });
    await bus.publishMany([2, 3].map((n) => ({ contract: Tick, data: { n } })));
    const three = await reader[LAG]("g", "lagged");
    assertEquals(three.lag, 3);
    assert(three.oldestMs! >= before - 1 && three.oldestMs! <= Date.now(), JSON.stringify(three));
    const claimed = await backend.claim("g", ["lagged"], {
      consumer: "c",
      max: 2,
      leaseMs: 10_000,
      waitMs: 10,
    });
    assertEquals(claimed[0].envelope?.id, first.id);
    const one = await reader[LAG]("g", "lagged");
    assertEquals(one.lag, 1);
    assert(one.oldestMs! >= three.oldestMs!);
    await backend.settle("g", claimed.map((delivery) => ({ delivery, outcome: "ack" })));
  } finally {
    await bus.close();
    await cleanup();
  }
}

Deno.test("createKvBackend() reports a group's lag and its oldest unclaimed event (memory)", () =>
  lagOf(() =>
    Promise.resolve({ backend: createKvBackend({ path: ":memory:" }), cleanup: async () => {} })
  ));

Deno.test("createKvBackend() reports a group's lag and its oldest unclaimed event (file)", async () => {
  const dir = await Deno.makeTempDir();
  await lagOf(() =>
    Promise.resolve({
      backend: createKvBackend({ path: `${dir}/bus.sqlite` }),
      cleanup: () => Deno.remove(dir, { recursive: true }),
    })
  );
});

Deno.test({
  name: "createRedisBackend() reports a group's lag and its oldest unclaimed event (tcp)",
  ignore: SKIP !== undefined,
  fn: () => lagOf(() => Promise.resolve(testBackend())),
});

Deno.test({
  name: "createRedisBackend() reports a group's lag and its oldest unclaimed event (rest)",
  ignore: SKIP !== undefined,
  async fn() {
    const emulator: Emulator = await startEmulator();
    try {
      await lagOf(() => Promise.resolve(testBackend({ url: emulator.url, token: emulator.token })));
    } finally {
      await emulator.stop();
    }
  },
});
