/**
 * Role of `fanout.ts`: one process hosting one worker per group given, each on its own stream,
 * counting what they handle. Prints "ready" once started and the count on each line read from
 * stdin; stops when stdin closes.
 *
 * @module
 */
import { createBus, createWorker, type EventWorker } from "@herald/herald";
import { type BackendSpec, makeBackend } from "./_herald.ts";
import { tickOn } from "./_scale.ts";

const p = JSON.parse(Deno.args[0]) as {
  backend: BackendSpec;
  /** [group, stream] pairs. */
  groups: [string, string][];
  /** The workers' claim size; the backend's default when missing. */
  batch?: number;
};
const backend = await makeBackend(p.backend);
const bus = createBus({ backend, source: "bench" });
let handled = 0;
const workers: EventWorker[] = p.groups.map(([group, stream]) =>
  createWorker({ bus, group, start: "earliest", ...(p.batch ? { batch: p.batch } : {}) })
    .on(tickOn(stream), () => void handled++, { concurrency: 100 })
);
for (const w of workers) await w.start();
const out = Deno.stdout.writable.getWriter();
const say = (s: string) => out.write(new TextEncoder().encode(s + "\n"));
await say("ready");
for await (const _ of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
  await say(String(handled));
}
for (const w of workers) await w.stop();
await bus.close();
