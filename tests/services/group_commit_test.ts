/**
 * `createGroupCommit()`: writes made at once share commits, and a failed check fails only its
 * own write.
 */
import { assertEquals } from "@std/assert";
import { createGroupCommit } from "../../services/shared/group_commit.ts";

Deno.test("`createGroupCommit()` applies writes made at once, failing only the one whose check fails", async () => {
  const dir = await Deno.makeTempDir({ prefix: "herald-group-commit-" });
  const db = await Deno.openKv(`${dir}/db.sqlite`);
  try {
    await db.set(["taken"], 1);
    const commit = createGroupCommit(db);
    const writes = Array.from({ length: 100 }, (_, i) =>
      commit({
        checks: [{ key: i === 50 ? ["taken"] : ["free", i], versionstamp: null }],
        apply: (op) => op.set(["n", i], i),
      }));
    const results = await Promise.all(writes);
    assertEquals(results.filter((ok) => !ok).length, 1);
    assertEquals(results[50], false);
    let n = 0;
    for await (const _ of db.list({ prefix: ["n"] })) n++;
    assertEquals(n, 99);
  } finally {
    db.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("`createGroupCommit()` never lets two writes checking one key both pass", async () => {
  const db = await Deno.openKv(":memory:");
  try {
    const commit = createGroupCommit(db);
    const write = (n: number) =>
      commit({
        checks: [{ key: ["k"], versionstamp: null }],
        apply: (op) => op.set(["k"], n),
      });
    // The first write commits alone; the four after it gather while it runs.
    const first = commit({ checks: [], apply: (op) => op.set(["other"], 0) });
    const results = await Promise.all([write(0), write(1), write(2), write(3)]);
    assertEquals(await first, true);
    assertEquals(results.filter((ok) => ok).length, 1);
    assertEquals((await db.get(["k"])).value, results.indexOf(true));
  } finally {
    db.close();
  }
});
