/**
 * A process that commits `bus.atomic(db)` operations on a shared Deno KV file, as a replica of a
 * service does, and prints how many commits threw. Args: the file, how many commits.
 *
 * @module
 */
import { z } from "zod";
import { createBus, createMemoryBackend, defineEvent } from "@herald/herald";

const Noted = defineEvent({
  stream: "notes",
  type: "note.made",
  schema: z.object({ n: z.number() }),
});
const [path, count] = Deno.args;
const db = await Deno.openKv(path);
const bus = createBus({ backend: createMemoryBackend(), source: "committer" });
const me = crypto.randomUUID().slice(0, 8);
let ok = 0, threw = 0;
const errors: string[] = [];
await Promise.all(Array.from({ length: 4 }, async (_, lane) => {
  for (let n = lane; n < Number(count); n += 4) {
    try {
      const key = ["notes", me, n];
      const result = await bus.atomic(db)
        .check({ key, versionstamp: null })
        .set(key, n)
        .publish(Noted, { n })
        .commit();
      if (result.ok) ok++;
    } catch (err) {
      threw++;
      if (errors.length < 3) errors.push(String(err));
    }
  }
}));
console.log(JSON.stringify({ ok, threw, errors }));
db.close();
await bus.close();
