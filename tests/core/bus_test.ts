import { assertEquals, assertRejects } from "@std/assert";
import { z } from "zod";
import {
  createBus,
  createMemoryBackend,
  defineEvent,
  InvalidOptionsError,
  relayOutbox,
  ValidationError,
} from "@herald/herald";
import { createTestBus } from "@herald/herald/testing";

const Note = defineEvent({
  stream: "notes",
  type: "note.added",
  schema: z.object({ text: z.string().min(1) }),
});

Deno.test("createBus() reports every bad option at once", () => {
  try {
    // deno-lint-ignore no-explicit-any
    createBus({ backend: {} as any, source: "" });
    throw new Error("should have thrown");
  } catch (err) {
    if (!(err instanceof InvalidOptionsError)) throw err;
    assertEquals(err.problems.length, 2);
  }
});

Deno.test("bus.publish() of an invalid payload throws the zod issues and writes nothing", async () => {
  const bus = createTestBus();
  const err = await assertRejects(() => bus.publish(Note, { text: "" }), ValidationError);
  assertEquals(err.issues[0].path, ["text"]);
  assertEquals(bus.published(), []);
  await bus.close();
});

Deno.test("bus.publishMany() writes nothing when one payload is invalid", async () => {
  const bus = createTestBus();
  await assertRejects(
    () =>
      bus.publishMany([
        { contract: Note, data: { text: "ok" } },
        { contract: Note, data: { text: "" } },
      ]),
    ValidationError,
  );
  assertEquals(bus.published(), []);
  await bus.publishMany([{ contract: Note, data: { text: "a" } }, {
    contract: Note,
    data: { text: "b" },
  }]);
  assertEquals(bus.published(Note).map((e) => e.data.text), ["a", "b"]);
  await bus.close();
});

Deno.test("bus.atomic() commits events with the caller's writes, or neither", async () => {
  const bus = createTestBus();
  const db = await Deno.openKv(":memory:");
  try {
    const ok = await bus.atomic(db).set(["notes", 1], "a").publish(Note, { text: "a" }).commit();
    assertEquals(ok.ok, true);
    assertEquals(bus.published(Note).length, 1);
    const failed = await bus.atomic(db)
      .check({ key: ["notes", 1], versionstamp: null })
      .set(["notes", 1], "b")
      .publish(Note, { text: "b" })
      .commit();
    assertEquals(failed.ok, false);
    assertEquals(bus.published(Note).length, 1, "a failed check publishes nothing");
    assertEquals((await db.get(["notes", 1])).value, "a");
  } finally {
    db.close();
    await bus.close();
  }
});

Deno.test("bus.relayOutbox() forwards events left behind, once", async () => {
  const backend = createMemoryBackend();
  const bus = createBus({ backend, source: "notes" });
  const db = await Deno.openKv(":memory:");
  try {
    // A commit whose forward could not happen: the backend was closed at the time.
    const closed = createBus({ backend: createMemoryBackend(), source: "notes" });
    await closed.close();
    const r = await closed.atomic(db).publish(Note, { text: "later" }).commit();
    assertEquals(r.ok, true);
    await backend.subscribe("g", ["notes"], "earliest");
    assertEquals(await bus.relayOutbox(db), 1);
    assertEquals(await bus.relayOutbox(db), 0);
    const got = await backend.claim("g", ["notes"], {
      consumer: "c",
      max: 10,
      leaseMs: 1000,
      waitMs: 0,
    });
    assertEquals(got.map((d) => (d.envelope?.data as { text: string }).text), ["later"]);
  } finally {
    db.close();
    await bus.close();
  }
});

Deno.test("relayOutbox() forwards an event whose immediate forward failed", async () => {
  const db = await Deno.openKv(":memory:");
  const backend = createMemoryBackend();
  const bus = createBus({ backend, source: "notes" });
  const stop = new AbortController();
  try {
    const down = createBus({ backend: createMemoryBackend(), source: "notes" });
    await down.close(); // the forward right after the commit fails: the event stays in the outbox
    await down.atomic(db).publish(Note, { text: "kept" }).commit();
    await backend.subscribe("g", ["notes"], "earliest");
    const relay = relayOutbox(bus, db, { intervalMs: 20, signal: stop.signal });
    const got = await backend.claim("g", ["notes"], {
      consumer: "c",
      max: 10,
      leaseMs: 1000,
      waitMs: 5_000,
    });
    stop.abort();
    await relay;
    assertEquals(got.map((d) => (d.envelope?.data as { text: string }).text), ["kept"]);
  } finally {
    stop.abort();
    db.close();
    await bus.close();
  }
});

Deno.test("bus.atomic() commits at once delete their forwarded outbox entries together", async () => {
  const bus = createBus({ backend: createMemoryBackend(), source: "notes" });
  const db = await Deno.openKv(":memory:");
  let commits = 0;
  const atomic = db.atomic.bind(db);
  db.atomic = () => {
    const op = atomic();
    const commit = op.commit.bind(op);
    op.commit = () => (commits++, commit());
    return op;
  };
  try {
    const n = 50;
    const results = await Promise.all(
      Array.from({ length: n }, (_, i) => bus.atomic(db).publish(Note, { text: `n${i}` }).commit()),
    );
    assertEquals(results.every((r) => r.ok), true);
    assertEquals(await Array.fromAsync(db.list({ prefix: ["herald_outbox"] })), []);
    // One commit each for the writes; their deletions share commits (one each before).
    assertEquals(commits < 2 * n, true, `${commits} commits`);
    assertEquals(await bus.relayOutbox(db), 0, "nothing left to forward");
  } finally {
    db.close();
    await bus.close();
  }
});
