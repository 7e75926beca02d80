/**
 * A publisher process for the key-order test across processes: publishes `total` events in
 * batches of 20, event `n` with key `k<n % keys>`, every third one of the second type.
 *
 * Usage: deno run -A _key_publisher.ts <db path> <stream> <total> <keys>
 *
 * @module
 */
import { z } from "zod";
import { createBus, createKvBackend, defineEvent } from "../../mod.ts";

const [path, stream, total, keys] = Deno.args;
const schema = z.object({ n: z.number().int() });
const A = defineEvent({ stream, type: "keyed.a", schema });
const B = defineEvent({ stream, type: "keyed.b", schema });
const bus = createBus({ backend: createKvBackend({ path }), source: "publisher" });
for (let from = 0; from < Number(total); from += 20) {
  await bus.publishMany(Array.from({ length: 20 }, (_, i) => {
    const n = from + i;
    return { contract: n % 3 === 2 ? B : A, data: { n }, options: { key: `k${n % Number(keys)}` } };
  }));
}
await bus.close();
