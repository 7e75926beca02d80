import { assertEquals, assertRejects } from "@std/assert";
import { newStats, scan, unlocked } from "../../src/kv/store.ts";

Deno.test('`unlocked()` retries SQLite\'s "database is locked" and counts it', async () => {
  const stats = newStats();
  let calls = 0;
  const result = await unlocked(stats, () => {
    calls++;
    // What Deno KV throws when another process committed between our read and our write.
    if (calls < 3) return Promise.reject(new TypeError("database is locked"));
    return Promise.resolve("committed");
  });
  assertEquals(result, "committed");
  assertEquals(stats.lockedRetries, 2);
  await assertRejects(
    () => unlocked(stats, () => Promise.reject(new RangeError("other"))),
    RangeError,
  );
});

Deno.test("`scan()` reads past one batch in order and stops where `enough` says", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    for (let i = 0; i < 250; i += 50) {
      const op = kv.atomic();
      for (let j = i; j < i + 50; j++) op.set(["s", j], { n: j, pad: "x".repeat(20) });
      await op.commit();
    }
    const stats = newStats();
    const selector = { start: ["s", 10], end: ["s", 1_000] };
    const all = await scan<{ n: number }>(stats, kv, selector, { batchSize: 100 }, () => false);
    assertEquals(all.map((e) => e.value.n), Array.from({ length: 240 }, (_, i) => i + 10));
    const some = await scan<{ n: number }>(
      stats,
      kv,
      selector,
      { batchSize: 100 },
      (read) => read.length >= 130,
    );
    assertEquals(some.map((e) => e.value.n), Array.from({ length: 130 }, (_, i) => i + 10));
    assertEquals(some[129].key, ["s", 139]);
    assertEquals(typeof some[0].versionstamp, "string");
  } finally {
    kv.close();
  }
});
