/**
 * The `herald.consumer.lag`, `herald.consumer.oldest_age`, `herald.dead_letters` and
 * `herald.consumer.pending` gauges of a watching worker, read from the backend's Inspector
 * (`groups()`) and this instance's held deliveries, as Prometheus shows them: on Deno KV (memory
 * and file), Redis (TCP and the REST emulation) and memory.
 */
import { assert, assertEquals } from "@std/assert";
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { z } from "zod";
import { createBus, createKvBackend, createMemoryBackend, defineEvent } from "@herald/herald";
import type { Backend } from "@herald/herald/backend";
import type { Delivery } from "../../src/backend.ts";
import { WorkerTelemetry } from "../../src/telemetry/consume.ts";
import { enablePromMetrics, refreshGauges } from "../../src/telemetry/metrics.ts";
import { promText } from "../../src/telemetry/prometheus.ts";
import { type Emulator, SKIP, startEmulator, testBackend } from "../redis/_redis.ts";

const Tick = defineEvent({ stream: "lagged", type: "tick", schema: z.object({ n: z.number() }) });

interface Family {
  name: string;
  metrics: { value?: string; labels?: Record<string, string> }[];
}

// The gauges of group `g` on stream `lagged`, refreshed now.
async function gauges(): Promise<Record<string, number | undefined>> {
  await refreshGauges();
  const families = parsePrometheusTextFormat(await promText([])) as Family[];
  const of = (name: string) => {
    const m = families.find((f) => f.name === name)?.metrics.find((x) =>
      x.labels?.group === "g" && x.labels?.stream === "lagged"
    );
    return m?.value === undefined ? undefined : Number(m.value);
  };
  return {
    lag: of("herald_consumer_lag"),
    pending: of("herald_consumer_pending"),
    dead: of("herald_dead_letters"),
    oldest: of("herald_consumer_oldest_age_seconds"),
  };
}

async function watched(make: () => Promise<{ backend: Backend; cleanup: () => Promise<void> }>) {
  await enablePromMetrics();
  const { backend, cleanup } = await make();
  const bus = createBus({ backend, source: "lag" });
  let held: Delivery[] = [];
  const stop = new WorkerTelemetry("g", {}).watch(backend, ["lagged"], () => held);
  try {
    await backend.subscribe("g", ["lagged"], "earliest");
    assertEquals(await gauges(), { lag: 0, pending: 0, dead: 0, oldest: 0 });
    const before = Date.now();
    const first = await bus.publish(Tick, { n: 1 });
    await bus.publishMany([2, 3].map((n) => ({ contract: Tick, data: { n } })));
    const three = await gauges();
    assertEquals([three.lag, three.pending, three.dead], [3, 0, 0]);
    assert(
      three.oldest! >= 0 && three.oldest! <= (Date.now() - before) / 1000 + 1,
      `${three.oldest}`,
    );
    held = await backend.claim("g", ["lagged"], {
      consumer: "c",
      max: 2,
      leaseMs: 10_000,
      waitMs: 10,
    });
    assertEquals(held[0].envelope?.id, first.id);
    assertEquals((await gauges()).lag, 1);
    assertEquals((await gauges()).pending, 2);
    await backend.settle("g", [
      { delivery: held[0], outcome: "ack" },
      { delivery: held[1], outcome: "dead", error: { name: "E", message: "no" } },
    ]);
    held = [];
    const after = await gauges();
    assertEquals([after.lag, after.pending, after.dead], [1, 0, 1]);
  } finally {
    stop();
    await bus.close();
    await cleanup();
  }
}

Deno.test("the gauges read createKvBackend()'s Inspector (memory)", () =>
  watched(() =>
    Promise.resolve({ backend: createKvBackend({ path: ":memory:" }), cleanup: async () => {} })
  ));

Deno.test("the gauges read createKvBackend()'s Inspector (file)", async () => {
  const dir = await Deno.makeTempDir();
  await watched(() =>
    Promise.resolve({
      backend: createKvBackend({ path: `${dir}/bus.sqlite` }),
      cleanup: () => Deno.remove(dir, { recursive: true }),
    })
  );
});

Deno.test("the gauges read createMemoryBackend()'s Inspector", () =>
  watched(() => Promise.resolve({ backend: createMemoryBackend(), cleanup: async () => {} })));

Deno.test({
  name: "the gauges read createRedisBackend()'s Inspector (tcp)",
  ignore: SKIP !== undefined,
  fn: () => watched(() => Promise.resolve(testBackend())),
});

Deno.test({
  name: "the gauges read createRedisBackend()'s Inspector (rest)",
  ignore: SKIP !== undefined,
  async fn() {
    const emulator: Emulator = await startEmulator();
    try {
      await watched(() =>
        Promise.resolve(testBackend({ url: emulator.url, token: emulator.token }))
      );
    } finally {
      await emulator.stop();
    }
  },
});
