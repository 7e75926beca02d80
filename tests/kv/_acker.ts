/**
 * A worker process for the kill -9 replay test: a Herald worker on a Deno KV file whose handler
 * prints a JSON line when it starts and when it is done with each event.
 *
 * Usage: deno run -A _acker.ts <path> <group> <consumer>
 *
 * @module
 */
import { z } from "zod";
import { createBus, createWorker, defineEvent } from "../../mod.ts";
import { createKvBackend } from "../../src/kv/mod.ts";

const Tick = defineEvent({ stream: "ticks", type: "tick", schema: z.object({ i: z.number() }) });
const [path, group, consumer] = Deno.args;
const bus = createBus({ backend: createKvBackend({ path }), source: "acker" });
const say = (o: Record<string, unknown>) => console.log(JSON.stringify({ ...o, consumer }));
const worker = createWorker({ bus, group, consumer, leaseMs: 2_000 }).on(Tick, async (event) => {
  say({ kind: "start", i: event.data.i, at: Date.now() });
  await new Promise((r) => setTimeout(r, 1));
  say({ kind: "done", i: event.data.i, at: Date.now() });
}, { concurrency: 4 });
await worker.start();
say({ kind: "ready" });
Deno.addSignalListener("SIGTERM", async () => {
  await worker.stop();
  await bus.close();
  Deno.exit(0);
});
