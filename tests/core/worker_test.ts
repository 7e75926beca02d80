import { assert, assertEquals, assertInstanceOf, assertThrows } from "@std/assert";
import { z } from "zod";
import {
  createBus,
  createMemoryBackend,
  createWorker,
  defineEvent,
  DoNotRetryError,
  type Envelope,
  InvalidOptionsError,
  LeaseLostError,
  RetryLaterError,
} from "@herald/herald";
import { handle } from "@herald/herald/testing";
import { until } from "../_until.ts";

const Job = defineEvent({
  stream: "jobs",
  type: "job.queued",
  schema: z.object({ n: z.number() }),
});
const JobDone = defineEvent({
  stream: "jobs",
  type: "job.done",
  schema: z.object({ n: z.number() }),
});
const Other = defineEvent({ stream: "jobs", type: "job.other", schema: z.object({}) });

function fresh() {
  return createBus({ backend: createMemoryBackend(), source: "test" });
}

Deno.test("createWorker() reports every bad option at once", () => {
  const err = assertThrows(
    () => createWorker({ bus: fresh(), group: "", leaseMs: 5, retry: { attempts: 0 } }),
    InvalidOptionsError,
  );
  assertEquals(err.problems.length, 3);
});

Deno.test("worker.on() refuses a second handler for one contract", () => {
  const w = createWorker({ bus: fresh(), group: "g" }).on(Job, () => {});
  assertThrows(() => w.on(Job, () => {}), TypeError, "already has a handler");
});

Deno.test("worker middlewares wrap handlers outermost first", async () => {
  const bus = fresh();
  const order: string[] = [];
  const w = createWorker({ bus, group: "g", idleWaitMs: 20 })
    .use(async (_e, _c, next) => {
      order.push("a>");
      await next();
      order.push("<a");
    })
    .use(async (_e, _c, next) => {
      order.push("b>");
      await next();
      order.push("<b");
    })
    .on(Job, () => void order.push("handler"));
  await w.start();
  await bus.publish(Job, { n: 1 });
  await until(() => order.length === 5);
  await w.stop();
  assertEquals(order, ["a>", "b>", "handler", "<b", "<a"]);
});

Deno.test("worker runs at most `concurrency` handlers of one contract at once", async () => {
  const bus = fresh();
  let running = 0, most = 0, done = 0;
  const w = createWorker({ bus, group: "g", idleWaitMs: 20 }).on(Job, async () => {
    most = Math.max(most, ++running);
    await new Promise((r) => setTimeout(r, 10));
    running--;
    done++;
  }, { concurrency: 3 });
  await w.start();
  await bus.publishMany(Array.from({ length: 20 }, (_, n) => ({ contract: Job, data: { n } })));
  await until(() => done === 20);
  await w.stop();
  assertEquals(most, 3);
});

Deno.test("worker handles events of one key in order, even with concurrency", async () => {
  const bus = fresh();
  const seen: Record<string, number[]> = { a: [], b: [] };
  const w = createWorker({ bus, group: "g", idleWaitMs: 20 }).on(Job, async (e) => {
    await new Promise((r) => setTimeout(r, Math.random() * 5));
    seen[e.key!].push(e.data.n);
  }, { concurrency: 8 });
  await w.start();
  await bus.publishMany(
    Array.from({ length: 20 }, (_, n) => ({
      contract: Job,
      data: { n },
      options: { key: n % 2 ? "a" : "b" },
    })),
  );
  await until(() => seen.a.length + seen.b.length === 20);
  await w.stop();
  assertEquals(seen.a, [1, 3, 5, 7, 9, 11, 13, 15, 17, 19]);
  assertEquals(seen.b, [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]);
});

