/**
 * Conformance cases of delayed events (see `schedule.ts`): a scheduled event is in no stream
 * before its due time, then enters it once and fans out to every group; it can be cancelled
 * until then; it takes its place in its key's order when it enters the stream.
 *
 * @module
 */
import { deepStrictEqual as equal, ok } from "node:assert/strict";
import { z } from "zod";
import type { Delivery } from "../backend.ts";
import { createBus } from "../bus.ts";
import { defineEvent } from "../contract.ts";
import { isScheduler, type Scheduler } from "../schedule.ts";
import type { CaseFn, CaseKit } from "./conformance.ts";
import { ns } from "./conformance.ts";

const DAY_MS = 86_400_000;

/** The backend under test as a scheduler; fails the case when it keeps no schedule. */
function scheduler(k: CaseKit): Scheduler {
  const backend = k.backend;
  ok(isScheduler(backend), `the ${backend.name} backend keeps no schedule`);
  return backend;
}

const ack = (k: CaseKit, group: string, ds: Delivery[]) =>
  k.backend.settle(group, ds.map((delivery) => ({ delivery, outcome: "ack" as const })));

/** Delay cases, by name. */
export const DELAY_CASES: Readonly<Record<string, CaseFn>> = {
  "schedule(): no group sees a delayed event before it is due; then every group gets it once":
    async (k) => {
      const sched = scheduler(k);
      const s = k.name("s"), a = k.name("a"), b = k.name("b");
      await k.backend.subscribe(a, [s], "earliest");
      await k.backend.subscribe(b, [s], "earliest");
      const [e] = k.events(s, 1);
      const dueAt = Date.now() + 400;
      await sched.schedule([{ envelope: e, dueAt }]);
      equal(await k.claim(a, [s]), [], "not in the stream before it is due");
      equal(await k.claim(b, [s]), []);
      const [got] = await k.claimUntil(a, [s], 1);
      ok(Date.now() >= dueAt, "handed out at or after its due time");
      equal(got?.envelope?.id, e.id);
      equal((await k.claimUntil(b, [s], 1))[0]?.envelope?.id, e.id);
      await ack(k, a, [got]);
      equal(await k.claim(a, [s], { waitMs: 100 }), [], "entered the stream once");
    },

  "promote(): promoters racing move each due event once": async (k) => {
    const sched = scheduler(k);
    const s = k.name("s"), g = k.name("g");
    await k.backend.subscribe(g, [s], "earliest");
    const now = Date.now();
    await sched.schedule(k.events(s, 40).map((envelope) => ({ envelope, dueAt: now })));
    // The backend's own promoter races these too.
    await Promise.all([1, 2, 3, 4].map(async () => {
      for (let i = 0; i < 5; i++) await sched.promote(Date.now(), 7);
    }));
    const got = await k.claimUntil(g, [s], 40);
    equal(ns(got).sort((x, y) => x - y), [...Array(40).keys()]);
    equal(await k.claim(g, [s], { waitMs: 100 }), [], "no event appended twice");
    equal((await sched.promote(Date.now(), 10)).moved, 0);
  },

  "cancel(): a cancelled event never enters its stream; cancelling twice returns false": async (
    k,
  ) => {
    const sched = scheduler(k);
    const s = k.name("s"), g = k.name("g");
    await k.backend.subscribe(g, [s], "earliest");
    const [gone, kept] = k.events(s, 2);
    const dueAt = Date.now() + 200;
    await sched.schedule([{ envelope: gone, dueAt }, { envelope: kept, dueAt: dueAt + 100 }]);
    equal(await sched.cancel(gone.id), true);
    equal(await sched.cancel(gone.id), false, "already cancelled");
    equal(await sched.cancel("no-such-event"), false, "unknown id");
    const got = await k.claimUntil(g, [s], 1);
    equal(ns(got), [1]);
    equal(await k.claim(g, [s], { waitMs: 200 }), [], "the cancelled event never came");
  },

  "cancel() racing promote(): each event is either cancelled or delivered, never both": async (
    k,
  ) => {
    const sched = scheduler(k);
    const s = k.name("s"), g = k.name("g");
    await k.backend.subscribe(g, [s], "earliest");
    const events = k.events(s, 30);
    await sched.schedule(events.map((envelope) => ({ envelope, dueAt: Date.now() })));
    const [cancelled] = await Promise.all([
      Promise.all(events.map((e) => sched.cancel(e.id))),
      sched.promote(Date.now(), 10),
      sched.promote(Date.now(), 10),
    ]);
    const left = cancelled.filter((c) => !c).length;
    const got = left === 0 ? [] : await k.claimUntil(g, [s], left);
    equal(await k.claim(g, [s], { waitMs: 100 }), [], "nothing beyond the events not cancelled");
    equal(
      ns(got).sort((x, y) => x - y),
      events.flatMap((_, i) => cancelled[i] ? [] : [i]),
      "delivered exactly the events whose cancel returned false",
    );
  },

  "cancel(): an event already due and in its stream is not cancelled": async (k) => {
    const sched = scheduler(k);
    const s = k.name("s"), g = k.name("g");
    await k.backend.subscribe(g, [s], "earliest");
    const [e] = k.events(s, 1);
    await sched.schedule([{ envelope: e, dueAt: Date.now() + 50 }]);
    const got = await k.claimUntil(g, [s], 1);
    equal(got[0]?.envelope?.id, e.id);
    equal(await sched.cancel(e.id), false);
  },

  "publish(): a 30-day delay is accepted, kept out of the stream, and cancellable": async (k) => {
    const sched = scheduler(k);
    const Thing = defineEvent({
      stream: k.name("s"),
      type: "thing.happened",
      schema: z.object({ n: z.number() }),
    });
    const g = k.name("g");
    await k.backend.subscribe(g, [Thing.stream], "earliest");
    const bus = createBus({ backend: k.backend, source: "conformance" });
    const far = await bus.publish(Thing, { n: 1 }, { delay: 30 * DAY_MS });
    const at = await bus.publish(Thing, { n: 2 }, { at: new Date(Date.now() + 29 * DAY_MS) });
    const promoted = await sched.promote(Date.now() + 1_000, 10);
    equal(promoted.moved, 0, "nothing is due");
    ok(promoted.next !== undefined && promoted.next > Date.now() + 28 * DAY_MS);
    equal(await k.claim(g, [Thing.stream]), []);
    equal(await bus.cancel(far.id), true);
    equal(await bus.cancel(at.id), true);
    equal((await sched.promote(Date.now() + 31 * DAY_MS, 10)).moved, 0, "both are gone");
  },

  "schedule(): a delayed keyed event takes its key's order when it enters the stream": async (
    k,
  ) => {
    const sched = scheduler(k);
    const s = k.name("s"), g = k.name("g");
    await k.backend.subscribe(g, [s], "earliest");
    const [first, late, second] = k.events(s, 3).map((e) => ({ ...e, key: "k" }));
    await k.backend.append([first]);
    await sched.schedule([{ envelope: late, dueAt: Date.now() + 300 }]);
    await k.backend.append([second]);
    const order: number[] = [];
    while (order.length < 3) {
      const got = await k.claimUntil(g, [s], 1);
      equal(got.length, 1, "the next event of the key comes");
      order.push(...ns(got));
      await ack(k, g, got);
    }
    equal(order, [0, 2, 1], "the delayed event comes after the ones in the stream before it");
  },
};
