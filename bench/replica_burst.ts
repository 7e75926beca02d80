/**
 * How long a replica (Posts' and Chat's copy of users) takes to apply a burst of 50
 * `user.registered` events, in-process over the memory bus and a Deno KV file: the part of the
 * registration path that a burst queues on. Eight rounds, printed sorted. Nothing is asserted.
 *
 *   deno run -A bench/replica_burst.ts
 *
 * @module
 */
import { createBus, createEnvelope, createMemoryBackend, createWorker } from "@herald/herald";
import { replicate } from "../services/shared/replica.ts";

const N = 50;
const ROUNDS = 8;

async function round(): Promise<number> {
  const dir = await Deno.makeTempDir({ prefix: "herald-bench-replica-" });
  const db = await Deno.openKv(`${dir}/replica.sqlite`);
  const backend = createMemoryBackend();
  const bus = createBus({ backend, source: "bench" });
  const worker = replicate(createWorker({ bus, group: "replica", idleWaitMs: 5 }), db);
  await worker.start();
  const ids = Array.from({ length: N }, () => crypto.randomUUID());
  const events = ids.map((id) =>
    createEnvelope(
      "auth",
      "user.registered",
      {
        id,
        email: `${id.slice(0, 8)}@example.com`,
        name: "Bench",
      },
      "auth",
      { key: id },
    )
  );
  const t0 = performance.now();
  await backend.append(events);
  let applied = 0;
  while (applied < N) {
    await new Promise((r) => setTimeout(r, 1));
    applied = 0;
    for await (const _ of db.list({ prefix: ["users"] })) applied++;
  }
  const ms = performance.now() - t0;
  await worker.stop();
  db.close();
  await bus.close();
  await Deno.remove(dir, { recursive: true });
  return ms;
}

const times: number[] = [];
for (let i = 0; i < ROUNDS; i++) times.push(await round());
times.sort((a, b) => a - b);
console.log(
  `replica: ${N} user.registered applied in ${times.map((t) => t.toFixed(1)).join(" ")} ms ` +
    `(${ROUNDS} rounds, sorted; median ${times[ROUNDS / 2].toFixed(1)} ms)`,
);
