/**
 * Retention never drops in silence: what it deletes before a group handled it (unread by a
 * lagging group, a due retry, an expired lease) is counted per group and logged as a warning.
 *
 * @module
 */
import { assertEquals, assertStringIncludes } from "@std/assert";
import { bothStores, claimN, events, indexOf, warnings } from "./_helpers.ts";

bothStores("retention counts and reports the unread events of a lagging group", async (make) => {
  const b = make({ retention: { maxLength: 3 } });
  await b.subscribe("slow", ["ret"], "earliest");
  for (const e of events("ret", 10)) await b.append([e]);
  await b.trim(["ret"]);
  const said = await warnings(async () => {
    assertEquals((await claimN(b, "slow", ["ret"], 3)).map(indexOf), [7, 8, 9]);
  });
  assertEquals(b.stats.trimmedByGroup, { slow: 7 });
  assertEquals(said.length, 1);
  assertStringIncludes(said[0], 'retention deleted 7 unread events of stream "ret"');
  assertStringIncludes(said[0], "group=slow");
  // A group made after the trim starts at the first event kept: nothing was lost for it.
  await b.subscribe("new", ["ret"], "earliest");
  assertEquals((await claimN(b, "new", ["ret"], 3)).map(indexOf), [7, 8, 9]);
  assertEquals(b.stats.trimmedByGroup.new, undefined);
});

bothStores("retention counts and reports a due retry whose event it deleted", async (make) => {
  const b = make({ retention: { maxLength: 2 } });
  await b.subscribe("g", ["ret"], "earliest");
  await b.append(events("ret", 1));
  const [first] = await claimN(b, "g", ["ret"], 1);
  const error = { name: "Error", message: "try again" };
  await b.settle("g", [{ delivery: first, outcome: "retry", delayMs: 0, error }]);
  for (const e of events("ret", 3, 1)) await b.append([e]);
  await b.trim(["ret"]);
  const said = await warnings(async () => {
    assertEquals((await claimN(b, "g", ["ret"], 2)).map(indexOf), [2, 3]);
  });
  // The retry of event 0 and the unread event 1 were both deleted before the group had them.
  assertEquals(b.stats.trimmedByGroup, { g: 2 });
  assertEquals(b.stats.trimmedUnhandled, 2);
  const all = said.join("\n");
  assertStringIncludes(all, "1 due retries or expired leases");
  assertStringIncludes(all, "1 unread events");
});
