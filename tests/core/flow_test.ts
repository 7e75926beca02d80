import { assert, assertEquals, assertInstanceOf, assertThrows } from "@std/assert";
import { z } from "zod";
import {
  createBus,
  createMemoryBackend,
  createWorker,
  defineEvent,
  HandlerTimeoutError,
  InvalidOptionsError,
} from "@herald/herald";
import type { Backend } from "@herald/herald/backend";
import { until } from "../_until.ts";

const Job = defineEvent({
  stream: "flow-jobs",
  type: "job.queued",
  schema: z.object({ n: z.number() }),
});
const Mail = defineEvent({
  stream: "flow-jobs",
  type: "mail.queued",
  schema: z.object({ n: z.number() }),
});

Deno.test("timeoutMs aborts ctx.signal with HandlerTimeoutError and retries the delivery", async () => {
  const bus = createBus({ backend: createMemoryBackend(), source: "test" });
  const reasons: unknown[] = [];
  const attempts: number[] = [];
  const w = createWorker({ bus, group: "g", idleWaitMs: 20 }).on(Job, async (_e, ctx) => {
    attempts.push(ctx.attempt);
    if (ctx.attempt === 1) {
      // Never ends by itself: only the time limit ends it.
      await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve));
      reasons.push(ctx.signal.reason);
    }
  }, { timeoutMs: 50, retry: { baseMs: 10, jitter: 0 } });
  await w.start();
  await bus.publish(Job, { n: 1 });
  await until(() => w.stats.acked === 1, 5_000);
  await w.stop();
  await bus.close();
  assertEquals(attempts, [1, 2]);
  assertEquals(w.stats.retried, 1);
  assertInstanceOf(reasons[0], HandlerTimeoutError);
});

Deno.test("timeoutMs dead-letters after the last attempt", async () => {
  const backend = createMemoryBackend();
  const bus = createBus({ backend, source: "test" });
  const w = createWorker({ bus, group: "g", idleWaitMs: 20 }).on(
    Job,
    () => new Promise(() => {}),
    { timeoutMs: 20, retry: { attempts: 2, baseMs: 5, jitter: 0 } },
  );
  await w.start();
  await bus.publish(Job, { n: 1 });
  await until(() => w.stats.dead === 1, 5_000);
  await w.stop();
  const [letter] = await backend.deadLetters("g");
  assertEquals(letter.error.name, "HandlerTimeoutError");
  assertEquals(letter.attempts, 2);
  await bus.close();
});

Deno.test("maxInFlight caps the deliveries a worker holds and runs, over every handler", async () => {
  const bus = createBus({ backend: createMemoryBackend(), source: "test" });
  let running = 0, most = 0, done = 0;
  const slow = async () => {
    running++;
    most = Math.max(most, running);
    await new Promise((r) => setTimeout(r, 5));
    running--;
    done++;
  };
  const claims: number[] = [];
  const claim = bus.backend.claim.bind(bus.backend);
  bus.backend.claim = (group, streams, options) => {
    claims.push(options.max);
    return claim(group, streams, options);
  };
  const w = createWorker({ bus, group: "g", maxInFlight: 3, idleWaitMs: 20 })
    .on(Job, slow, { concurrency: 10 })
    .on(Mail, slow, { concurrency: 10 });
  await bus.publishMany(
    Array.from({ length: 40 }, (_, n) => ({ contract: n % 2 ? Job : Mail, data: { n } })),
  );
  await w.start();
  await until(() => done === 40, 10_000);
  await w.stop();
  await bus.close();
  assertEquals(most, 3);
  // It never claimed more than it may hold.
  assert(Math.max(...claims) <= 3, `claims of ${claims}`);
});

Deno.test("createWorker() and on() report bad flow options, and a rate limit without takeRate()", () => {
  const bare = createMemoryBackend();
  // A backend without the optional capability.
  const backend = new Proxy(bare, {
    get: (t, p) => p === "takeRate" ? undefined : Reflect.get(t, p, t),
  }) as Backend;
  const bus = createBus({ backend, source: "test" });
  assertThrows(() => createWorker({ bus, group: "g", maxInFlight: 0 }), InvalidOptionsError);
  const err = assertThrows(
    () =>
      createWorker({ bus, group: "g" }).on(Job, () => {}, {
        rateLimit: { max: 0, perMs: 1.5 },
        timeoutMs: -1,
      }),
    InvalidOptionsError,
  );
  assertEquals(err.problems.length, 4, err.message);
  assert(err.problems.some((p) => p.includes("takeRate")));
});

Deno.test("rateLimit starts at most max runs per window in one worker", async () => {
  const bus = createBus({ backend: createMemoryBackend(), source: "test" });
  const starts: number[] = [];
  const perMs = 100, max = 5;
  const w = createWorker({ bus, group: "g", idleWaitMs: 20 }).on(Job, () => {
    starts.push(Date.now());
  }, { rateLimit: { max, perMs }, concurrency: 50 });
  await bus.publishMany(Array.from({ length: 25 }, (_, n) => ({ contract: Job, data: { n } })));
  await w.start();
  await until(() => w.stats.acked === 25, 10_000);
  await w.stop();
  await bus.close();
  const perWindow = new Map<number, number>();
  for (const t of starts) {
    perWindow.set(Math.floor(t / perMs), (perWindow.get(Math.floor(t / perMs)) ?? 0) + 1);
  }
  // A permit taken at a window's very end may start its handler in the next: hence the one.
  assert(Math.max(...perWindow.values()) <= max + 1, `per window: ${[...perWindow.values()]}`);
  assert(perWindow.size >= 25 / max, `${perWindow.size} windows`);
});
