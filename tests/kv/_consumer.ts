/**
 * A consumer process for the multi-process tests: claims from one group through the Backend
 * directly, prints a JSON line when it starts and finishes each event, and acks it. Stops on
 * SIGTERM.
 *
 * Usage: deno run -A _consumer.ts <path> <group> <stream> <consumer> <leaseMs> <handlerMs>
 *
 * @module
 */
import { createKvBackend } from "../../src/kv/mod.ts";

const [path, group, stream, consumer, leaseMs, handlerMs] = Deno.args;
const backend = createKvBackend({ path });
const stop = new AbortController();
Deno.addSignalListener("SIGTERM", () => stop.abort());
const say = (o: Record<string, unknown>) => console.log(JSON.stringify({ ...o, consumer, group }));

await backend.subscribe(group, [stream], "earliest");
say({ kind: "ready" });
while (!stop.signal.aborted) {
  const deliveries = await backend.claim(group, [stream], {
    consumer,
    max: 10,
    leaseMs: Number(leaseMs),
    waitMs: 1_000,
    signal: stop.signal,
  });
  for (const d of deliveries) {
    const i = (d.envelope!.data as { i: number }).i;
    say({ kind: "start", i, attempt: d.attempt, at: performance.timeOrigin + performance.now() });
    await new Promise((r) => setTimeout(r, Number(handlerMs) * Math.random()));
    say({ kind: "done", i, attempt: d.attempt, at: performance.timeOrigin + performance.now() });
    await backend.settle(group, [{ delivery: d, outcome: "ack" }]);
  }
}
await backend.close();
Deno.exit(0);
