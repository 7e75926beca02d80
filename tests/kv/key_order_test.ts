/**
 * Key order on the Deno KV backend beyond the conformance cases: the limits of one atomic
 * operation when many keys are freed and taken at once.
 *
 * @module
 */
import { assertEquals } from "@std/assert";
import type { Delivery } from "../../src/backend.ts";
import { bothStores, claimN, events } from "./_helpers.ts";

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
