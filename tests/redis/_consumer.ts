/**
 * A consumer process for the process tests: one worker of `group` on `stream`, recording each
 * handling in Redis lists (`<prefix>started`, `<prefix>done`) as `id consumer attempt`.
 *
 * Usage: deno run -A _consumer.ts <redis url> <prefix> <stream> <group> <consumer> <lease ms>
 * <handle ms | "hang">. Prints READY once started; stops gracefully on SIGTERM.
 *
 * @module
 */
import { z } from "zod";
import { createBus, createWorker, defineEvent } from "@herald/herald";
import { createRedisBackend } from "@herald/herald/redis";
import { tcpClient } from "../../src/redis/tcp.ts";

const [url, prefix, stream, group, consumer, leaseMs, handle] = Deno.args;
const Thing = defineEvent({ stream, type: "thing.happened", schema: z.object({ n: z.number() }) });
const bus = createBus({ backend: createRedisBackend({ url, prefix }), source: "consumer" });
const log = tcpClient(url);
const worker = createWorker({ bus, group, consumer, leaseMs: Number(leaseMs), idleWaitMs: 200 })
  .on(Thing, async (event, ctx) => {
    const line = `${event.id} ${consumer} ${ctx.attempt}`;
    await log.command(["RPUSH", `${prefix}started`, line]);
    if (handle === "hang") await new Promise(() => {});
    await new Promise((r) => setTimeout(r, Number(handle)));
    await log.command(["RPUSH", `${prefix}done`, line]);
  }, { concurrency: 4 });
await worker.start();
console.log("READY");
Deno.addSignalListener("SIGTERM", async () => {
  await worker.stop({ graceMs: 2_000 });
  await bus.close();
  await log.close();
  Deno.exit(0);
});
