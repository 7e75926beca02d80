import { assertEquals, assertRejects } from "@std/assert";
import { newStats, unlocked } from "../../src/kv/store.ts";

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