Deno.test("DoNotRetryError dead-letters at once; RetryLaterError sets the delay", async () => {
  const backend = createMemoryBackend();
  const bus = createBus({ backend, source: "t" });
  const attempts: number[] = [];
  const w = createWorker({ bus, group: "g", idleWaitMs: 20, retry: { baseMs: 60_000 } })
    .on(Job, (e, ctx) => {
      if (e.data.n === 0) throw new DoNotRetryError("hopeless");
      attempts.push(ctx.attempt);
      if (ctx.attempt === 1) throw new RetryLaterError(10, "soon");
    });
  await w.start();
  await bus.publish(Job, { n: 0 });
  await bus.publish(Job, { n: 1 });
  await until(() => attempts.length === 2);
  await until(async () => (await backend.deadLetters("g")).length === 1);
  await w.stop();
  assertEquals(attempts, [1, 2], "retried after 10 ms, not the 60 s backoff");
  const [dead] = await backend.deadLetters("g");
  assertEquals([dead.error.name, dead.attempts], ["DoNotRetryError", 1]);
});

Deno.test("worker acknowledges types of its streams that it has no handler for", async () => {
  const bus = fresh();
  const seen: number[] = [];
  const w = createWorker({ bus, group: "g", idleWaitMs: 20 }).on(
    Job,
    (e) => void seen.push(e.data.n),
  );
  await w.start();
  await bus.publish(Other, {});
  await bus.publish(Job, { n: 7 });
  await until(() => seen.length === 1 && w.stats.acked === 2);
  await w.stop();
  assertEquals(seen, [7]);
});

Deno.test("a long handler keeps its lease: no other instance gets the event", async () => {
  const backend = createMemoryBackend();
  const bus = createBus({ backend, source: "test" });
  // Counts the claims that returned after a's first lease would have lapsed.
  let lapsesAt = Infinity, claimsAfter = 0;
  const claim = backend.claim.bind(backend);
  backend.claim = async (...args) => {
    const got = await claim(...args);
    if (Date.now() > lapsesAt) claimsAfter++;
    return got;
  };
  let release = () => {};
  const released = new Promise<void>((r) => release = r);
  const handledBy: string[] = [];
  const make = (name: string) =>
    createWorker({ bus, group: "g", leaseMs: 150, idleWaitMs: 20 }).on(Job, async () => {
      handledBy.push(name);
      await released;
    });
  const a = make("a");
  await a.start();
  await bus.publish(Job, { n: 1 });
  await until(() => handledBy.length === 1);
  lapsesAt = Date.now() + 150;
  const b = make("b");
  await b.start();
  // b has claimed again and again since then: without its extensions, a's lease had lapsed and
  // one of those claims had handed the event to b.
  await until(() => claimsAfter >= 5);
  release();
  await until(() => a.stats.acked === 1);
  await a.stop();
  await b.stop();
  assertEquals(handledBy, ["a"]);
});

Deno.test("ctx.publish() carries correlation and sets causation", async () => {
  const { event, published, bus } = await handle(
    Job,
    async (e, ctx) => {
      await ctx.publish(JobDone, { n: e.data.n });
    },
    { n: 3 },
    { event: { correlationid: "corr-1" } },
  );
  assertEquals(published.length, 1);
  const done = published[0] as Envelope<{ n: number }>;
  assertEquals([done.type, done.correlationid, done.causationid], [
    "job.done",
    "corr-1",
    event.id,
  ]);
  await bus.close();
});

Deno.test("ctx.atomic() applies an event once: a redelivery reports a duplicate", async () => {
  const db = await Deno.openKv(":memory:");
  const backend = createMemoryBackend();
  const bus = createBus({ backend, source: "t" });
  const results: { ok: boolean; duplicate?: boolean }[] = [];
  const w = createWorker({ bus, group: "g", idleWaitMs: 20 }).on(Job, async (e, ctx) => {
    const r = await ctx.atomic(db).sum(["count"], 1n).publish(JobDone, { n: e.data.n }).commit();
    results.push(r);
    assertEquals(await ctx.applied(db), true);
  }, { concurrency: 1 });
  try {
    await w.start();
    // The same event stored twice: what a redelivery after a crash looks like to a handler.
    const event = bus.envelope(Job, { n: 1 });
    await backend.append([event]);
    await backend.append([event]);
    await until(() => results.length === 2);
  } finally {
    await w.stop();
    db.close();
    await bus.close();
  }
  assertEquals(results.map((r) => [r.ok, r.duplicate ?? false]), [[true, false], [false, true]]);
});

