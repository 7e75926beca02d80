/**
 * Delayed events across processes on one Deno KV file: the publishing process exits before the
 * events are due, and the consumers' processes promote them; three processes promote at once,
 * and every group still gets each event exactly once.
 *
 * @module
 */
import { assert, assertEquals } from "@std/assert";
import { ConsumerProcess } from "./_process.ts";
import { tempDb, until } from "./_helpers.ts";
import { duePrefix, seqKey } from "../../src/kv/keys.ts";

Deno.test("kv (file): delayed events of a process that exited are promoted once by the consumers' processes", async () => {
  const db = await tempDb();
  const stream = "delayed";
  const consumers = [
    new ConsumerProcess(db.path, "a", stream, "a1", 30_000, 0),
    new ConsumerProcess(db.path, "a", stream, "a2", 30_000, 0),
    new ConsumerProcess(db.path, "b", stream, "b1", 30_000, 0),
  ];
  try {
    await until(() => consumers.every((c) => c.ready), 30_000);
    const n = 100;
    const dueAt = Date.now() + 1_500;
    const publisher = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("./_delay_publisher.ts", import.meta.url).pathname,
        db.path,
        stream,
        String(n),
        String(dueAt),
      ],
      stderr: "inherit",
    }).output();
    assertEquals(publisher.code, 0);
    assert(Date.now() < dueAt, "the publisher exited before the events were due");
    const starts = (group: string) =>
      consumers.flatMap((c) => c.lines).filter((l) => l.kind === "start" && l.group === group);
    await until(() => starts("a").length >= n && starts("b").length >= n, 30_000);
    // Appended once: the stream's sequence counts n events, and the schedule is empty.
    const db2 = await Deno.openKv(db.path);
    try {
      assertEquals((await db2.get(seqKey(stream))).value, n);
      assertEquals((await Array.fromAsync(db2.list({ prefix: duePrefix }))).length, 0);
    } finally {
      db2.close();
    }
    for (const group of ["a", "b"]) {
      const seen = starts(group);
      assertEquals(seen.map((l) => l.i).sort((x, y) => x - y), [...Array(n).keys()], group);
      assert(seen.every((l) => l.at >= dueAt - 1), `${group}: none before its due time`);
    }
  } finally {
    await Promise.all(consumers.map((c) => c.stop()));
    await db.cleanup();
  }
});
