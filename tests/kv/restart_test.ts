/**
 * Processes that open and close one database file again and again while others consume from it
 * with the doorbell watch on: no crash, no corrupted database, no event lost.
 *
 * @module
 */
import { assert, assertEquals } from "@std/assert";
import { createKvBackend } from "../../src/kv/mod.ts";
import { Bell, bellFile } from "../../src/kv/bell.ts";
import { type Mark, Waker } from "../../src/kv/wake.ts";
import { claimN, events, indexOf, tempDb, twoConnections, until } from "./_helpers.ts";
import { ConsumerProcess } from "./_process.ts";

Deno.test("`createKvBackend()` survives publishers restarting while consumer processes wait with the watch on", async () => {
  const db = await tempDb();
  const procs: ConsumerProcess[] = [];
  try {
    const setup = createKvBackend({ path: db.path });
    await setup.subscribe("churn-g", ["churn"], "earliest");
    await setup.close();
    procs.push(
      new ConsumerProcess(db.path, "churn-g", "churn", "w1", 5_000, 0),
      new ConsumerProcess(db.path, "churn-g", "churn", "w2", 5_000, 0),
    );
    await until(() => procs.every((p) => p.ready), 15_000);

    // Short-lived publishers, two at a time: each opens the database, appends one event at a
    // time, closes it and exits (the opening of a fresh process is when a dropped lock would
    // let it re-initialise the shared WAL index under the consumers).
    const rounds = 12;
    const per = 10;
    const script = new URL("./_churn.ts", import.meta.url).pathname;
    for (let r = 0; r < rounds; r++) {
      const outputs = await Promise.all([0, 1].map((j) =>
        new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", script, db.path, "churn", String((2 * r + j) * per), String(per)],
          stdout: "null",
          stderr: "piped",
        }).output()
      ));
      for (const o of outputs) {
        assertEquals(o.code, 0, `publisher failed: ${new TextDecoder().decode(o.stderr)}`);
      }
    }
    const total = rounds * 2 * per;
    const done = () =>
      new Set(procs.flatMap((p) => p.lines).filter((l) => l.kind === "done").map((l) => l.i));
    await until(() => done().size === total, 20_000);
    for (const p of procs.splice(0)) assertEquals((await p.stop()).code, 0);

    // The file is still a sound database, and holds every event.
    const check = createKvBackend({ path: db.path });
    await check.subscribe("churn-check", ["churn"], "earliest");
    const got = await check.claim("churn-check", ["churn"], {
      consumer: "c",
      max: total,
      leaseMs: 1_000,
      waitMs: 0,
    });
    assertEquals(got.map(indexOf).sort((a, b) => a - b), [...Array(total).keys()]);
    await check.close();
  } finally {
    for (const p of procs) await p.stop();
    await db.cleanup();
  }
});

Deno.test("`claim()` is woken by another process's doorbell ring", async () => {
  const db = await tempDb();
  const waiting = createKvBackend({ path: db.path, pollMs: 60_000 });
  try {
    await waiting.subscribe("bell-g", ["bell"], "latest");
    const claim = waiting.claim("bell-g", ["bell"], {
      consumer: "c",
      max: 10,
      leaseMs: 5_000,
      waitMs: 30_000,
    });
    const script = new URL("./_churn.ts", import.meta.url).pathname;
    const o = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", script, db.path, "bell", "0", "1"],
    }).output();
    assertEquals(o.code, 0);
    assertEquals((await claim).map(indexOf), [0]);
    assert(waiting.stats.rings > 0, "the waiting claim heard the ring");
  } finally {
    await waiting.close();
    await db.cleanup();
  }
});

Deno.test("`createKvBackend()` keeps its doorbell in `<path>.wake/`, apart from the database's files", async () => {
  const db = await tempDb();
  const b = createKvBackend({ path: db.path });
  try {
    await b.open();
    await b.append(events("orders", 1));
    const names: string[] = [];
    for await (const e of Deno.readDir(`${db.path}.wake`)) names.push(e.name);
    // Only bell files, one per stream appended to: nothing SQLite opens lives in the watched folder.
    assertEquals(names.sort(), ["appended.orders", "requeued"]);
    assertEquals(bellFile("appended", "a:b"), "appended.a%3Ab", "no `:` in a file name");
  } finally {
    await b.close();
    await db.cleanup();
  }
});

Deno.test("a consumer hears the rings of the streams it consumes, not the others'", async () => {
  await twoConnections(async (publisher, consumer) => {
    // A first event proves the consumer's watch open and hearing rings for "quiet".
    const first = claimN(consumer, "g", ["quiet"], 1);
    await publisher.append(events("quiet", 1));
    assertEquals((await first).length, 1);
    const before = consumer.stats.rings;
    // Appends to "busy" while the consumer waits on "quiet": each rings, none for it.
    const next = claimN(consumer, "g", ["quiet"], 1);
    for (let i = 0; i < 10; i++) {
      await publisher.append(events("busy", 1, i));
      await new Promise((r) => setTimeout(r, 20));
    }
    await publisher.append(events("quiet", 1, 1));
    assertEquals((await next).map(indexOf), [1]);
    const heard = consumer.stats.rings - before;
    assert(heard >= 1 && heard <= 2, `heard ${heard} rings: only the one for "quiet" is news`);
  });
});

