/**
 * The Deno KV backend across real OS processes sharing one database file.
 *
 * @module
 */
import { assert, assertEquals } from "@std/assert";
import { createKvBackend } from "../../src/kv/mod.ts";
import { events, tempDb, until } from "./_helpers.ts";
import { ConsumerProcess, type Line } from "./_process.ts";

Deno.test("a consumer process killed mid-handler has its events redelivered to another", async () => {
  const db = await tempDb();
  const backend = createKvBackend({ path: db.path });
  const procs: ConsumerProcess[] = [];
  try {
    await backend.subscribe("kill-g", ["kill"], "earliest");
    const doomed = new ConsumerProcess(db.path, "kill-g", "kill", "doomed", 1_000, 600_000);
    procs.push(doomed);
    await until(() => doomed.ready, 15_000);
    await backend.append(events("kill", 5));
    await until(() => doomed.lines.some((l) => l.kind === "start"));
    const status = await doomed.stop("SIGKILL");
    assertEquals(status.signal, "SIGKILL");
    const started = doomed.lines.find((l) => l.kind === "start")!;

    const heir = new ConsumerProcess(db.path, "kill-g", "kill", "heir", 1_000, 5);
    procs.push(heir);
    const done = () => new Set(heir.lines.filter((l) => l.kind === "done").map((l) => l.i));
    await until(() => done().size === 5, 15_000);
    assertEquals([...done()].sort(), [0, 1, 2, 3, 4]);
    const redelivered = heir.lines.find((l) => l.kind === "done" && l.i === started.i)!;
    assert(redelivered.attempt >= 2, `attempt ${redelivered.attempt} after the lease expired`);
  } finally {
    for (const p of procs) await p.stop();
    await backend.close();
    await db.cleanup();
  }
});

Deno.test("two groups across three consumer processes: fan-out, no concurrent double handling", async () => {
  const db = await tempDb();
  const backend = createKvBackend({ path: db.path });
  const procs: ConsumerProcess[] = [];
  try {
    await backend.subscribe("mp-x", ["mp"], "earliest");
    await backend.subscribe("mp-y", ["mp"], "earliest");
    procs.push(
      new ConsumerProcess(db.path, "mp-x", "mp", "x1", 5_000, 3),
      new ConsumerProcess(db.path, "mp-x", "mp", "x2", 5_000, 3),
      new ConsumerProcess(db.path, "mp-y", "mp", "y1", 5_000, 1),
    );
    await until(() => procs.every((p) => p.ready), 15_000);
    const total = 300;
    for (let k = 0; k < total; k += 10) {
      await Promise.all([
        backend.append(events("mp", 5, k)),
        backend.append(events("mp", 5, k + 5)),
      ]);
    }
    const lines = () => procs.flatMap((p) => p.lines);
    const doneIn = (g: string) =>
      new Set(lines().filter((l) => l.kind === "done" && l.group === g).map((l) => l.i));
    // Each consumer here awaits every ack before its next event, and an ack waits up to the
    // 50 ms hold for a claim to carry it: ~16 s for the 300 of the group with one consumer. The
    // deadline leaves room for a loaded machine (an 18 s one ran out once in CI).
    await until(() => doneIn("mp-x").size === total && doneIn("mp-y").size === total, 60_000);

    // Within a group, an event's handling intervals never overlap.
    for (const group of ["mp-x", "mp-y"]) {
      const byEvent = new Map<number, Line[]>();
      for (const l of lines().filter((l) => l.group === group)) {
        if (l.kind === "ready") continue;
        byEvent.set(l.i, [...(byEvent.get(l.i) ?? []), l]);
      }
      for (const [i, ls] of byEvent) {
        const spans = ls.filter((l) => l.kind === "start").map((s) => {
          const end = ls.find((l) =>
            l.kind === "done" && l.consumer === s.consumer && l.attempt === s.attempt
          );
          return [s.at, end?.at ?? Infinity];
        }).sort((a, b) => a[0] - b[0]);
        for (let k = 1; k < spans.length; k++) {
          assert(spans[k][0] >= spans[k - 1][1], `event ${i} handled twice at once in ${group}`);
        }
      }
    }
    // Lock contention between the processes ("database is locked") never surfaced: every
    // consumer stops cleanly.
    for (const p of procs.splice(0)) assertEquals((await p.stop()).code, 0);
  } finally {
    for (const p of procs) await p.stop();
    await backend.close();
    await db.cleanup();
  }
});
