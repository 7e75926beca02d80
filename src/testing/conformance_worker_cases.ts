/**
 * Conformance cases that run the worker on the backend under test: the guarantees users see
 * (retries then dead letters, schema checks, applied-once, graceful stop) on every backend.
 *
 * @module
 */
import { deepStrictEqual as equal, ok } from "node:assert/strict";
import { z } from "zod";
import { createBus } from "../bus.ts";
import { defineEvent } from "../contract.ts";
import { createEnvelope } from "../envelope.ts";
import { createWorker } from "../worker.ts";
import type { CaseFn, CaseKit } from "./conformance.ts";

async function until(check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("Timed out waiting for a condition");
    await new Promise((r) => setTimeout(r, 10));
  }
}

function setup(k: CaseKit) {
  const Thing = defineEvent({
    stream: k.name("things"),
    type: "thing.happened",
    schema: z.object({ n: z.number().int() }),
  });
  const bus = createBus({ backend: k.backend, source: "conformance" });
  return { Thing, bus, group: k.name("workers") };
}

/** Worker cases, by name. */
export const WORKER_CASES: Readonly<Record<string, CaseFn>> = {
  "worker: handles every event once and acknowledges it": async (k) => {
    const { Thing, bus, group } = setup(k);
    const seen: number[] = [];
    const worker = createWorker({ bus, group, idleWaitMs: 50 })
      .on(Thing, (e) => void seen.push(e.data.n));
    await worker.start();
    try {
      await bus.publishMany(
        Array.from({ length: 30 }, (_, n) => ({ contract: Thing, data: { n } })),
      );
      await until(() => seen.length >= 30);
      await until(() => worker.stats.acked === 30);
    } finally {
      await worker.stop();
    }
    equal(seen.sort((a, b) => a - b), [...Array(30).keys()]);
    const again = await k.claim(group, [Thing.stream], { leaseMs: 100 });
    equal(again, [], "acknowledged events are gone");
  },

  "worker: a handler that keeps failing is retried, then dead-lettered with the error": async (
    k,
  ) => {
    const { Thing, bus, group } = setup(k);
    const attempts: number[] = [];
    const worker = createWorker({ bus, group, idleWaitMs: 20 }).on(Thing, (_e, ctx) => {
      attempts.push(ctx.attempt);
      throw new Error("always fails");
    }, { retry: { attempts: 3, baseMs: 10, maxMs: 20 } });
    await worker.start();
    try {
      await bus.publish(Thing, { n: 1 });
      await until(async () => (await k.backend.deadLetters(group)).length === 1);
    } finally {
      await worker.stop();
    }
    equal(attempts, [1, 2, 3]);
    const [dead] = await k.backend.deadLetters(group);
    equal(dead.error.message, "always fails");
    equal(dead.attempts, 3);
  },

  "worker: an event that fails its schema is dead-lettered at once with the issues": async (
    k,
  ) => {
    const { Thing, bus, group } = setup(k);
    let calls = 0;
    const worker = createWorker({ bus, group, idleWaitMs: 20 }).on(Thing, () => void calls++);
    await worker.start();
    try {
      const bad = createEnvelope(Thing.stream, Thing.type, { n: "not a number" }, "someone");
      await k.backend.append([bad]);
      await until(async () => (await k.backend.deadLetters(group)).length === 1);
    } finally {
      await worker.stop();
    }
    equal(calls, 0);
    const [dead] = await k.backend.deadLetters(group);
    equal(dead.error.name, "ValidationError");
    equal(dead.attempts, 1);
    ok(dead.error.issues?.[0].path[0] === "n");
  },

  "worker: stop() lets a running handler finish and leaves the rest for the next instance": async (
    k,
  ) => {
    const { Thing, bus, group } = setup(k);
    const finished: number[] = [];
    let started = 0;
    const worker = createWorker({ bus, group, idleWaitMs: 20 }).on(Thing, async (e) => {
      started++;
      await new Promise((r) => setTimeout(r, 200));
      finished.push(e.data.n);
    }, { concurrency: 1 });
    await worker.start();
    await bus.publishMany(Array.from({ length: 5 }, (_, n) => ({ contract: Thing, data: { n } })));
    await until(() => started === 1);
    await worker.stop({ graceMs: 5_000 });
    equal(finished.length, started, "every started handler finished");
    const rest = await k.claimUntil(group, [Thing.stream], 5 - finished.length);
    equal(rest.length, 5 - finished.length, "the rest is delivered again");
    ok(rest.every((d) => d.attempt === 1), "events never started are not counted as attempts");
  },

  "worker: stop() in a backlog leaves every claimed event that did not start for the next instance":
    async (k) => {
      const { Thing, bus, group } = setup(k);
      const handled: number[] = [];
      let stopping: Promise<void> | undefined;
      // Full batches of 5: each next claim is in flight while a batch runs (see the worker's
      // claim loop), and the fifth handler stops the worker with it out.
      const worker = createWorker({ bus, group, idleWaitMs: 20, batch: 5 }).on(Thing, (e) => {
        handled.push(e.data.n);
        if (handled.length === 5) stopping = worker.stop({ graceMs: 5_000 });
      }, { concurrency: 5 });
      await bus.publishMany(
        Array.from({ length: 40 }, (_, n) => ({ contract: Thing, data: { n } })),
      );
      await worker.start();
      await until(() => stopping !== undefined);
      await stopping;
      // The rest comes back at once (a lapsed lease would take 30 s, and count an attempt).
      const rest = await k.claimUntil(group, [Thing.stream], 40 - handled.length);
      const all = [...handled, ...rest.map((d) => (d.envelope!.data as { n: number }).n)];
      equal(all.sort((a, b) => a - b), [...Array(40).keys()], "each event handled or left, once");
      ok(rest.every((d) => d.attempt === 1), "events never started are not counted as attempts");
    },
};
