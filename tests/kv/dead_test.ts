import { assert, assertEquals } from "@std/assert";
import type { Delivery } from "../../src/backend.ts";
import { eventKey } from "../../src/kv/keys.ts";
import { bothStores, claimN, events, indexOf } from "./_helpers.ts";

const boom = { name: "Error", message: "boom", stack: "Error: boom\n    at handler" };
const dead = (delivery: Delivery) => ({ delivery, outcome: "dead" as const, error: boom });

bothStores(
  "`deadLetters()` lists dead letters and `redrive()` moves one or all back",
  async (make) => {
    const b = make();
    await b.subscribe("dl-g", ["dl"], "earliest");
    const sent = events("dl", 3);
    await b.append(sent);
    const got = await claimN(b, "dl-g", ["dl"], 3);
    await b.settle("dl-g", got.map(dead));
    const letters = await b.deadLetters("dl-g");
    assertEquals(letters.map((l) => l.id), sent.map((e) => e.id));
    assertEquals(letters[0].group, "dl-g");
    assertEquals(letters[0].stream, "dl");
    assertEquals(letters[0].envelope, sent[0]);
    assertEquals(letters[0].error.message, "boom");
    assertEquals(letters[0].attempts, 1);
    assert(!Number.isNaN(Date.parse(letters[0].at)));
    assertEquals((await b.deadLetters("dl-g", { limit: 2 })).length, 2);

    // Redrive one: delivered again with a fresh attempt count.
    assertEquals(await b.redrive("dl-g", [sent[1].id, "no-such-id"]), 1);
    const [one] = await claimN(b, "dl-g", ["dl"], 1);
    assertEquals([indexOf(one), one.attempt], [1, 1]);
    await b.settle("dl-g", [{ delivery: one, outcome: "ack" }]);
    assertEquals((await b.deadLetters("dl-g")).length, 2);

    // Redrive all, even after retention trimmed the original events.
    const db = await b.open();
    await db.delete(eventKey("dl", 1));
    assertEquals(await b.redrive("dl-g"), 2);
    assertEquals(await b.deadLetters("dl-g"), []);
    const rest = await claimN(b, "dl-g", ["dl"], 2);
    assertEquals(rest.map(indexOf).sort(), [0, 2]);
    assertEquals(rest.map((d) => d.attempt), [1, 1]);
  },
);

bothStores("`settle()` dead-letters a malformed entry with its raw value", async (make) => {
  const b = make();
  await b.subscribe("dlm-g", ["dlm"], "earliest");
  const db = await b.open();
  await db.atomic().set(["herald", "ev", "dlm", 1], "not an envelope").set(
    ["herald", "seq", "dlm"],
    1,
  )
    .commit();
  const [d] = await claimN(b, "dlm-g", ["dlm"], 1);
  assert(d.malformed);
  await b.settle("dlm-g", [dead(d)]);
  const [letter] = await b.deadLetters("dlm-g");
  assertEquals(letter.raw, "not an envelope");
  assertEquals(letter.envelope, undefined);
  assertEquals(await b.redrive("dlm-g", [letter.id]), 1);
  const [again] = await claimN(b, "dlm-g", ["dlm"], 1);
  assertEquals(again.malformed?.raw, "not an envelope");
});

bothStores("`settle()` batches many settlements and skips lost leases", async (make) => {
  const b = make();
  await b.subscribe("many-g", ["many"], "earliest");
  await b.append(events("many", 250));
  const got = await claimN(b, "many-g", ["many"], 250, { leaseMs: 60_000 });
  assertEquals(got.length, 250);
  const forged = { ...got[0], ref: got[0].ref.split(":").slice(0, 2).join(":") + ":stolen" };
  await b.settle("many-g", [
    { delivery: forged, outcome: "dead", error: boom },
    ...got.map((delivery) => ({ delivery, outcome: "ack" as const })),
  ]);
  assertEquals(await b.deadLetters("many-g"), []);
  const none = await b.claim("many-g", ["many"], { consumer: "c", max: 9, leaseMs: 1, waitMs: 0 });
  assertEquals(none, []);
});
