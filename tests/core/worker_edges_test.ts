/**
 * A worker's edge cases: stopping while it starts, a backend that keeps failing its settles, a
 * failed start, and leases reported lost. Each runs the real memory backend; where a case needs
 * the backend to be slow or to fail, one method is wrapped (the rest is the backend itself).
 *
 * @module
 */
import { assert, assertEquals, assertInstanceOf, assertRejects } from "@std/assert";
import { z } from "zod";
import {
  createBus,
  createMemoryBackend,
  createWorker,
  defineEvent,
  LeaseLostError,
} from "@herald/herald";
import type { Backend } from "@herald/herald/backend";
import { until } from "../_until.ts";

const Job = defineEvent({
  stream: "jobs",
  type: "job.queued",
  schema: z.object({ n: z.number() }),
});

/** The backend with some of its methods replaced; every other call goes to it. */
function wrap(backend: Backend, overrides: Partial<Backend>): Backend {
  return new Proxy(backend, {
    get(target, prop) {
      const own = (overrides as Record<PropertyKey, unknown>)[prop];
      if (own !== undefined) return own;
      const value = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** Resolves with `promise`, or rejects once `ms` passed (a hang becomes a failure). */
async function settlesWithin<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not return within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, hang]);
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("worker.stop() while start() subscribes leaves no lease timer behind", async () => {
  const backend = createMemoryBackend();
  const subscribing = Promise.withResolvers<void>();
  const release = Promise.withResolvers<void>();
  const bus = createBus({
    backend: wrap(backend, {
      subscribe: async (...args) => {
        subscribing.resolve();
        await release.promise;
        return backend.subscribe(...args);
      },
    }),
    source: "test",
  });
  const w = createWorker({ bus, group: "g", idleWaitMs: 20 }).on(Job, () => {});
  const started = w.start();
  await subscribing.promise;
  const stopped = w.stop();
  release.resolve();
  await started;
  await stopped;
  // The test's op sanitizer fails it if the lease-extension interval was left running.
  await bus.close();
});

Deno.test("worker.stop({ graceMs }) returns while settle keeps failing; the lease lapses", async () => {
  const backend = createMemoryBackend();
  let failing = true;
  const bus = createBus({
    backend: wrap(backend, {
      settle: (group, settlements) =>
        failing ? Promise.reject(new Error("settle is down")) : backend.settle(group, settlements),
    }),
    source: "test",
  });
  let handled = 0;
  const w = createWorker({ bus, group: "g", leaseMs: 200, idleWaitMs: 20 })
    .on(Job, () => void handled++);
  await w.start();
  await bus.publish(Job, { n: 1 });
  await until(() => handled === 1);
  // Generous: stop's own bound is the grace period plus one second.
  await settlesWithin(w.stop({ graceMs: 100 }), 5_000, "stop()");
  failing = false;
  // The outcome was never written: the event comes back once its lease lapses.
  const again = createWorker({ bus, group: "g", leaseMs: 200, idleWaitMs: 20 })
    .on(Job, () => void handled++);
  await again.start();
  await until(() => handled === 2);
  await again.stop();
  await bus.close();
});

Deno.test("a worker whose start() failed can start again", async () => {
  const backend = createMemoryBackend();
  let failures = 1;
  const bus = createBus({
    backend: wrap(backend, {
      subscribe: (...args) =>
        failures-- > 0 ? Promise.reject(new Error("not yet")) : backend.subscribe(...args),
    }),
    source: "test",
  });
  let handled = 0;
  const w = createWorker({ bus, group: "g", idleWaitMs: 20 }).on(Job, () => void handled++);
  await assertRejects(() => w.start(), Error, "not yet");
  await w.start();
  await bus.publish(Job, { n: 1 });
  await until(() => handled === 1);
  await w.stop();
  await bus.close();
});

Deno.test("LeaseLostError.eventId is the event's id", async () => {
  const backend = createMemoryBackend();
  const bus = createBus({
    backend: wrap(backend, { extend: (_g, deliveries) => Promise.resolve([...deliveries]) }),
    source: "test",
  });
  let reason: unknown;
  const w = createWorker({ bus, group: "g", leaseMs: 150, idleWaitMs: 20 }).on(
    Job,
    (_e, ctx) =>
      new Promise<void>((resolve) => {
        ctx.signal.addEventListener("abort", () => {
          reason = ctx.signal.reason;
          resolve();
        });
      }),
  );
  await w.start();
  const event = await bus.publish(Job, { n: 1 });
  await until(() => reason !== undefined);
  assertInstanceOf(reason, LeaseLostError);
  assertEquals(reason.eventId, event.id);
  await w.stop({ graceMs: 50 });
  await bus.close();
});

Deno.test("a delivery that starts while its lease is being extended is aborted when lost", async () => {
  const backend = createMemoryBackend();
  const extending = Promise.withResolvers<void>();
  const answer = Promise.withResolvers<void>();
  let second: string | undefined;
  const bus = createBus({
    backend: wrap(backend, {
      extend: async (group, deliveries, leaseMs) => {
        if (second !== undefined || deliveries.length < 2) {
          return backend.extend(group, deliveries, leaseMs);
        }
        // The first extension that sees both: report the waiting one lost, once it has started.
        second = deliveries[1].envelope!.id;
        extending.resolve();
        await answer.promise;
        return deliveries.filter((d) => d.envelope?.id === second);
      },
    }),
    source: "test",
  });
  const first = Promise.withResolvers<void>();
  const secondStarted = Promise.withResolvers<void>();
  let secondAborted: boolean | undefined;
  const w = createWorker({ bus, group: "g", leaseMs: 300, idleWaitMs: 20 }).on(
    Job,
    async (event, ctx) => {
      if (event.data.n === 1) return await first.promise;
      secondStarted.resolve();
      await until(() => secondAborted !== undefined || ctx.signal.aborted, 2_000).catch(() => {});
      secondAborted = ctx.signal.aborted;
    },
    { concurrency: 1 },
  );
  await w.start();
  await bus.publishMany([{ contract: Job, data: { n: 1 } }, { contract: Job, data: { n: 2 } }]);
  await extending.promise; // the snapshot holds event 1 running and event 2 waiting
  first.resolve();
  await secondStarted.promise; // event 2 started while the extension was away
  answer.resolve(); // ... and its lease comes back lost
  await until(() => secondAborted !== undefined);
  assert(secondAborted, "the handler of the lost delivery saw its signal aborted");
  await w.stop({ graceMs: 50 });
  await bus.close();
});

Deno.test("a worker's default claim wait is no longer than its lease", async () => {
  // A backend that asks for long waits (as Deno KV and Redis over TCP do): a claim blocked that
  // long would not hear of another instance's short lease lapsing until it ended.
  const backend = createMemoryBackend();
  const waits: (number | undefined)[] = [];
  const bus = createBus({
    backend: wrap(backend, {
      features: { ...backend.features, claimWaitMs: 30_000 },
      claim: (group, streams, options) => {
        waits.push(options.waitMs);
        return backend.claim(group, streams, options);
      },
    }),
    source: "test",
  });
  const short = createWorker({ bus, group: "short", leaseMs: 500 }).on(Job, () => {});
  const long = createWorker({ bus, group: "long" }).on(Job, () => {});
  await short.start();
  await until(() => waits.length > 0);
  await short.stop();
  assertEquals(waits.every((w) => w === 500), true, `waits: ${waits}`);
  waits.length = 0;
  await long.start();
  await until(() => waits.length > 0);
  await long.stop();
  assertEquals(waits.every((w) => w === 30_000), true, `waits: ${waits}`);
  await bus.close();
});