Deno.test("prefetched deliveries keep their lease while they wait for a slot", async () => {
  const bus = fresh();
  const handledBy: string[] = [];
  const make = (name: string) =>
    createWorker({ bus, group: "g", leaseMs: 150, idleWaitMs: 20 }).on(Job, async () => {
      handledBy.push(name);
      await new Promise((r) => setTimeout(r, 100));
    }, { concurrency: 1 });
  const a = make("a");
  await a.start();
  await bus.publishMany(Array.from({ length: 5 }, (_, n) => ({ contract: Job, data: { n } })));
  await until(() => handledBy.length === 1); // a claimed all five; four wait up to 400 ms
  const b = make("b");
  await b.start();
  await until(() => a.stats.acked === 5);
  await a.stop();
  await b.stop();
  assertEquals(handledBy, ["a", "a", "a", "a", "a"]);
});

Deno.test("a worker's default batch is the backend's preferred claim size", async () => {
  const backend = createMemoryBackend();
  // A backend that prefers claims of 7.
  Object.defineProperty(backend, "features", { value: { ...backend.features, claimBatch: 7 } });
  const asked: number[] = [];
  const claim = backend.claim.bind(backend);
  backend.claim = (group, streams, options) => {
    asked.push(options.max);
    return claim(group, streams, options);
  };
  const bus = createBus({ backend, source: "test" });
  const w = createWorker({ bus, group: "g", idleWaitMs: 20 }).on(Job, () => {}, {
    concurrency: 100,
  });
  await w.start();
  await until(() => asked.length > 0);
  await w.stop();
  await bus.close();
  assertEquals(asked[0], 7);
});

Deno.test("a worker whose handler is slow claims ahead only what starts within ~50 ms", async () => {
  const bus = fresh();
  const asked: number[] = [];
  const claim = bus.backend.claim.bind(bus.backend);
  bus.backend.claim = (group, streams, options) => {
    asked.push(options.max);
    return claim(group, streams, options);
  };
  const w = createWorker({ bus, group: "g", idleWaitMs: 20, prefetch: 20 }).on(Job, async () => {
    await new Promise((r) => setTimeout(r, 100));
  }, { concurrency: 2 });
  await w.start();
  assertEquals(asked[0], 2 + 20, "before any handler ran: free slots plus the prefetch");
  await bus.publish(Job, { n: 0 });
  await until(() => w.stats.acked === 1); // the handler is now known to take ~100 ms
  asked.length = 0;
  await until(() => asked.length > 0);
  await w.stop();
  // 2 slots x 50 ms / ~100 ms = ~1 ahead, not the prefetch of 20.
  assertEquals(asked.every((max) => max <= 2 + 1), true, `claims asked for ${asked}`);
});

Deno.test("a worker whose claimed events wait for a slot claims again once half have started", async () => {
  const bus = fresh();
  const got: number[] = [];
  const claim = bus.backend.claim.bind(bus.backend);
  bus.backend.claim = async (group, streams, options) => {
    const deliveries = await claim(group, streams, options);
    if (deliveries.length > 0) got.push(deliveries.length);
    return deliveries;
  };
  await bus.backend.subscribe("g", [Job.stream], "earliest");
  await bus.publishMany(Array.from({ length: 100 }, (_, n) => ({ contract: Job, data: { n } })));
  const w = createWorker({ bus, group: "g", idleWaitMs: 20, prefetch: 20 }).on(Job, async () => {
    await new Promise((r) => setTimeout(r, 10));
  }, { concurrency: 4 });
  await w.start();
  await until(() => w.stats.acked === 100, 10_000);
  await w.stop();
  // ~20 ahead (4 slots x 50 ms / ~10 ms): a claim of 10 or more whenever half have started,
  // not one claim per handler that ends (77 claims here: one of 24, then 76 of one event).
  assert(got.length <= 25, `${got.length} claims brought events: ${got}`);
});

