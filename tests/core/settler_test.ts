import { assert, assertEquals } from "@std/assert";
import { z } from "zod";
import { createBus, createMemoryBackend, createWorker, defineEvent } from "@herald/herald";
import type { Settlement } from "@herald/herald/backend";
import { until } from "../_until.ts";

const Job = defineEvent({
  stream: "jobs",
  type: "job.queued",
  schema: z.object({ n: z.number() }),
});

Deno.test("a worker's acks reach the backend without their event, unless keyed; failures keep it", async () => {
  const backend = createMemoryBackend();
  const written: Settlement[] = [];
  const settle = backend.settle.bind(backend);
  backend.settle = (group, settlements) => {
    written.push(...settlements);
    return settle(group, settlements);
  };
  const bus = createBus({ backend, source: "test" });
  const worker = createWorker({ bus, group: "g", retry: { attempts: 1 } })
    .on(Job, (event) => {
      if (event.data.n === 3) throw new Error("no");
    });
  await worker.start();
  try {
    await bus.publish(Job, { n: 1 });
    await bus.publish(Job, { n: 2 }, { key: "k" });
    await bus.publish(Job, { n: 3 });
    await until(() => written.length === 3);
    const ack = written.find((s) => s.outcome === "ack" && s.delivery.envelope === undefined);
    assert(ack, "an unkeyed ack names its delivery only");
    assertEquals(Object.keys(ack.delivery).sort(), ["attempt", "ref", "stream"]);
    assertEquals(ack.delivery.stream, "jobs");
    const keyed = written.find((s) => s.outcome === "ack" && s.delivery.envelope !== undefined);
    assertEquals(keyed?.delivery.envelope?.key, "k");
    const dead = written.find((s) => s.outcome === "dead");
    assertEquals((dead?.delivery.envelope?.data as { n: number }).n, 3);
    assertEquals(worker.stats.acked, 2);
    assertEquals((await backend.deadLetters("g")).length, 1);
  } finally {
    await worker.stop();
    await bus.close();
  }
});
