import { assert, assertEquals, assertExists } from "@std/assert";
import type { Delivery } from "../../src/backend.ts";
import { seqKey } from "../../src/kv/keys.ts";
import type { KvBackend } from "../../src/kv/mod.ts";
import { bothStores, claimN, events, indexOf, twoConnections, until } from "./_helpers.ts";

const ack = (delivery: Delivery) => ({ delivery, outcome: "ack" as const });

bothStores("`claim()` fans out to every group and shares within a group", async (make) => {
  const b = make();
  await b.subscribe("fan-a", ["fan"], "earliest");
  await b.subscribe("fan-b", ["fan"], "earliest");
  await b.append(events("fan", 10));
  const a = await claimN(b, "fan-a", ["fan"], 10);
  assertEquals(a.map(indexOf), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  // Group b: two consumers claiming at once share the events, each leased once.
  const [x, y] = await Promise.all([
    b.claim("fan-b", ["fan"], { consumer: "x", max: 5, leaseMs: 30_000, waitMs: 0 }),
    b.claim("fan-b", ["fan"], { consumer: "y", max: 5, leaseMs: 30_000, waitMs: 0 }),
  ]);
  const rest = await claimN(b, "fan-b", ["fan"], 10 - x.length - y.length);
  const all = [...x, ...y, ...rest].map(indexOf).sort((p, q) => p - q);
  assertEquals(all, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  const none = await b.claim("fan-b", ["fan"], {
    consumer: "z",
    max: 5,
    leaseMs: 30_000,
    waitMs: 20,
  });
  assertEquals(none.length, 0);
});

bothStores("`claim()` hands an expired lease out again with attempt 2", async (make) => {
  const b = make();
  await b.subscribe("exp-g", ["exp"], "earliest");
  await b.append(events("exp", 1));
  const [first] = await claimN(b, "exp-g", ["exp"], 1, { leaseMs: 100, consumer: "dies" });
  assertEquals(first.attempt, 1);
  const [again] = await claimN(b, "exp-g", ["exp"], 1, { consumer: "other" });
  assertEquals(again.attempt, 2);
  assertEquals(indexOf(again), 0);
  // The first consumer's lease is gone: its ack and extend do nothing.
  assertEquals(await b.extend("exp-g", [first], 1000), [first]);
  await b.settle("exp-g", [ack(first)]);
  assertEquals(await b.extend("exp-g", [again], 1000), []);
  await b.settle("exp-g", [ack(again)]);
  const none = await b.claim("exp-g", ["exp"], {
    consumer: "c",
    max: 1,
    leaseMs: 100,
    waitMs: 250,
  });
  assertEquals(none.length, 0);
});

bothStores("`extend()` keeps a lease from expiring", async (make) => {
  const b = make();
  await b.subscribe("ext-g", ["ext"], "earliest");
  await b.append(events("ext", 1));
  const [d] = await claimN(b, "ext-g", ["ext"], 1, { leaseMs: 1_000 });
  const lapsed = Date.now() + 1_000; // the first lease ends by then
  assertEquals(await b.extend("ext-g", [d], 60_000), []);
  await until(() => Date.now() > lapsed);
  // A claim that looks for expired leases (at least once a second) finds none: the extension
  // holds. Without it, this claim would get the event with attempt 2.
  const other = await b.claim("ext-g", ["ext"], {
    consumer: "o",
    max: 1,
    leaseMs: 100,
    waitMs: 1_500,
  });
  assertEquals(other.length, 0);
});

bothStores(
  "`settle()` retries after the delay with attempt 2, and release does not count",
  async (make) => {
    const b = make();
    await b.subscribe("re-g", ["re"], "earliest");
    await b.append(events("re", 2));
    const [d0, d1] = await claimN(b, "re-g", ["re"], 2);
    const error = { name: "Error", message: "boom" };
    const t0 = Date.now();
    await b.settle("re-g", [
      { delivery: d0, outcome: "retry", delayMs: 300, error },
      { delivery: d1, outcome: "release" },
    ]);
    const [released] = await claimN(b, "re-g", ["re"], 1);
    assertEquals([indexOf(released), released.attempt], [1, 1]);
    const [retried] = await claimN(b, "re-g", ["re"], 1);
    assert(Date.now() - t0 >= 300, "the retry waited for its delay");
    assertEquals([indexOf(retried), retried.attempt], [0, 2]);
    await b.settle("re-g", [ack(released), ack(retried)]);
  },
);

bothStores("`subscribe()` starts a new group at earliest, latest or a time", async (make) => {
  const b = make();
  await b.append(events("start", 3));
  await new Promise((r) => setTimeout(r, 20));
  const mid = new Date();
  await new Promise((r) => setTimeout(r, 20));
  await b.append(events("start", 2, 3));
  await b.subscribe("st-early", ["start"], "earliest");
  await b.subscribe("st-late", ["start"], "latest");
  await b.subscribe("st-time", ["start"], mid);
  await b.append(events("start", 1, 5));
  assertEquals((await claimN(b, "st-early", ["start"], 6)).map(indexOf), [0, 1, 2, 3, 4, 5]);
  assertEquals((await claimN(b, "st-late", ["start"], 1)).map(indexOf), [5]);
  assertEquals((await claimN(b, "st-time", ["start"], 3)).map(indexOf), [3, 4, 5]);
  // An existing group keeps its position.
  await b.subscribe("st-late", ["start"], "earliest");
  const none = await b.claim("st-late", ["start"], {
    consumer: "c",
    max: 9,
    leaseMs: 30_000,
    waitMs: 0,
  });
  assertEquals(none.length, 0);
  await b.subscribe("st-future", ["start"], new Date(Date.now() + 60_000));
  await b.append(events("start", 1, 6));
  assertEquals((await claimN(b, "st-future", ["start"], 1)).map(indexOf), [6]);
});

bothStores("`claim()` delivers an entry that is not an envelope as malformed", async (make) => {
  const b = make();
  await b.subscribe("mal-g", ["mal"], "earliest");
  await b.append(events("mal", 1));
  // Something else wrote into the stream, following its key layout.
  const db = await b.open();
  const seq = await db.get<number>(seqKey("mal"));
  await db.atomic().check(seq).set(["herald", "ev", "mal", 2], { hello: "world" }).set(
    seqKey("mal"),
    2,
  )
    .commit();
  await b.append(events("mal", 1, 1));
  const got = await claimN(b, "mal-g", ["mal"], 3);
  assertEquals(got.length, 3);
  assertExists(got[0].envelope);
  assertEquals(got[1].envelope, undefined);
  assertEquals(got[1].malformed?.raw, { hello: "world" });
  assert(got[1].malformed!.reason.length > 0);
  assertEquals(indexOf(got[2]), 1);
});

bothStores("`claim()` with waitMs wakes as soon as an event is appended", async (make) => {
  const b = make();
  await b.subscribe("wake-g", ["wake"], "latest");
  const controller = new AbortController();
  const waiting = b.claim("wake-g", ["wake"], {
    consumer: "c",
    max: 5,
    leaseMs: 30_000,
    waitMs: 10_000,
    signal: controller.signal,
  });
  setTimeout(() => b.append(events("wake", 1)), 30);
  const got = await waiting;
  assertEquals(got.map(indexOf), [0]);
  // The abort signal ends a wait early.
  const aborted = b.claim("wake-g", ["wake"], {
    consumer: "c",
    max: 5,
    leaseMs: 30_000,
    waitMs: 10_000,
    signal: controller.signal,
  });
  controller.abort();
  assertEquals(await aborted, []);
  await until(() => true);
});

bothStores(
  "`claim()` takes part of an append's chunk and redelivers from it after expiry",
  async (make) => {
    const b = make();
    await b.subscribe("part-g", ["part"], "earliest");
    await b.append(events("part", 6)); // one stored chunk
    const first = await b.claim("part-g", ["part"], {
      consumer: "a",
      max: 3,
      leaseMs: 100,
      waitMs: 0,
    });
    assertEquals(first.map(indexOf), [0, 1, 2]);
    const again = await claimN(b, "part-g", ["part"], 6, { consumer: "b" });
    // The expired three come back with attempt 2 (after or before the rest, both are fine).
    assertEquals(again.map(indexOf).sort(), [0, 1, 2, 3, 4, 5]);
    for (const d of again) assertEquals(d.attempt, indexOf(d) < 3 ? 2 : 1);
    await b.settle("part-g", again.map(ack));
  },
);

const sbOpts = (consumer: string, max: number, waitMs: number) => ({
  consumer,
  max,
  leaseMs: 30_000,
  waitMs,
});

/**
 * Makes `b` lose a claim race to `a` on `stream` (group `${stream}-g`, four events taken), then
 * starts `b`'s claim waiting `waitMs`; resolves with that claim once `b` has lost the race.
 */
async function outpace(
  a: KvBackend,
  b: KvBackend,
  stream: string,
  waitMs: number,
): Promise<{ waited: Promise<Delivery[]> }> {
  await a.subscribe(`${stream}-g`, [stream], "earliest");
  await a.append(events(stream, 4));
  // `b` takes two and caches the group's cursor; `a` takes the other two, so `b`'s next look
  // sees only what `a` took, and loses the race for it.
  assertEquals((await b.claim(`${stream}-g`, [stream], sbOpts("b", 2, 0))).length, 2);
  assertEquals((await claimN(a, `${stream}-g`, [stream], 2, { consumer: "a" })).length, 2);
  const waited = b.claim(`${stream}-g`, [stream], sbOpts("b", 100, waitMs));
  await until(() => b.stats.claimConflicts === 1, 5_000);
  return { waited };
}

/** `a` appends five events to `stream` every 20 ms and takes `take` of them, until stopped. */
function appendAndTake(a: KvBackend, stream: string, take: number) {
  let running = true, next = 4;
  const done = (async () => {
    while (running) {
      await a.append(events(stream, 5, next));
      const got = await claimN(a, `${stream}-g`, [stream], take, { consumer: "a" });
      await a.settle(`${stream}-g`, got.map(ack));
      next += 5;
      await new Promise((r) => setTimeout(r, 20));
    }
    return next;
  })();
  return { stop: () => (running = false, done) };
}

Deno.test("a consumer outpaced by another of its group stands by, and takes over when it stops", () =>
  twoConnections(async (a, b) => {
    const { waited } = await outpace(a, b, "sb", 1_500);
    // `a` keeps up: it takes every batch as soon as it appends it.
    const keeper = appendAndTake(a, "sb", 5);
    const ringsBefore = b.stats.rings;
    assertEquals(await waited, [], "b took nothing while a kept up");
    const next = await keeper.stop();
    assert(next >= 24, `a appended and took ${next - 4} events meanwhile`);
    // It stood by: it raced no more, and did not wake for each of a's appends.
    assertEquals(b.stats.standbys, 1);
    assertEquals(b.stats.claimConflicts, 1);
    assert(b.stats.rings - ringsBefore <= 2, `b heard ${b.stats.rings - ringsBefore} rings`);
    // `a` stops taking: `b` takes the next events.
    await a.append(events("sb", 3, next));
    const after = await claimN(b, "sb-g", ["sb"], 3, { consumer: "b" });
    assertEquals(after.map(indexOf), [next, next + 1, next + 2]);
  }));

Deno.test("a consumer standing by joins in when the other falls behind", () =>
  twoConnections(async (a, b) => {
    const { waited } = await outpace(a, b, "sbl", 5_000);
    // `a` takes two of every five: what waits grows faster than it takes.
    const lagger = appendAndTake(a, "sbl", 2);
    const got = await waited;
    await lagger.stop();
    assertEquals(b.stats.standbys, 1);
    assert(got.length > 0, "b joined in");
    await b.settle("sbl-g", got.map(ack));
  }));
