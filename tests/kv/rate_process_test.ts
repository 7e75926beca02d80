/**
 * A handler's rateLimit holds across two worker processes sharing one Deno KV file (and one
 * Redis): the count lives in the backend.
 */
import { assert } from "@std/assert";
import { z } from "zod";
import { createBus, createKvBackend, defineEvent } from "@herald/herald";
import type { Backend } from "@herald/herald/backend";
import { createRedisBackend } from "@herald/herald/redis";
import { until } from "../_until.ts";
import { REDIS_URL, SKIP as REDIS_SKIP } from "../redis/_redis.ts";

const SCRIPT = new URL("./_rate_consumer.ts", import.meta.url).pathname;
const MAX = 20, PER_MS = 250, EVENTS = 300;

interface Start {
  i: number;
  at: number;
}

function spawn(args: string[], starts: Start[], ready: { n: number }) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", SCRIPT, ...args],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reading = (async () => {
    let rest = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      const lines = (rest + chunk).split("\n");
      rest = lines.pop()!;
      for (const l of lines.filter((l) => l.startsWith("{"))) {
        const o = JSON.parse(l);
        if (o.ready) ready.n++;
        else starts.push(o);
      }
    }
  })();
  return async () => {
    child.kill("SIGTERM");
    await child.status;
    await reading;
  };
}

async function run(label: string, backend: Backend, args: string[]): Promise<void> {
  const stream = `rate-${crypto.randomUUID().slice(0, 8)}`;
  const Tick = defineEvent({ stream, type: "tick", schema: z.object({ i: z.number() }) });
  const a: Start[] = [], b: Start[] = [];
  const ready = { n: 0 };
  const stops = [
    spawn(
      [...args.slice(0, 1), "g", stream, String(MAX), String(PER_MS), ...args.slice(1)],
      a,
      ready,
    ),
    spawn(
      [...args.slice(0, 1), "g", stream, String(MAX), String(PER_MS), ...args.slice(1)],
      b,
      ready,
    ),
  ];
  const bus = createBus({ backend, source: "rate" });
  try {
    await until(() => ready.n === 2, 30_000);
    await bus.publishMany(
      Array.from({ length: EVENTS }, (_, i) => ({ contract: Tick, data: { i } })),
    );
    await until(() => new Set([...a, ...b].map((s) => s.i)).size === EVENTS, 60_000, 50);
  } finally {
    for (const stop of stops) await stop();
    await bus.close();
  }
  const all = [...a, ...b].sort((x, y) => x.at - y.at);
  const perWindow = new Map<number, number>();
  for (const s of all) {
    const w = Math.floor(s.at / PER_MS);
    perWindow.set(w, (perWindow.get(w) ?? 0) + 1);
  }
  const counts = [...perWindow.entries()].sort((x, y) => x[0] - y[0]).map(([, n]) => n);
  const full = counts.slice(1, -1); // the first and last windows are partly used
  const rate = full.reduce((s, n) => s + n, 0) / (full.length * PER_MS / 1000);
  const limit = MAX / (PER_MS / 1000);
  console.log(
    `${label}: ${EVENTS} events over two processes (${a.length} + ${b.length}); ` +
      `${rate.toFixed(1)}/s in full windows against a limit of ${limit}/s ` +
      `(${(100 * rate / limit).toFixed(1)}%); per window: ${counts.join(" ")}`,
  );
  assert(a.length > 0 && b.length > 0, "both processes handled events");
  // Each process may take one permit at a window's very end and start its handler in the next
  // (it asks for one permit at a time): hence one more per process.
  assert(Math.max(...counts) <= MAX + 2, `per window: ${counts}`);
  assert(counts.length >= EVENTS / MAX, `${counts.length} windows for ${EVENTS} events`);
}

Deno.test("rateLimit holds across two worker processes on one Deno KV file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "herald-rate-" });
  const path = `${dir}/bus.db`;
  try {
    await run("kv", createKvBackend({ path }), [path]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "rateLimit holds across two worker processes on one Redis",
  ignore: Boolean(REDIS_SKIP),
  async fn() {
    const prefix = `herald-test-rate-${crypto.randomUUID().slice(0, 8)}:`;
    const backend = createRedisBackend({ url: REDIS_URL, prefix });
    await run("redis", backend, [REDIS_URL, prefix]);
    const raw = createRedisBackend({ url: REDIS_URL, prefix });
    await raw.close();
  },
});
