/**
 * A worker process for the rate-limit test: one handler with `rateLimit`, printing a JSON line
 * with the time each run starts. Stops on SIGTERM.
 *
 * Usage: deno run -A _rate_consumer.ts <kv path | redis url> <group> <stream> <max> <perMs> [prefix]
 *
 * @module
 */
import { z } from "zod";
import { createBus, createKvBackend, createWorker, defineEvent } from "../../mod.ts";
import type { Backend } from "../../src/backend_mod.ts";
import { createRedisBackend } from "../../src/redis/mod.ts";

const [where, group, stream, max, perMs, prefix] = Deno.args;
const backend: Backend = where.startsWith("redis:")
  ? createRedisBackend({ url: where, prefix })
  : createKvBackend({ path: where });
const Tick = defineEvent({ stream, type: "tick", schema: z.object({ i: z.number() }) });
const bus = createBus({ backend, source: "rate" });
const worker = createWorker({ bus, group, idleWaitMs: 200, batch: 20, prefetch: 0 }).on(
  Tick,
  (event) => {
    console.log(JSON.stringify({ i: event.data.i, at: Date.now() }));
  },
  { rateLimit: { max: Number(max), perMs: Number(perMs) }, concurrency: 20 },
);
await worker.start();
console.log(JSON.stringify({ ready: true }));
Deno.addSignalListener("SIGTERM", async () => {
  await worker.stop({ graceMs: 1_000 });
  await bus.close();
  Deno.exit(0);
});