Deno.test("a worker with a backlog sends its next claim before a full batch's handlers start", async () => {
  const bus = fresh();
  const log: string[] = [];
  const claim = bus.backend.claim.bind(bus.backend);
  bus.backend.claim = async (group, streams, options) => {
    log.push(`claim ${options.max}`);
    const deliveries = await claim(group, streams, options);
    log.push(`got ${deliveries.length}`);
    return deliveries;
  };
  await bus.backend.subscribe("g", [Job.stream], "earliest");
  await bus.publishMany(Array.from({ length: 25 }, (_, n) => ({ contract: Job, data: { n } })));
  const w = createWorker({ bus, group: "g", idleWaitMs: 20, batch: 10 }).on(Job, (event) => {
    log.push(`handle ${event.data.n}`);
  }, { concurrency: 10 });
  await w.start();
  await until(() => w.stats.acked === 25, 5_000);
  await w.stop();
  const at = (entry: string) => log.indexOf(entry);
  const claims = log.flatMap((e, i) => e.startsWith("claim") ? [i] : []);
  const seen = log.join(", ");
  // Full batches: the next claim went out before their first handler ran (the old order:
  // claim 10, got 10, handle 0, …, handle 9, claim 10).
  assert(at("got 10") === 1 && claims[1] === 2, seen);
  assert(at("handle 0") > claims[1] && at("handle 10") > claims[2], seen);
  // The last batch (5 of 10, no backlog): its handlers ran before the claim after it.
  const next = claims.find((i) => i > at("got 5")) ?? Infinity;
  assert(at("handle 20") > at("got 5") && at("handle 20") < next, seen);
});

Deno.test("a worker with free slots for one handler claims while another's events wait", async () => {
  const bus = fresh();
  const done: string[] = [];
  const w = createWorker({ bus, group: "g", idleWaitMs: 20, prefetch: 4 })
    .on(Job, async (event) => {
      // The second job starts once the first is done: the seven others wait for the one slot,
      // ~300 ms of work, when the other handler's event comes.
      if (event.data.n === 1) await bus.publish(JobDone, { n: 0 });
      await new Promise((r) => setTimeout(r, 50));
      done.push("job");
    }, { concurrency: 1 })
    .on(JobDone, () => {
      done.push("done");
    }, { concurrency: 10 });
  await w.start();
  await bus.publishMany(Array.from({ length: 8 }, (_, n) => ({ contract: Job, data: { n } })));
  await until(() => done.length === 9, 5_000);
  await w.stop();
  // The other handler's ten free slots claim at once, not once the jobs are down to two.
  assert(done.indexOf("done") <= 2, `handled in order ${done}`);
});

Deno.test("stop() aborts running handlers' signals when the grace period ends", async () => {
  const bus = fresh();
  let aborted = false;
  let started = false;
  const w = createWorker({ bus, group: "g", idleWaitMs: 20 }).on(
    Job,
    (_e, ctx) =>
      new Promise<void>((resolve) => {
        started = true;
        ctx.signal.addEventListener("abort", () => {
          aborted = true;
          resolve(); // a handler that honours its signal ends; one that does not is left behind
        });
      }),
  );
  await w.start();
  await bus.publish(Job, { n: 1 });
  await until(() => started);
  await w.stop({ graceMs: 50 });
  assertEquals(aborted, true, "the handler's signal was aborted at the end of the grace period");
});

Deno.test("a handler's signal is aborted when another consumer takes its lease", async () => {
  const bus = fresh();
  let started = false;
  let reason: unknown;
  const w = createWorker({ bus, group: "g", leaseMs: 100, idleWaitMs: 20 }).on(
    Job,
    (_e, ctx) =>
      new Promise<void>((resolve) => {
        started = true;
        ctx.signal.addEventListener("abort", () => {
          reason = ctx.signal.reason;
          resolve();
        });
      }),
  );
  await w.start();
  await bus.publish(Job, { n: 1 });
  await until(() => started);
  // Hold this thread past the lease, so the worker cannot extend it, then take it as another
  // consumer before the worker's timers run again.
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 150);
  const taken = await bus.backend.claim("g", ["jobs"], {
    consumer: "other",
    max: 10,
    leaseMs: 10_000,
    waitMs: 0,
  });
  assertEquals(taken.length, 1, "the lapsed lease was taken");
  await until(() => reason !== undefined);
  assertInstanceOf(reason, LeaseLostError);
  await w.stop({ graceMs: 50 });
});
