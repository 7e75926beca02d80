/**
 * Settlements held for a claim to carry (one commit per consumer batch), and the doorbell's
 * "requeued" ring.
 *
 * @module
 */
import { assert, assertEquals } from "@std/assert";
import type { Delivery } from "../../src/backend.ts";
import { createKvBackend } from "../../src/kv/mod.ts";
import { bothStores, claimN, events, indexOf, tempDb, twoConnections } from "./_helpers.ts";

const ack = (delivery: Delivery) => ({ delivery, outcome: "ack" as const });
const opts = (consumer: string, leaseMs = 30_000) => ({
  consumer,
  max: 1,
  leaseMs,
  waitMs: 0,
});

bothStores("`settle()` rides in the next claim's commit", async (make) => {
  const b = make();
  await b.subscribe("ride-g", ["ride"], "earliest");
  await b.append(events("ride", 6));
  // Each ack is held while the next claim runs, which carries it (unless that claim takes longer
  // than the hold, on a very busy machine: then it is written alone, hence several rounds).
  const settled: Promise<void>[] = [];
  const got: number[] = [];
  for (let i = 0; i < 5; i++) {
    const [d] = await b.claim("ride-g", ["ride"], opts("c", 150));
    got.push(indexOf(d));
    settled.push(b.settle("ride-g", [ack(d)]));
  }
  await Promise.all(settled);
  assertEquals(got, [0, 1, 2, 3, 4]);
  assert(b.stats.carriedSettles >= 1, "an ack rode in a claim's commit");
  // The acks were written: once their short leases would have expired, none is handed out
  // again; only the last event is.
  await new Promise((r) => setTimeout(r, 200));
  const rest = await claimN(b, "ride-g", ["ride"], 2, { consumer: "other", deadlineMs: 500 });
  assertEquals(rest.map(indexOf), [5]);
});

bothStores("`settle()` is written on its own when no claim comes", async (make) => {
  const b = make();
  await b.subscribe("alone-g", ["alone"], "earliest");
  await b.append(events("alone", 1));
  const [d] = await b.claim("alone-g", ["alone"], opts("c", 100));
  await b.settle("alone-g", [ack(d)]);
  assertEquals(b.stats.carriedSettles, 0);
  await new Promise((r) => setTimeout(r, 150));
  const none = await b.claim("alone-g", ["alone"], { ...opts("other"), waitMs: 50 });
  assertEquals(none.length, 0);
});

Deno.test("`settle()` held by a claim that lost its race rides in the claim's next attempt", () =>
  twoConnections(async (a, b) => {
    await a.subscribe("race-g", ["race"], "earliest");
    await a.append(events("race", 3));
    const [first] = await a.claim("race-g", ["race"], opts("a"));
    // Another backend moves the group's cursor: `a`'s cached one is stale, so its next claim
    // loses the race once, pauses, and looks again.
    await b.claim("race-g", ["race"], opts("b"));
    const settled = a.settle("race-g", [ack(first)]);
    // The pause after a lost race is random, up to past the longest hold: a pause of 0 makes
    // the next attempt come within the hold, the case this test is about.
    const random = Math.random;
    Math.random = () => 0;
    let next;
    try {
      [next] = await a.claim("race-g", ["race"], opts("a"));
    } finally {
      Math.random = random;
    }
    await settled;
    assertEquals(indexOf(next), 2);
    assertEquals(a.stats.claimConflicts, 1);
    assertEquals(a.stats.carriedSettles, 1, "the ack rode in the claim that won, not alone");
  }));

Deno.test("`close()` writes settlements still held", async () => {
  const db = await tempDb();
  try {
    const b = createKvBackend({ path: db.path });
    await b.subscribe("held-g", ["held"], "earliest");
    await b.append(events("held", 1));
    const [d] = await b.claim("held-g", ["held"], opts("c", 100));
    const settled = b.settle("held-g", [{
      delivery: d,
      outcome: "retry",
      delayMs: 0,
      error: { name: "Error", message: "boom" },
    }]);
    await b.close();
    await settled;
    const again = createKvBackend({ path: db.path });
    const [retried] = await claimN(again, "held-g", ["held"], 1, { consumer: "next" });
    assertEquals(retried.attempt, 2);
    await again.close();
  } finally {
    await db.cleanup();
  }
});

Deno.test("`settle()` with a release rings the doorbell and wakes another backend's claim", async () => {
  const db = await tempDb();
  const waiting = createKvBackend({ path: db.path, pollMs: 60_000 });
  const other = createKvBackend({ path: db.path });
  try {
    await waiting.subscribe("bell-rq", ["bellrq"], "earliest");
    await other.append(events("bellrq", 1));
    const [d] = await claimN(other, "bell-rq", ["bellrq"], 1, { consumer: "o" });
    const claim = waiting.claim("bell-rq", ["bellrq"], {
      consumer: "w",
      max: 1,
      leaseMs: 5_000,
      waitMs: 20_000,
    });
    await other.settle("bell-rq", [{ delivery: d, outcome: "release" }]);
    const [again] = await claim;
    assertEquals(indexOf(again), 0);
    assertEquals(again.attempt, 1); // a release does not count an attempt
    assert(waiting.stats.rings > 0, "the waiting backend heard the ring");
  } finally {
    await waiting.close();
    await other.close();
    await db.cleanup();
  }
});
