/**
 * The rolling-upgrade test's processes, over one Deno KV file: a producer on version 1 or 2 of
 * `user.renamed`, and a consumer on version 2 (which upcasts version-1 events).
 *
 * Usage:
 *   deno run -A _evolve.ts produce <path> <version> <count> <tag>
 *   deno run -A _evolve.ts consume <path> <count>   (prints a JSON line per event, exits after)
 *
 * @module
 */
import { z } from "zod";
import { createBus } from "../../src/bus.ts";
import { defineEvent } from "../../src/contract.ts";
import { createKvBackend } from "../../src/kv/mod.ts";
import { createWorker } from "../../src/worker.ts";

/** What an old deploy publishes: one `name`. */
export const RenamedV1 = defineEvent({
  stream: "evolve",
  type: "user.renamed",
  schema: z.object({ id: z.string(), name: z.string().min(1) }),
});

/** What the new deploy publishes and reads: `first` and `last`; version-1 events are upcast. */
export const RenamedV2 = defineEvent({
  stream: "evolve",
  type: "user.renamed",
  version: 2,
  schema: z.object({ id: z.string(), first: z.string().min(1), last: z.string() }),
  upcast: {
    1: (old: { id: string; name: string }) => {
      const [first, ...rest] = old.name.split(" ");
      return { id: old.id, first, last: rest.join(" ") };
    },
  },
});

if (import.meta.main) {
  const [role, path, ...rest] = Deno.args;
  const bus = createBus({ backend: createKvBackend({ path }), source: `evolve-${role}` });
  if (role === "produce") {
    const [version, count, tag] = rest;
    for (let i = 0; i < Number(count); i++) {
      const id = `${tag}-${i}`;
      if (version === "1") await bus.publish(RenamedV1, { id, name: `Ada ${i} Lovelace` });
      else await bus.publish(RenamedV2, { id, first: "Ada", last: `${i} Lovelace` });
      // Spread over time, so the consumer handles both versions while both producers run.
      if (i % 10 === 9) await new Promise((r) => setTimeout(r, 5));
    }
  } else {
    const count = Number(rest[0]);
    let handled = 0;
    const done = Promise.withResolvers<void>();
    const worker = createWorker({ bus, group: "evolve", idleWaitMs: 100 }).on(RenamedV2, (e) => {
      console.log(JSON.stringify({ ...e.data, dataversion: e.dataversion ?? 1 }));
      if (++handled === count) done.resolve();
    });
    await worker.start();
    console.log(JSON.stringify({ ready: true }));
    await done.promise;
    await worker.stop();
  }
  await bus.close();
}
