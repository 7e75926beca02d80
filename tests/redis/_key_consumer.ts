/**
 * A consumer process for the key-order process tests: one worker of `group` on `stream` with
 * two handlers (types `a` and `b`), recording each handling's start and end in the Redis list
 * `<prefix>log` as `<key> <n> <start|end> <consumer> <attempt>`. Every seventh event fails its
 * first attempt, so retries hold their key too.
 *
 * Usage: deno run -A _key_consumer.ts <redis url> <REST token or "-"> <log redis url> <prefix>
 * <stream> <group> <consumer>. Prints READY once started; stops gracefully on SIGTERM.
 *
 * @module
 */
import { z } from "zod";
import { createBus, createWorker, defineEvent } from "@herald/herald";
import { createRedisBackend } from "@herald/herald/redis";
import { tcpClient } from "../../src/redis/tcp.ts";

const [url, token, logUrl, prefix, stream, group, consumer] = Deno.args;
const schema = z.object({ n: z.number() });
const A = defineEvent({ stream, type: "thing.a", schema });
const B = defineEvent({ stream, type: "thing.b", schema });
const backend = createRedisBackend(token === "-" ? { url, prefix } : { url, token, prefix });
const bus = createBus({ backend, source: "consumer" });
const log = tcpClient(logUrl);
const handle = async (event: { key?: string; data: { n: number } }, ctx: { attempt: number }) => {
  const tail = `${consumer} ${ctx.attempt}`;
  await log.command(["RPUSH", `${prefix}log`, `${event.key} ${event.data.n} start ${tail}`]);
  await new Promise((r) => setTimeout(r, Math.random() * 3));
  const fail = event.data.n % 7 === 3 && ctx.attempt === 1;
  await log.command(["RPUSH", `${prefix}log`, `${event.key} ${event.data.n} end ${tail}`]);
  if (fail) throw new Error("first attempt fails");
};
const retry = { attempts: 3, baseMs: 20, maxMs: 40 };
const worker = createWorker({ bus, group, consumer, idleWaitMs: 100 })
  .on(A, handle, { concurrency: 8, retry })
  .on(B, handle, { concurrency: 8, retry });
await worker.start();
console.log("READY");
Deno.addSignalListener("SIGTERM", async () => {
  await worker.stop({ graceMs: 2_000 });
  await bus.close();
  await log.close();
  Deno.exit(0);
});
