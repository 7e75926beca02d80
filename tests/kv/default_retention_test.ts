/**
 * Bounded by default: a Deno KV stream keeps its newest DEFAULT_MAX_LENGTH events unless told
 * otherwise, and `"none"` keeps every event.
 *
 * @module
 */
import { assertEquals, assertThrows } from "@std/assert";
import { createKvBackend, DEFAULT_MAX_LENGTH } from "../../src/kv/mod.ts";
import { InvalidOptionsError } from "../../src/errors.ts";
import { bothStores, claimN, events } from "./_helpers.ts";

bothStores(
  "createKvBackend() keeps the newest DEFAULT_MAX_LENGTH events of a stream by default",
  async (make) => {
    const b = make();
    await b.append(events("bounded", 1));
    const [info] = (await b.streams()).filter((s) => s.stream === "bounded");
    assertEquals(DEFAULT_MAX_LENGTH, 1_000_000);
    assertEquals(info.retention, { maxLength: DEFAULT_MAX_LENGTH });
  },
);

bothStores('createKvBackend({ retention: "none" }) keeps every event', async (make) => {
  const b = make({ retention: "none" });
  for (const e of events("all", 5)) await b.append([e]);
  assertEquals(await b.trim(["all"]), 0);
  const [info] = (await b.streams()).filter((s) => s.stream === "all");
  assertEquals(info.retention, undefined);
  await b.subscribe("all-g", ["all"], "earliest");
  assertEquals((await claimN(b, "all-g", ["all"], 5)).length, 5);
});

bothStores('a stream given "none" keeps every event while the others are trimmed', async (make) => {
  const b = make({ retention: { maxLength: 2, streams: { keep: "none" } } });
  for (const e of events("keep", 5)) await b.append([e]);
  for (const e of events("cut", 5)) await b.append([e]);
  assertEquals(await b.trim(["keep"]), 0);
  await b.trim(["cut"]);
  const infos = await b.streams();
  assertEquals(infos.find((s) => s.stream === "keep")?.length, 5);
  assertEquals(infos.find((s) => s.stream === "cut")?.length, 2);
});

Deno.test('createKvBackend() rejects a retention that is neither an object nor "none"', () => {
  const err = assertThrows(
    // deno-lint-ignore no-explicit-any
    () => createKvBackend({ path: ":memory:", retention: "all" as any }),
    InvalidOptionsError,
  );
  assertEquals(err.message.includes('retention must be an object or "none"'), true);
});
