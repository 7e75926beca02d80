import { assertEquals } from "@std/assert";
import { compareIds, leaseRuns } from "../../src/redis/lease_args.ts";
import { decodeRef, encodeRef, Keys } from "../../src/redis/keys.ts";

Deno.test("compareIds() orders stream entry ids as Redis does", () => {
  const ids = ["10-0", "9-10", "9-2", "0-0", "1732000000000-1", "1732000000000-0", "9-10"];
  const sorted = ids.toSorted(compareIds);
  assertEquals(sorted, [
    "0-0",
    "9-2",
    "9-10",
    "9-10",
    "10-0",
    "1732000000000-0",
    "1732000000000-1",
  ]);
  assertEquals(Math.sign(compareIds("5-9", "5-10")), -1);
  assertEquals(Math.sign(compareIds("6-0", "5-10")), 1);
  assertEquals(compareIds("7-3", "7-3"), 0);
});

Deno.test("leaseRuns() groups by source, stream and consumer, each run sorted by id", () => {
  const refs = [
    { source: "s", stream: "a", entryId: "2-0", count: 1, consumer: "c" },
    { source: "s", stream: "a", entryId: "1-0", count: 1, consumer: "c" },
    { source: "s", stream: "b", entryId: "1-5", count: 2, consumer: "c" },
    { source: "r", stream: "a", entryId: "3-0", count: 1, consumer: "c" },
    { source: "s", stream: "a", entryId: "1-1", count: 1, consumer: "d" },
    { source: "s", stream: "a", entryId: "3-0", count: 1, consumer: "c" },
  ].map((r) => encodeRef(r as Parameters<typeof encodeRef>[0]));
  const runs = leaseRuns(new Keys("p:"), "g", refs, decodeRef, (_, ref) => ({
    entryId: ref.entryId,
  }));
  assertEquals(
    runs.map((r) => [r.keys, r.consumer, r.redrive, r.entries.map((e) => e.entryId)]),
    [
      [["p:s|a", "p:t|a|g"], "c", false, ["1-0", "2-0", "3-0"]],
      [["p:s|b", "p:t|b|g"], "c", false, ["1-5"]],
      [["p:r|a|g", "p:rt|a|g"], "c", true, ["3-0"]],
      [["p:s|a", "p:t|a|g"], "d", false, ["1-1"]],
    ],
  );
});
