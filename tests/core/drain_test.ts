import { assert, assertEquals, assertRejects } from "@std/assert";
import { z } from "zod";
import { createBus, createMemoryBackend, createWorker, defineEvent } from "@herald/herald";

const Job = defineEvent({
  stream: "drain-jobs",
  type: "job.queued",
  schema: z.object({ n: z.number(), ms: z.number() }),
});

Deno.test("worker.drain() on a worker that is not running starts it, handles and acks the backlog, and stops it", async () => {
  const backend = createMemoryBackend();
  const bus = createBus({ backend, source: "test" });
  const seen: number[] = [];
  const w = createWorker({ bus, group: "g", idleWaitMs: 20 }).on(Job, (e) => {
    seen.push(e.data.n);
  });
  // Subscribed once before (as a deployed worker would have been), then idle.
  await backend.subscribe("g", [Job.stream], "earliest");
  await bus.publishMany(
    Array.from({ length: 20 }, (_, n) => ({ contract: Job, data: { n, ms: 0 } })),
  );
  const result = await w.drain({ budgetMs: 5_000 });
  assertEquals(result.empty, true);
  assertEquals(result.backlog, 0);
  assertEquals(seen.length, 20);
  const [info] = await backend.groups(Job.stream);
  assertEquals([info.lag, info.pending], [0, 0]);
  // It stopped: a stopped worker cannot drain again.
  await assertRejects(() => w.drain(), TypeError);
  await bus.close();
});

Deno.test("worker.drain() ends at its budget and says what is left", async () => {
  const bus = createBus({ backend: createMemoryBackend(), source: "test" });
  const w = createWorker({ bus, group: "g", idleWaitMs: 20 }).on(Job, async (e) => {
    await new Promise((r) => setTimeout(r, e.data.ms));
  }, { concurrency: 1 });
  await w.start();
  await bus.publishMany(
    Array.from({ length: 10 }, (_, n) => ({ contract: Job, data: { n, ms: 50 } })),
  );
  const result = await w.drain({ budgetMs: 100 });
  assertEquals(result.empty, false);
  assert(result.backlog > 0 && result.backlog <= 10, `backlog ${result.backlog}`);
  await w.stop();
  await bus.close();
});
