import { assertEquals } from "@std/assert";
import type { Delivery } from "@herald/herald/backend";
import { createEnvelope } from "../../src/envelope.ts";
import { encodeRef } from "../../src/redis/keys.ts";
import { raw, redisTest } from "./_redis.ts";

const err = { name: "Error", message: "boom" };

async function eventually<T>(what: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const v = await what();
    if (ok(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
}

redisTest(
  "claim() hands out an entry read by a consumer that died before recording its lease",
  async ({ backend, prefix }) => {
    await backend.subscribe("g", ["s"], "earliest");
    const e = createEnvelope("s", "t", { n: 1 }, "test");
    await backend.append([e]);
    // What a consumer killed between its XREADGROUP and TRACK leaves: pending, no timer.
    const key = `${prefix}s|s`;
    const read = await raw(["XREADGROUP", "GROUP", "g", "dead", "COUNT", 1, "STREAMS", key, ">"]);
    const id = (read as [string, [string, unknown][]][])[0][1][0][0];
    // It has been idle a minute (XCLAIM sets the idle time), longer than the sweep waits.
    await raw(["XCLAIM", key, "g", "dead", 0, id, "IDLE", 60_000, "JUSTID"]);
    const got = await eventually(
      () => backend.claim("g", ["s"], { consumer: "b", max: 10, leaseMs: 100, waitMs: 100 }),
      (ds) => ds.length > 0,
    );
    assertEquals(got.map((d) => [d.envelope?.id, d.attempt]), [[e.id, 2]]);
    await backend.settle("g", [{ delivery: got[0], outcome: "ack" }]);
    assertEquals(await raw(["XPENDING", key, "g"]), [0, null, null, null]);
  },
);

redisTest(
  "settle() by a consumer of its own expired lease changes nothing once it re-claimed",
  async ({ backend }) => {
    await backend.subscribe("g", ["s"], "earliest");
    await backend.append([createEnvelope("s", "t", { n: 1 }, "test")]);
    const opts = { consumer: "a", max: 10, leaseMs: 50, waitMs: 0 };
    const [first] = await backend.claim("g", ["s"], opts);
    const [again] = await eventually(
      () => backend.claim("g", ["s"], { ...opts, waitMs: 200 }),
      (ds) => ds.length > 0,
    );
    assertEquals([first.attempt, again.attempt], [1, 2]);
    // The first lease is gone: its retry changes nothing, and the second one's ack holds.
    await backend.settle("g", [{ delivery: first, outcome: "retry", delayMs: 0, error: err }]);
    await backend.settle("g", [{ delivery: again, outcome: "ack" }]);
    const after = await backend.claim("g", ["s"], { ...opts, leaseMs: 10_000, waitMs: 300 });
    assertEquals(after, []);
  },
);

redisTest(
  "settle() applies a mixed batch over two streams, each outcome once",
  async ({ backend }) => {
    await backend.subscribe("g", ["x", "y"], "earliest");
    await backend.append([
      ...[1, 2, 3].map((n) => createEnvelope("x", "t", { n }, "test")),
      ...[4, 5].map((n) => createEnvelope("y", "t", { n }, "test")),
    ]);
    const opts = { consumer: "a", max: 3, leaseMs: 10_000, waitMs: 0 };
    const got: Delivery[] = [];
    // max holds across streams: a claim over two streams never returns more than asked.
    for (let i = 0; i < 5 && got.length < 5; i++) {
      const ds = await backend.claim("g", ["x", "y"], opts);
      assertEquals(ds.length <= 3, true);
      got.push(...ds);
    }
    const n = (d: Pick<Delivery, "envelope">) => (d.envelope!.data as { n: number }).n;
    got.sort((a, b) => n(a) - n(b));
    assertEquals(got.map(n), [1, 2, 3, 4, 5]);
    // Out of order, with a duplicate: 1 acked (twice), 2 dead, 3 retried, 4 released, 5 acked.
    await backend.settle("g", [
      { delivery: got[4], outcome: "ack" },
      { delivery: got[2], outcome: "retry", delayMs: 0, error: err },
      { delivery: got[0], outcome: "ack" },
      { delivery: got[1], outcome: "dead", error: err },
      { delivery: got[3], outcome: "release" },
      { delivery: got[0], outcome: "ack" },
    ]);
    const again = await eventually(
      () => backend.claim("g", ["x", "y"], { ...opts, max: 10, waitMs: 100 }),
      (ds) => ds.length >= 2,
    );
    assertEquals(again.map((d) => [n(d), d.attempt]).sort(), [[3, 2], [4, 1]]);
    assertEquals((await backend.deadLetters("g")).map(n), [2]);
  },
);

redisTest(
  "settle() and extend() find a lease whose timer was never recorded",
  async ({ backend, prefix }) => {
    await backend.subscribe("g", ["s"], "earliest");
    await backend.append([1, 2].map((n) => createEnvelope("s", "t", { n }, "test")));
    const key = `${prefix}s|s`;
    const read = await raw(["XREADGROUP", "GROUP", "g", "c", "COUNT", 2, "STREAMS", key, ">"]);
    const ids = (read as [string, [string, unknown][]][])[0][1].map((e) => e[0]);
    const delivery = (entryId: string): Delivery => ({
      stream: "s",
      ref: encodeRef({ source: "s", stream: "s", entryId, count: 1, consumer: "c" }),
      attempt: 1,
    });
    const stranger: Delivery = {
      ...delivery(ids[1]),
      ref: encodeRef({ source: "s", stream: "s", entryId: ids[1], count: 1, consumer: "x" }),
    };
    assertEquals(await backend.extend("g", [delivery(ids[0]), stranger], 10_000), [stranger]);
    await backend.settle("g", [
      { delivery: delivery(ids[0]), outcome: "ack" },
      { delivery: stranger, outcome: "ack" },
    ]);
    const pending = await raw(["XPENDING", key, "g", "-", "+", 10]) as unknown[][];
    assertEquals(pending.map((p) => p[0]), [ids[1]]);
  },
);

redisTest(
  "settle() right after a claim: acks skip the lease record, other outcomes keep theirs",
  async ({ backend, prefix }) => {
    await backend.subscribe("g", ["s"], "earliest");
    const events = [1, 2, 3, 4].map((n) => createEnvelope("s", "t", { n }, "test"));
    await backend.append(events);
    const opts = { consumer: "a", max: 10, leaseMs: 10_000, waitMs: 0 };
    const ds = await backend.claim("g", ["s"], opts);
    assertEquals(ds.map((d) => d.envelope?.id), events.map((e) => e.id));
    // In the same task as the claim: two acks (one of them twice), a retry and a release.
    await backend.settle("g", [
      { delivery: ds[0], outcome: "ack" },
      { delivery: ds[1], outcome: "retry", delayMs: 60_000, error: err },
      { delivery: ds[2], outcome: "release" },
      { delivery: ds[3], outcome: "ack" },
      { delivery: ds[0], outcome: "ack" },
    ]);
    const key = `${prefix}s|s`;
    const pending = await raw(["XPENDING", key, "g", "-", "+", 10]) as [string][];
    assertEquals(
      pending.map((p) => p[0]).sort(),
      [ds[1], ds[2]].map((d) => d.ref.split("|")[2]).sort(),
    );
    // Timers: the retry and the release, nothing for the acks (beside the sentinel).
    const timers = await raw(["ZRANGE", `${prefix}t|s|g`, 0, -1]) as string[];
    const ids = timers.filter((m) => !m.startsWith("herald-timers-")).map((m) => m.split("|")[0]);
    assertEquals(ids.sort(), [ds[1], ds[2]].map((d) => d.ref.split("|")[2]).sort());
    // The released one comes back at once; the retry waits its minute.
    const again = await backend.claim("g", ["s"], opts);
    assertEquals(again.map((d) => d.envelope?.id), [events[2].id]);
  },
);

redisTest(
  "settle() while the consumer's next claim waits for entries is not held up by it",
  async ({ backend, prefix }) => {
    await backend.subscribe("g", ["s"], "earliest");
    await backend.append([createEnvelope("s", "t", { n: 1 }, "test")]);
    const opts = { consumer: "a", max: 10, leaseMs: 10_000, waitMs: 0 };
    const [d] = await backend.claim("g", ["s"], opts);
    // The next claim waits (a blocking read on the consumer's connection) for 5 s.
    let waiting = true;
    const next = backend.claim("g", ["s"], { ...opts, waitMs: 5_000 }).finally(() => {
      waiting = false;
    });
    await new Promise((r) => setTimeout(r, 1));
    await backend.settle("g", [{ delivery: d, outcome: "ack" }]);
    // The claim still waits: the ack did not queue behind its read.
    assertEquals(waiting, true);
    const clients = String(await raw(["CLIENT", "LIST"])).split("\n");
    assertEquals(
      clients.some((c) => c.includes("flags=b") && c.includes("cmd=xreadgroup")),
      true,
    );
    assertEquals(await raw(["XPENDING", `${prefix}s|s`, "g"]), [0, null, null, null]);
    await backend.close();
    assertEquals(await next, []);
  },
);
