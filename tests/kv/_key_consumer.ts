/**
 * A worker process for the key-order test across processes: a Herald worker with two handlers
 * of two slots each and no claiming ahead on a Deno KV file, so one process cannot hold every key
 * and the others of its group take part. Each handler marks its event's key busy by creating a
 * file that must not exist yet (an overlap of one key is recorded when it does), appends the
 * event's number to the key's log, and removes the mark when it ends. Stops on SIGTERM.
 *
 * Usage: deno run -A _key_consumer.ts <db path> <group> <stream> <log dir> <name>
 *
 * @module
 */
import { z } from "zod";
import { createBus, createKvBackend, createWorker, defineEvent } from "../../mod.ts";

const [path, group, stream, dir, name] = Deno.args;
const schema = z.object({ n: z.number().int() });
const A = defineEvent({ stream, type: "keyed.a", schema });
const B = defineEvent({ stream, type: "keyed.b", schema });
const bus = createBus({ backend: createKvBackend({ path }), source: name });

async function handle(event: { key?: string; data: { n: number } }): Promise<void> {
  const key = event.key!;
  const busy = `${dir}/${key}.busy`;
  try {
    await Deno.writeTextFile(busy, name, { createNew: true });
  } catch {
    await Deno.writeTextFile(`${dir}/overlaps`, `${key} ${event.data.n}\n`, { append: true });
  }
  await Deno.writeTextFile(`${dir}/${key}.log`, `${event.data.n} ${name}\n`, { append: true });
  await new Promise((r) => setTimeout(r, 2 + Math.random() * 3));
  await Deno.remove(busy);
}

const worker = createWorker({
  bus,
  group,
  consumer: name,
  idleWaitMs: 200,
  leaseMs: 10_000,
  prefetch: 0,
})
  .on(A, handle, { concurrency: 2 })
  .on(B, handle, { concurrency: 2 });
await worker.start();
console.log("ready");
Deno.addSignalListener("SIGTERM", async () => {
  await worker.stop();
  await bus.close();
  Deno.exit(0);
});
