/**
 * Bench rows of delayed events (issue 19): 1,000 events due at the same moment, the time from
 * their due time to their handler's start (p50, p99, max), on Deno KV (file) and Redis (TCP).
 * Beside each: the raw limit, the same 1,000 published at once without a delay (from the publish
 * to the handler's start), and the case where the publishing process exits before the due time
 * (the consumer's process promotes them by its backstop poll).
 *
 * The publisher is this process; the consumer (a worker, default options, a handler that only
 * notes the time) runs in its own process.
 *
 * Usage: deno run -A bench/delay.ts [--backend kv|redis|both] [--n 1000] [--redis URL]
 *
 * @module
 */
import { z } from "zod";
import { createBus, createKvBackend, createWorker, defineEvent } from "../mod.ts";
import type { Backend } from "../src/backend_mod.ts";
import { createRedisBackend } from "../src/redis/mod.ts";
import { dropPrefix } from "../tests/redis/_redis.ts";
import { percentiles } from "./_stats.ts";

const Tick = defineEvent({
  stream: "delay-bench",
  type: "tick",
  schema: z.object({ i: z.number(), t: z.number() }),
});

const now = () => performance.timeOrigin + performance.now();

function flag(name: string, fallback: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Deno.args[i + 1] : fallback;
}

function open(where: string): Backend {
  return where.startsWith("redis")
    ? createRedisBackend({ url: where.split("|")[0], prefix: where.split("|")[1] })
    : createKvBackend({ path: where });
}

/** The consumer process: handles `n` events, then prints each one's delay from its `t`. */
async function consume(where: string, group: string, n: number): Promise<void> {
  const bus = createBus({ backend: open(where), source: "bench" });
  const lags: number[] = [];
  let done!: () => void;
  const all = new Promise<void>((r) => done = r);
  const worker = createWorker({ bus, group, start: "latest" }).on(Tick, (e) => {
    lags.push(now() - e.data.t);
    if (lags.length === n) done();
  });
  await worker.start();
  console.log("ready");
  await all;
  console.log(JSON.stringify(lags));
  await worker.stop();
  await bus.close();
}

type Mode = "delayed" | "undelayed" | "publisher exits";

/** Runs one row: a consumer process, and this process publishing `n` events. */
async function row(where: string, mode: Mode, n: number): Promise<number[]> {
  const group = `g${crypto.randomUUID().slice(0, 6)}`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", import.meta.filename!, "--consume", where, group, String(n)],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  const nextLine = async () => {
    while (!buffer.includes("\n")) {
      const { value, done } = await lines.read();
      if (done) throw new Error("The consumer stopped");
      buffer += value;
    }
    const at = buffer.indexOf("\n");
    const line = buffer.slice(0, at);
    buffer = buffer.slice(at + 1);
    return line;
  };
  if ((await nextLine()) !== "ready") throw new Error("The consumer did not start");
  const bus = createBus({ backend: open(where), source: "bench" });
  // Every row's consumer has been idle for a while when the events come.
  const due = Date.now() + 2_000;
  if (mode === "undelayed") await new Promise((r) => setTimeout(r, due - Date.now()));
  const t = mode === "undelayed" ? now() : due;
  for (let i = 0; i < n; i += 100) {
    const options = mode === "undelayed" ? undefined : { at: new Date(t) };
    await bus.publishMany(
      Array.from({ length: Math.min(100, n - i) }, (_, j) => ({
        contract: Tick,
        data: { i: i + j, t },
        options,
      })),
    );
  }
  if (mode === "publisher exits") await bus.close();
  const lags = JSON.parse(await nextLine()) as number[];
  if (mode !== "publisher exits") await bus.close();
  lines.releaseLock();
  await child.status;
  return lags;
}

async function main(): Promise<void> {
  if (Deno.args[0] === "--consume") {
    return await consume(Deno.args[1], Deno.args[2], Number(Deno.args[3]));
  }
  const which = flag("backend", "both");
  const n = Number(flag("n", "1000"));
  const places: [string, string, () => Promise<void>][] = [];
  if (which !== "redis") {
    const dir = await Deno.makeTempDir({ prefix: "herald-delay-bench-" });
    places.push(["kv (file)", `${dir}/bus.db`, () => Deno.remove(dir, { recursive: true })]);
  }
  if (which !== "kv") {
    const url = flag("redis", "redis://127.0.0.1:6379");
    const prefix = `herald-bench-delay-${crypto.randomUUID().slice(0, 8)}:`;
    places.push(["redis (tcp)", `${url}|${prefix}`, () => dropPrefix(prefix, url)]);
  }
  console.log(`${n} events due at one moment; ms from due time (or publish) to handler start`);
  console.log("backend      | row                                   |   p50 |   p99 |   max");
  for (const [name, where, cleanup] of places) {
    try {
      for (
        const [mode, label] of [
          ["undelayed", "raw limit: published at due time"],
          ["delayed", "delayed, publisher alive"],
          ["publisher exits", "delayed, publisher exited"],
        ] as [Mode, string][]
      ) {
        const p = percentiles(Float64Array.from(await row(where, mode, n)));
        const f = (v: number) => v.toFixed(1).padStart(5);
        console.log(
          `${name.padEnd(12)} | ${label.padEnd(37)} | ${f(p.p50)} | ${f(p.p99)} | ${f(p.max)}`,
        );
      }
    } finally {
      await cleanup();
    }
  }
}

await main();