Deno.test("a ring that comes while nobody waits wakes the next waiter", async () => {
  const dir = await Deno.makeTempDir();
  const bell = (await Bell.open(`${dir}/db`))!;
  const waker = new Waker((streams) => watchedFiles(bell, streams));
  waker.want(["s"]);
  const ring = () => bell.ring("appended", "s");
  try {
    // A wait opens the watch; it ends unrung.
    const stop = new AbortController();
    const opening = waker.wait(waker.mark(), 60_000, stop.signal);
    stop.abort();
    await opening;
    // A ring with nobody waiting: the watch is read once, then no more until someone waits.
    const before = waker.generation;
    ring();
    await until(() => waker.generation > before);
    const seen = waker.mark();
    ring(); // left unread in the watch
    let woken = false;
    const waiting = waker.wait(seen, 60_000).then(() => woken = true);
    await until(() => woken);
    await waiting;
    assert(waker.generation > seen.generation, "woken by the ring, not by the time");
  } finally {
    await waker.close();
    bell.close();
    await Deno.remove(dir, { recursive: true });
  }
});

/** The bell files a waker for claims on `streams` watches, as the backend's. */
function watchedFiles(bell: Bell, streams: readonly string[]): string[] {
  return [bell.path("requeued")!, ...streams.map((s) => bell.path("appended", s)!)];
}

/**
 * A doorbell in a temporary folder and a waker watching it for claims on stream "s" (its watch
 * opened by a wait that ends at once) (its watch opened by a wait that ends
 * at once), counting the rings it hears and the requeued rings it reports.
 */
async function watchedBell() {
  const dir = await Deno.makeTempDir();
  const bell = (await Bell.open(`${dir}/db`))!;
  const counts = { heard: 0, requeued: 0 };
  const waker = new Waker(
    (streams) => watchedFiles(bell, streams),
    () => counts.requeued++,
    () => counts.heard++,
    false,
    (kind, stream) => bell.lastRing(kind, stream),
  );
  waker.want(["s"]);
  const opening = new AbortController();
  const first = waker.wait(waker.mark(), 60_000, opening.signal);
  opening.abort();
  await first;
  /** Starts a wait for the look marked by `mark`; `woken()` tells whether it ended. */
  const waitFor = (mark: Mark) => {
    let woken = false;
    const waiting = waker.wait(mark, 60_000).then(() => woken = true);
    return { woken: () => woken, waiting };
  };
  /** Waits until a wait for the look marked by `mark` ends (it must, within `until`'s time). */
  const wokenFor = async (mark: Mark) => {
    const wait = waitFor(mark);
    await until(wait.woken);
    await wait.waiting;
  };
  const cleanup = async () => {
    await waker.close();
    bell.close();
    await Deno.remove(dir, { recursive: true });
  };
  /** Rings for an append to "s". */
  const appended = () => bell.ring("appended", "s");
  return { bell, waker, counts, appended, waitFor, wokenFor, cleanup };
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("a ring for a commit older than the waiter's look does not wake it; a newer one does", async () => {
  const { appended, waker, counts, waitFor, cleanup } = await watchedBell();
  try {
    // With nobody waiting, the watch is read once and then holds the next ring unread.
    appended();
    await until(() => counts.heard === 1);
    appended(); // held, like the rings a busy consumer's watch keeps
    await pause(5);
    const look = waitFor(waker.mark()); // a look that began after both commits saw them
    await until(() => counts.heard === 2);
    await pause(100); // time for a wrong wake-up to show
    assertEquals(look.woken(), false, "woken by a ring its look had seen");
    appended(); // news
    await until(look.woken);
    await look.waiting;
  } finally {
    await cleanup();
  }
});

Deno.test("a rested watch opens again on the next wait and learns of the rings it missed", async () => {
  const { bell, appended, waker, counts, waitFor, wokenFor, cleanup } = await watchedBell();
  try {
    // A watch rests only once the bell tells ring times: ring once first.
    appended();
    await until(() => counts.heard === 1);
    await pause(5);
    // An appended ring while resting, after the look: the next wait returns at once.
    waker.rest();
    const before = waker.mark();
    await pause(5);
    appended();
    await wokenFor(before);

    // Resting again, nothing rung since the look: the wait lasts until a ring.
    waker.rest();
    await pause(5);
    const quiet = waitFor(waker.mark());
    await pause(100); // time for a wrong wake-up to show
    assertEquals(quiet.woken(), false, "woken with nothing rung");
    appended();
    await until(quiet.woken);
    await quiet.waiting;

    // A "requeued" ring while resting is news, and says so.
    await pause(5);
    waker.rest();
    bell.ring("requeued");
    await wokenFor(waker.mark());
    // At least once: a watch reopened around the ring may report it as well (Deno 2.5's file
    // watch does), which costs one more look for retries and nothing else.
    assert(counts.requeued >= 1, `requeued heard ${counts.requeued} times`);
  } finally {
    await cleanup();
  }
});

Deno.test("a requeued ring held by a paused watch is not lost when the watch rests", async () => {
  const { bell, appended, waker, counts, wokenFor, cleanup } = await watchedBell();
  try {
    // Nobody waits: the watch reads one ring, then holds the next one unread.
    appended();
    await until(() => counts.heard === 1);
    bell.ring("requeued");
    await pause(20);
    assertEquals(counts.heard, 1, "the paused watch read the held ring");
    waker.rest(); // drops what the watch held
    await wokenFor(waker.mark());
    assertEquals(counts.requeued, 1);
  } finally {
    await cleanup();
  }
});
