/**
 * Dead letters have a bound on Deno KV (`deadLetterMaxLen`): past it the oldest go, counted and
 * logged; redrive and purge keep the count, so they never make trimming take too many.
 *
 * @module
 */
import { assertEquals, assertStringIncludes } from "@std/assert";
import type { Delivery } from "../../src/backend.ts";
import { bothStores, claimN, events, indexOf, until, warnings } from "./_helpers.ts";

const boom = { name: "Error", message: "boom" };
const dead = (delivery: Delivery) => ({ delivery, outcome: "dead" as const, error: boom });

bothStores(
  "deadLetterMaxLen keeps a group's newest dead letters, counting and logging the rest",
  async (make) => {
    const b = make({ deadLetterMaxLen: 3 });
    await b.subscribe("dl", ["dlb"], "earliest");
    for (const e of events("dlb", 5)) await b.append([e]);
    const got = await claimN(b, "dl", ["dlb"], 5);
    const said = await warnings(async () => {
      await b.settle("dl", got.map(dead));
      await until(() => b.stats.deadTrimmed === 2);
    });
    const kept = await b.deadLetters("dl");
    assertEquals(kept.map((d) => (d.envelope!.data as { i: number }).i), [2, 3, 4]);
    assertEquals(said.length, 1);
    assertStringIncludes(said[0], "deleted the 2 oldest dead letters");
    assertEquals(got.map(indexOf), [0, 1, 2, 3, 4]);
  },
);

bothStores(
  "redrive and purge keep the dead-letter count, so trimming takes only what is past the bound",
  async (make) => {
    const b = make({ deadLetterMaxLen: 3 });
    await b.subscribe("dl", ["dlc"], "earliest");
    const said = await warnings(async () => {
      for (const e of events("dlc", 3)) await b.append([e]);
      await b.settle("dl", (await claimN(b, "dl", ["dlc"], 3)).map(dead));
      assertEquals(await b.redrive("dl"), 3);
      // The three come back and die again, with two more: five dead letters, bound 3.
      for (const e of events("dlc", 2, 3)) await b.append([e]);
      await b.settle("dl", (await claimN(b, "dl", ["dlc"], 5)).map(dead));
      await until(() => b.stats.deadTrimmed > 0);
      assertEquals(await b.purgeDeadLetters("dl"), 3);
      // After the purge the count is 0 again: three more fit.
      for (const e of events("dlc", 3, 5)) await b.append([e]);
      await b.settle("dl", (await claimN(b, "dl", ["dlc"], 3)).map(dead));
      await b.close(); // waits for background trims
    });
    assertEquals(b.stats.deadTrimmed, 2);
    assertEquals(said.length, 1);
  },
);
