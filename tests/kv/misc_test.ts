import { assert, assertEquals, assertRejects } from "@std/assert";
import { createEnvelope } from "../../src/envelope.ts";
import { BackendUnavailableError } from "../../src/errors.ts";
import { createKvBackend } from "../../src/kv/mod.ts";
import { bothStores, claimN, events, indexOf, tempDb, until } from "./_helpers.ts";

bothStores("`trim()` keeps the newest appends by length", async (make) => {
  const b = make({ retention: { maxLength: 3, streams: { "keep-all": {} } } });
  await b.subscribe("ret-g", ["ret"], "earliest");
  // Retention drops whole appends (one stored entry each): append one at a time here.
  for (const e of events("ret", 10)) await b.append([e]);
  for (const e of events("keep-all", 10)) await b.append([e]);
  await b.trim(["ret", "keep-all"]);
  assertEquals((await claimN(b, "ret-g", ["ret"], 3)).map(indexOf), [7, 8, 9]);
  await b.subscribe("ret-all", ["keep-all"], "earliest");
  assertEquals((await claimN(b, "ret-all", ["keep-all"], 10)).length, 10);
});

bothStores("`trim()` drops events older than maxAgeMs", async (make) => {
  const b = make({ retention: { streams: { age: { maxAgeMs: 60_000 } } } });
  const old = createEnvelope("age", "test.old", { i: 0 }, "tests");
  old.time = new Date(Date.now() - 120_000).toISOString();
  await b.append([old]);
  await b.append(events("age", 2, 1));
  await b.trim(["age"]); // the background trim after the append may have done it already
  await b.subscribe("age-g", ["age"], "earliest");
  assertEquals((await claimN(b, "age-g", ["age"], 2)).map(indexOf), [1, 2]);
});

bothStores("`tryLock()` gives a lock to one caller until it expires", async (make) => {
  const b = make();
  const results = await Promise.all([
    b.tryLock("job", 200),
    b.tryLock("job", 200),
    b.tryLock("job", 200),
  ]);
  assertEquals(results.filter(Boolean).length, 1);
  assertEquals(await b.tryLock("other-job", 200), true);
  await new Promise((r) => setTimeout(r, 250));
  assertEquals(await b.tryLock("job", 200), true);
});

Deno.test("`createKvBackend()` creates parent folders and leaves a given Deno.Kv open", async () => {
  const db = await tempDb();
  const nested = db.path.replace("bus.db", "a/b/bus.db");
  const b = createKvBackend({ path: nested });
  await b.append(events("dirs", 1));
  await b.close();
  assert((await Deno.stat(nested)).isFile);
  await assertRejects(() => b.append(events("dirs", 1)), BackendUnavailableError);

  const own = await Deno.openKv(":memory:");
  const shared = createKvBackend({ kv: own });
  assertEquals(await shared.open(), own);
  assertEquals(shared.kv, own);
  await shared.append(events("shared", 1));
  await shared.close();
  assertEquals((await own.get(["herald", "seq", "shared"])).value, 1); // still open
  own.close();
  await db.cleanup();
});

Deno.test("`close()` ends waiting claims and later calls fail", async () => {
  const b = createKvBackend({ path: ":memory:" });
  await b.subscribe("close-g", ["close"], "latest");
  const waiting = b.claim("close-g", ["close"], {
    consumer: "c",
    max: 1,
    leaseMs: 1000,
    waitMs: 30_000,
  });
  await new Promise((r) => setTimeout(r, 20));
  await b.close();
  assertEquals(await waiting, []);
  await assertRejects(() => b.tryLock("x", 10), BackendUnavailableError);
});

Deno.test("a claim after one that took everything wakes for another instance's append", async () => {
  const db = await tempDb();
  // A long backstop poll: only the doorbell can wake the second claim before its wait ends.
  const a = createKvBackend({ path: db.path, pollMs: 60_000 });
  const b = createKvBackend({ path: db.path, pollMs: 60_000 });
  try {
    await a.subscribe("wake-g", ["wake"], "earliest");
    const opts = { consumer: "c", max: 10, leaseMs: 30_000 };
    // An empty wait first, so that `a` watches the doorbell (and may skip looks).
    assertEquals(await a.claim("wake-g", ["wake"], { ...opts, waitMs: 50 }), []);
    await b.append(events("wake", 1));
    await until(() => a.stats.rings >= 1); // its ring is heard before the next look
    const first = await a.claim("wake-g", ["wake"], { ...opts, waitMs: 5_000 });
    assertEquals(first.map(indexOf), [0]); // took everything there was
    const second = a.claim("wake-g", ["wake"], { ...opts, waitMs: 20_000 });
    const heard = a.stats.rings;
    await b.append(events("wake", 1, 1));
    // Once `a` has heard that ring, close it: closing ends a claim still waiting with nothing,
    // so the event comes only from a claim the ring woke (or one that saw the ring before it
    // waited), not from the next timed look.
    await until(() => a.stats.rings > heard);
    await a.close();
    assertEquals((await second).map(indexOf), [1]);
  } finally {
    await a.close();
    await b.close();
    await db.cleanup();
  }
});
