/**
 * Key order on the Deno KV backend beyond the conformance cases: the limits of one atomic
 * operation when many keys are freed and taken at once, and a claim of 500 keys in one operation.
 *
 * @module
 */
import { assert, assertEquals } from "@std/assert";
import type { Delivery } from "../../src/backend.ts";
import { bothStores, claimN, events, twoConnections } from "./_helpers.ts";

const keyed = (stream: string, from: number, keys: string[]) =>
  events(stream, keys.length, from).map((e, i) => ({ ...e, key: keys[i] }));
const ack = (delivery: Delivery) => ({ delivery, outcome: "ack" as const });
const ks = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

bothStores(
  "`claim()` takes many events handed their key and many new keys within one operation's checks",
  async (make) => {
    const b = make();
    await b.subscribe("many-g", ["many"], "earliest");
    await b.append(keyed("many", 0, ks("k", 100)));
    const first = await claimN(b, "many-g", ["many"], 100);
    assertEquals(first.length, 100);
    // The same keys again: all parked behind the first hundred.
    await b.append(keyed("many", 100, ks("k", 100)));
    assertEquals(
      await b.claim("many-g", ["many"], {
        consumer: "c1",
        max: 500,
        leaseMs: 30_000,
        waitMs: 0,
      }),
      [],
    );
    // A hundred new keys, then the first hundred acked: their successors are ready at once.
    await b.append(keyed("many", 200, ks("n", 100)));
    await b.settle("many-g", first.map(ack));
    const rest = await claimN(b, "many-g", ["many"], 200);
    assertEquals(rest.map((d) => (d.envelope!.data as { i: number }).i).sort((x, y) => x - y), [
      ...Array.from({ length: 200 }, (_, i) => 100 + i),
    ]);
  },
);

bothStores("events waiting for their key, and a keyed retry, survive retention", async (make) => {
  const b = make({ retention: { maxLength: 1 } });
  await b.subscribe("keep-g", ["keep"], "earliest");
  await b.append(keyed("keep", 0, ["k", "k", "k"]));
  // One claim reads all three: it hands out the first and parks the others behind it.
  const [first, ...none] = await b.claim("keep-g", ["keep"], {
    consumer: "c1",
    max: 10,
    leaseMs: 30_000,
    waitMs: 0,
  });
  assertEquals(none, []);
  const err = { name: "Error", message: "not yet" };
  await b.settle("keep-g", [{ delivery: first, outcome: "retry", delayMs: 0, error: err }]);
  await b.append(keyed("keep", 3, ["j"])); // the stream now keeps only this one
  assert(await b.trim(["keep"]) > 0, "the first three were trimmed");
  const order: number[] = [];
  for (let n = 0; n < 4; n++) {
    const [d] = await claimN(b, "keep-g", ["keep"], 1);
    order.push((d.envelope!.data as { i: number }).i);
    await b.settle("keep-g", [ack(d)]);
  }
  assertEquals(order.filter((i) => i !== 3), [0, 1, 2], "k in order, none lost to the trim");
});

Deno.test("a key held by a process whose lease lapsed is taken over and freed by another", async () => {
  await twoConnections(async (a, b) => {
    await a.subscribe("over-g", ["over"], "earliest");
    await a.append(keyed("over", 0, ["k", "k"]));
    const [dies] = await claimN(a, "over-g", ["over"], 1, { leaseMs: 200 });
    assertEquals((dies.envelope!.data as { i: number }).i, 0);
    const [again] = await claimN(b, "over-g", ["over"], 1);
    assertEquals([again.envelope!.id, again.attempt], [dies.envelope!.id, 2]);
    await b.settle("over-g", [ack(again)]);
    const [next] = await claimN(a, "over-g", ["over"], 1);
    assertEquals((next.envelope!.data as { i: number }).i, 1);
  });
});

bothStores(
  "one claim hands out 500 events of 500 keys, and takes them again after freeing every key",
  async (make) => {
    const b = make();
    const opts = { consumer: "c1", max: 500, leaseMs: 30_000, waitMs: 0 };
    await b.subscribe("wide-g", ["wide"], "earliest");
    await b.append(keyed("wide", 0, ks("k", 500)));
    // Holds share a few entries, so one claim's checks cover all 500 keys.
    const first = await b.claim("wide-g", ["wide"], opts);
    assertEquals(first.length, 500);
    // Acking every event frees every key; this process knows the holds are gone, so its next
    // claim of the same keys commits without a failed check.
    await b.settle("wide-g", first.map(ack));
    await b.append(keyed("wide", 500, ks("k", 500)));
    const again = await b.claim("wide-g", ["wide"], opts);
    assertEquals(again.length, 500);
    assertEquals(b.stats.claimConflicts, 0);
    assertEquals(
      again.map((d) => (d.envelope!.data as { i: number }).i),
      Array.from({ length: 500 }, (_, i) => 500 + i),
    );
  },
);
