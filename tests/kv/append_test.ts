import { assert, assertEquals, assertRejects, assertThrows } from "@std/assert";
import { createEnvelope } from "../../src/envelope.ts";
import { InvalidOptionsError } from "../../src/errors.ts";
import { createKvBackend } from "../../src/kv/mod.ts";
import { bothStores, claimN, events, indexOf, twoConnections } from "./_helpers.ts";

bothStores("`append()` keeps append order, also for concurrent appends", async (make) => {
  const b = make();
  await b.subscribe("order-g", ["order"], "earliest");
  const batches = Array.from({ length: 20 }, (_, k) => events("order", 5, k * 5));
  await Promise.all(batches.map((e) => b.append(e)));
  const got = await claimN(b, "order-g", ["order"], 100);
  assertEquals(got.length, 100);
  // Each append's events are contiguous and in order; appends commit in call order here.
  assertEquals(got.map(indexOf), Array.from({ length: 100 }, (_, i) => i));
  assert(b.stats.appendCommits < 20, "concurrent appends were coalesced");
});

Deno.test("`append()` from two connections to one file never loses an event", () =>
  twoConnections(async (a, b) => {
    await a.subscribe("two-g", ["two"], "earliest");
    // Two connections writing one SQLite file: sequence conflicts and lock contention.
    const writes = [];
    for (let i = 0; i < 40; i++) {
      writes.push(a.append(events("two", 3, i * 6)));
      writes.push(b.append(events("two", 3, i * 6 + 3)));
    }
    await Promise.all(writes);
    const got = await claimN(a, "two-g", ["two"], 240);
    assertEquals(got.map(indexOf).sort((x, y) => x - y), Array.from({ length: 240 }, (_, i) => i));
    const seqs = got.map((d) => Number(d.ref.split(":")[1]));
    assertEquals(seqs, Array.from({ length: 240 }, (_, i) => i + 1));
  }));

Deno.test("`append()` one at a time from two connections: a stale sequence is read again", () =>
  twoConnections(async (a, b) => {
    await a.subscribe("alt-g", ["alt"], "earliest");
    // Each append commits alone, on a sequence the other connection moved since: the check fails
    // and the append is made again on the sequence read afresh.
    for (let i = 0; i < 30; i++) await (i % 2 ? b : a).append(events("alt", 2, i * 2));
    const got = await claimN(a, "alt-g", ["alt"], 60);
    assertEquals(got.map(indexOf), Array.from({ length: 60 }, (_, i) => i));
    const seqs = got.map((d) => Number(d.ref.split(":")[1]));
    assertEquals(seqs, Array.from({ length: 60 }, (_, i) => i + 1));
    assert(a.stats.appendConflicts + b.stats.appendConflicts >= 28, "stale sequences were met");
  }));

bothStores("`append()` with dedupe skips ids appended before", async (make) => {
  const a = make();
  await a.subscribe("dd-g", ["dd"], "earliest");
  const batch = events("dd", 5);
  await Promise.all([
    a.append(batch, { dedupe: true }),
    a.append(batch, { dedupe: true }),
    a.append(batch.slice(0, 2), { dedupe: true }),
  ]);
  await a.append([...batch, ...events("dd", 1, 5)], { dedupe: true });
  const got = await claimN(a, "dd-g", ["dd"], 6, { deadlineMs: 1_000 });
  assertEquals(got.map(indexOf).sort(), [0, 1, 2, 3, 4, 5]);
  const more = await a.claim("dd-g", ["dd"], { consumer: "c", max: 10, leaseMs: 1000, waitMs: 50 });
  assertEquals(more.length, 0);
});

Deno.test("`append()` with dedupe is race-safe across two connections to one file", () =>
  twoConnections(async (a, b) => {
    await a.subscribe("ddr-g", ["ddr"], "earliest");
    // Two relays forwarding the same outbox entries at the same time.
    for (let round = 0; round < 10; round++) {
      const batch = events("ddr", 3, round * 3);
      await Promise.all([a.append(batch, { dedupe: true }), b.append(batch, { dedupe: true })]);
    }
    const got = await claimN(a, "ddr-g", ["ddr"], 30, { deadlineMs: 2_000 });
    assertEquals(got.map(indexOf).sort((x, y) => x - y), Array.from({ length: 30 }, (_, i) => i));
    const more = await a.claim("ddr-g", ["ddr"], {
      consumer: "c",
      max: 10,
      leaseMs: 1000,
      waitMs: 50,
    });
    assertEquals(more.length, 0);
  }));

bothStores("`append()` throws RangeError for a batch too big for one operation", async (make) => {
  const b = make();
  await b.subscribe("big-g", ["big"], "earliest");
  const big = Array.from(
    { length: 20 },
    () => createEnvelope("big", "test.big", { pad: "x".repeat(50_000) }, "tests"),
  );
  await assertRejects(() => b.append(big), RangeError);
  await assertRejects(() => b.append(events("big", 1001)), RangeError);
  await assertRejects(() => b.append([{ hello: "world" } as never]), TypeError);
  // Bad input rejects the returned promise; it does not throw at the call.
  const malformed = b.append("not an array" as never);
  assert(malformed instanceof Promise);
  await assertRejects(() => malformed, TypeError);
  // Nothing was half-written; a fitting append still works.
  await b.append(events("big", 2));
  const got = await claimN(b, "big-g", ["big"], 2);
  assertEquals(got.map(indexOf), [0, 1]);
});

bothStores("`appendAtomic()` commits events with the caller's writes, or neither", async (make) => {
  const b = make();
  const db = await b.open();
  await b.subscribe("atom-g", ["atom"], "earliest");
  const ok = await b.appendAtomic(db, (op) => op.set(["app", "x"], 1), events("atom", 2));
  assert(ok !== "foreign" && ok.ok);
  assertEquals((await db.get(["app", "x"])).value, 1);
  // The caller's own check fails: nothing is written, and the failed result comes back.
  const failed = await b.appendAtomic(
    db,
    (op) => op.check({ key: ["app", "x"], versionstamp: null }).set(["app", "y"], 2),
    events("atom", 1, 2),
  );
  assert(failed !== "foreign" && !failed.ok);
  assertEquals((await db.get(["app", "y"])).versionstamp, null);
  // Our own sequence check failing (another append meanwhile) is retried, not returned.
  const [r] = await Promise.all([
    b.appendAtomic(db, (op) => op.set(["app", "z"], 3), events("atom", 1, 3)),
    b.append(events("atom", 1, 4)),
  ]);
  assert(r !== "foreign" && r.ok);
  const got = await claimN(b, "atom-g", ["atom"], 4);
  assertEquals(got.map(indexOf).sort(), [0, 1, 3, 4]);
  const other = await Deno.openKv(":memory:");
  try {
    assertEquals(await b.appendAtomic(other, () => {}, events("atom", 1)), "foreign");
  } finally {
    other.close();
  }
});

Deno.test("`createKvBackend()` reports every option problem at once", () => {
  const err = assertThrows(
    () =>
      createKvBackend({
        path: "",
        pollMs: -1,
        retention: { maxAgeMs: 0, maxLength: 1.5, streams: { a: { maxLength: 0 } } },
      }),
    InvalidOptionsError,
  );
  assertEquals(err.problems.length, 5);
});
