/**
 * Delayed events through the bus: `delay` and `at` on publish, publishMany and ctx.publish, their
 * validation, and `bus.cancel`, on memory and Deno KV in memory (the conformance suite runs the
 * backend cases on every backend).
 *
 * @module
 */
import { assert, assertEquals, assertRejects, assertThrows } from "@std/assert";
import { z } from "zod";
import {
  createBus,
  createKvBackend,
  createMemoryBackend,
  createWorker,
  defineEvent,
} from "@herald/herald";
import type { Backend } from "@herald/herald/backend";
import { until } from "../_until.ts";

const Note = defineEvent({
  stream: "notes",
  type: "note.added",
  schema: z.object({ n: z.number() }),
});
const Later = defineEvent({
  stream: "later",
  type: "note.later",
  schema: z.object({ n: z.number() }),
});

const DAY_MS = 86_400_000;

const backends: [string, () => Backend][] = [
  ["memory", () => createMemoryBackend()],
  ["kv (memory)", () => createKvBackend({ path: ":memory:" })],
];

/** Claims what a group can see now, without waiting. */
async function visible(backend: Backend, group: string, stream: string): Promise<number[]> {
  const got = await backend.claim(group, [stream], {
    consumer: "c",
    max: 100,
    leaseMs: 30_000,
    waitMs: 0,
  });
  await backend.settle(group, got.map((delivery) => ({ delivery, outcome: "ack" as const })));
  return got.map((d) => (d.envelope?.data as { n: number }).n);
}

for (const [name, make] of backends) {
  Deno.test(`${name}: bus.publish() rejects a bad delay or at and writes nothing`, async () => {
    const backend = make();
    const bus = createBus({ backend, source: "test" });
    await backend.subscribe("g", [Note.stream], "earliest");
    const bad: [object, ErrorConstructor][] = [
      [{ delay: -1 }, RangeError],
      [{ delay: NaN }, RangeError],
      [{ delay: Infinity }, RangeError],
      [{ delay: "5" }, RangeError],
      [{ delay: 366 * DAY_MS }, RangeError],
      [{ at: new Date(Date.now() + 366 * DAY_MS) }, RangeError],
      [{ at: new Date("nope") }, TypeError],
      [{ at: Date.now() + 1_000 }, TypeError],
      [{ delay: 1_000, at: new Date() }, TypeError],
    ];
    for (const [options, type] of bad) {
      await assertRejects(() => bus.publish(Note, { n: 1 }, options), type);
      await assertRejects(
        () =>
          bus.publishMany([{ contract: Note, data: { n: 2 } }, {
            contract: Note,
            data: { n: 3 },
            options,
          }]),
        type,
      );
    }
    const scheduled = await (backend as unknown as {
      promote(now: number, max: number): Promise<{ moved: number; next?: number }>;
    }).promote(Date.now() + 400 * DAY_MS, 100);
    assertEquals(scheduled, { moved: 0, next: undefined }, "nothing was scheduled");
    assertEquals(await visible(backend, "g", Note.stream), [], "nothing was appended");
    await bus.close();
  });

  Deno.test(`${name}: bus.publish() with delay 0 or a past at publishes at once`, async () => {
    const backend = make();
    const bus = createBus({ backend, source: "test" });
    await backend.subscribe("g", [Note.stream], "earliest");
    await bus.publish(Note, { n: 1 }, { delay: 0 });
    await bus.publish(Note, { n: 2 }, { at: new Date(Date.now() - 60_000) });
    assertEquals(await visible(backend, "g", Note.stream), [1, 2]);
    await bus.close();
  });

  Deno.test(`${name}: bus.publishMany() mixing delayed and immediate items writes them together; the immediate ones come at once`, async () => {
    const backend = make();
    const bus = createBus({ backend, source: "test" });
    await backend.subscribe("g", [Note.stream], "earliest");
    const events = await bus.publishMany([
      { contract: Note, data: { n: 1 } },
      { contract: Note, data: { n: 2 }, options: { delay: 60_000 } },
      { contract: Note, data: { n: 3 }, options: { at: new Date(Date.now() + 60_000) } },
    ]);
    const seen: number[] = [];
    await until(
      async () => (seen.push(...await visible(backend, "g", Note.stream)), seen.length > 0),
    );
    assertEquals(seen, [1]);
    assertEquals(await bus.cancel(events[1].id), true);
    assertEquals(await bus.cancel(events[2].id), true);
    assertEquals(await bus.cancel(events[0].id), false, "the immediate one is in its stream");
    await bus.close();
  });

  Deno.test(`${name}: ctx.publish() with a delay: the follow-up comes after it is due, caused by its event`, async () => {
    const backend = make();
    const bus = createBus({ backend, source: "test" });
    const handled: { n: number; at: number; causation?: string }[] = [];
    let dueAt = 0;
    const worker = createWorker({ bus, group: "g", idleWaitMs: 50 })
      .on(Note, async (e, ctx) => {
        dueAt = Date.now() + 300;
        await ctx.publish(Later, { n: e.data.n + 1 }, { delay: 300 });
      })
      .on(Later, (e) => {
        handled.push({ n: e.data.n, at: Date.now(), causation: e.causationid });
      });
    await worker.start();
    try {
      const first = await bus.publish(Note, { n: 1 });
      await until(() => handled.length === 1);
      assertEquals(handled[0].n, 2);
      assertEquals(handled[0].causation, first.id);
      assert(handled[0].at >= dueAt, "not before its due time");
    } finally {
      await worker.stop();
      await bus.close();
    }
  });
}

Deno.test("bus.cancel() rejects an empty id; bus.atomic().publish() refuses delay and at", async () => {
  const bus = createBus({ backend: createMemoryBackend(), source: "test" });
  await assertRejects(() => bus.cancel(""), TypeError);
  const db = await Deno.openKv(":memory:");
  assertThrows(() => bus.atomic(db).publish(Note, { n: 1 }, { delay: 1_000 }), TypeError);
  assertThrows(() => bus.atomic(db).publish(Note, { n: 1 }, { at: new Date() }), TypeError);
  db.close();
  await bus.close();
});
