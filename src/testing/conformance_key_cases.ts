/**
 * Conformance cases of key order (message groups): within a consumer group, events of one stream
 * with the same `key` are handed out one at a time, in append order, across every consumer and
 * every handler of the group. A key is held from claim until ack or dead letter.
 *
 * @module
 */
import { deepStrictEqual as equal, ok } from "node:assert/strict";
import { z } from "zod";
import type { Delivery } from "../backend.ts";
import { createBus } from "../bus.ts";
import { defineEvent } from "../contract.ts";
import { createWorker } from "../worker.ts";
import type { CaseFn, CaseKit } from "./conformance.ts";
import { ns } from "./conformance.ts";

const err = { name: "Error", message: "boom" };

/** Appends events `n = 0..` on `stream`, each with the key given for it. */
async function appendKeyed(k: CaseKit, stream: string, keys: string[]): Promise<void> {
  await k.backend.append(k.events(stream, keys.length).map((e, i) => ({ ...e, key: keys[i] })));
}

const ack = (k: CaseKit, group: string, ds: Delivery[]) =>
  k.backend.settle(group, ds.map((delivery) => ({ delivery, outcome: "ack" as const })));

async function until(check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("Timed out waiting for a condition");
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Claims until nothing more comes within a short wait. */
async function drain(k: CaseKit, group: string, stream: string, consumer: string) {
  const out: Delivery[] = [];
  while (true) {
    const got = await k.claim(group, [stream], { consumer, waitMs: 100 });
    if (got.length === 0) return out;
    out.push(...got);
  }
}

/** Backend-level key cases, by name. */
const CLAIM_CASES: Readonly<Record<string, CaseFn>> = {
  "key order: a key's next event waits for its ack, across consumers; other keys flow": async (
    k,
  ) => {
    const s = k.name("s"), g = k.name("g");
    await k.backend.subscribe(g, [s], "earliest");
    await appendKeyed(k, s, ["k", "k", "k", "j"]);
    const x = await k.claimUntil(g, [s], 2, { consumer: "x" });
    equal(ns(x), [0, 3], "one event of each key");
    equal(await drain(k, g, s, "y"), [], "k is held by x: y gets nothing");
    await ack(k, g, x);
    const y = await k.claimUntil(g, [s], 1, { consumer: "y" });
    equal(ns(y), [1]);
    equal(await drain(k, g, s, "x"), [], "k is held by y");
    await ack(k, g, y);
    equal(ns(await k.claimUntil(g, [s], 1, { consumer: "x" })), [2]);
  },

  "key order: a retry holds its key while other keys flow": async (k) => {
    const s = k.name("s"), g = k.name("g");
    await k.backend.subscribe(g, [s], "earliest");
    await appendKeyed(k, s, ["k", "k", "j"]);
    const first = await k.claimUntil(g, [s], 2);
    equal(ns(first), [0, 2]);
    await k.backend.settle(g, [
      { delivery: first[0], outcome: "retry", delayMs: 300, error: err },
      { delivery: first[1], outcome: "ack" },
    ]);
    await appendKeyed(k, s, ["j"]);
    const [j] = await k.claimUntil(g, [s], 1);
    equal(j.envelope?.key, "j", "other keys flow past the retry");
    await ack(k, g, [j]);
    const [again] = await k.claimUntil(g, [s], 1);
    equal(again.envelope?.id, first[0].envelope?.id, "the retry comes before the key's next");
    equal(again.attempt, 2);
    equal(await drain(k, g, s, "c2"), [], "k is held until the retry is settled");
    await ack(k, g, [again]);
    equal(ns(await k.claimUntil(g, [s], 1)), [1]);
  },

  "key order: an expired lease holds its key": async (k) => {
    const s = k.name("s"), g = k.name("g");
    await k.backend.subscribe(g, [s], "earliest");
    await appendKeyed(k, s, ["k", "k"]);
    const [a] = await k.claimUntil(g, [s], 1, { consumer: "a", leaseMs: 200 });
    equal(ns([a]), [0]);
    const [b] = await k.claimUntil(g, [s], 1, { consumer: "b" });
    equal(b.envelope?.id, a.envelope?.id, "the expired delivery comes back, not the next");
    equal(b.attempt, 2);
    equal(await drain(k, g, s, "c"), []);
    await ack(k, g, [b]);
    equal(ns(await k.claimUntil(g, [s], 1, { consumer: "c" })), [1]);
  },

  "key order: a released delivery keeps its key and comes back at once": async (k) => {
    const s = k.name("s"), g = k.name("g");
    await k.backend.subscribe(g, [s], "earliest");
    await appendKeyed(k, s, ["k", "k"]);
    const [d] = await k.claimUntil(g, [s], 1);
    await k.backend.settle(g, [{ delivery: d, outcome: "release" }]);
    const again = await k.claimUntil(g, [s], 1, { consumer: "other" });
    equal(ns(again), [0]);
    equal(again[0].attempt, 1);
  },

  "key order: dead-lettering releases the key; a redriven event waits for its key": async (k) => {
    const s = k.name("s"), g = k.name("g");
    await k.backend.subscribe(g, [s], "earliest");
    await appendKeyed(k, s, ["k", "k", "k"]);
    const [d0] = await k.claimUntil(g, [s], 1);
    await k.backend.settle(g, [{ delivery: d0, outcome: "dead", error: err }]);
    const [d1] = await k.claimUntil(g, [s], 1);
    equal(ns([d1]), [1], "the next event of the key is free once the first is dead");
    equal(await k.backend.redrive(g), 1);
    equal(await drain(k, g, s, "c2"), [], "the redriven event waits while k is held");
    await ack(k, g, [d1]);
    const [back] = await k.claimUntil(g, [s], 1);
    equal(back.envelope?.id, d0.envelope?.id, "the redriven event comes before later ones");
    await ack(k, g, [back]);
    equal(ns(await k.claimUntil(g, [s], 1)), [2]);
  },

  "key order: one key on two streams is two keys; unkeyed events are not held": async (k) => {
    const s1 = k.name("s1"), s2 = k.name("s2"), g = k.name("g");
    await k.backend.subscribe(g, [s1, s2], "earliest");
    await appendKeyed(k, s1, ["k", "k"]);
    await appendKeyed(k, s2, ["k"]);
    await k.backend.append(k.events(s1, 3).map((e, i) => ({ ...e, data: { n: 10 + i } })));
    const got = await k.claimUntil(g, [s1, s2], 5);
    equal(got.filter((d) => d.stream === s2).length, 1);
    equal(ns(got.filter((d) => d.stream === s1)), [0, 10, 11, 12]);
  },

  "key order: many keys in one claim, one event each, in order": async (k) => {
    const s = k.name("s"), g = k.name("g");
    await k.backend.subscribe(g, [s], "earliest");
    const keys = Array.from({ length: 60 }, (_, i) => `k${i % 20}`);
    await appendKeyed(k, s, keys);
    const seen = new Map<string, number[]>();
    for (let round = 0; round < 3; round++) {
      const got = await k.claimUntil(g, [s], 20, { consumer: `c${round}` });
      equal(new Set(got.map((d) => d.envelope?.key)).size, 20, "one event of each key");
      for (const d of got) {
        seen.set(d.envelope!.key!, [...seen.get(d.envelope!.key!) ?? [], ...ns([d])]);
      }
      equal(await drain(k, g, s, "idle"), [], "every key is held");
      await ack(k, g, got);
    }
    for (const [key, got] of seen) {
      const i = Number(key.slice(1));
      equal(got, [i, i + 20, i + 40], `key ${key} in append order`);
    }
  },
};

function keyedSetup(k: CaseKit) {
  const schema = z.object({ n: z.number().int() });
  const A = defineEvent({ stream: k.name("things"), type: "thing.a", schema });
  const B = defineEvent({ stream: A.stream, type: "thing.b", schema });
  const bus = createBus({ backend: k.backend, source: "conformance" });
  return { A, B, bus, group: k.name("workers") };
}

/** Worker-level key cases, by name. */
const WORKER_KEY_CASES: Readonly<Record<string, CaseFn>> = {
  "key order: worker: events of one key to two handlers stay in publish order": async (k) => {
    const { A, B, bus, group } = keyedSetup(k);
    const seen: string[] = [];
    const handle = (t: string) => async (e: { data: { n: number } }) => {
      await new Promise((r) => setTimeout(r, 1));
      seen.push(`${t}${e.data.n}`);
    };
    const worker = createWorker({ bus, group, idleWaitMs: 20 }).on(A, handle("a")).on(
      B,
      handle("b"),
    );
    await bus.publishMany([
      ...Array.from(
        { length: 20 },
        (_, n) => ({ contract: A, data: { n }, options: { key: "k" } }),
      ),
      { contract: B, data: { n: 20 }, options: { key: "k" } },
    ]);
    await worker.start();
    try {
      await until(() => seen.length === 21);
    } finally {
      await worker.stop();
    }
    equal(seen, [...Array.from({ length: 20 }, (_, n) => `a${n}`), "b20"]);
  },

  "key order: worker: two workers of a group never overlap a key and keep its order": async (
    k,
  ) => {
    const { A, B, bus, group } = keyedSetup(k);
    const log: { key: string; n: number; edge: "start" | "end" }[] = [];
    const handle = async (e: { key?: string; data: { n: number } }) => {
      log.push({ key: e.key!, n: e.data.n, edge: "start" });
      await new Promise((r) => setTimeout(r, 10 + Math.random() * 10));
      log.push({ key: e.key!, n: e.data.n, edge: "end" });
    };
    // Two slots each and no claiming ahead: neither worker can hold all four keys. Handlers slow
    // enough that one worker alone falls behind, so a consumer standing by (Deno KV) joins in.
    const make = () =>
      createWorker({ bus, group, idleWaitMs: 20, batch: 8, prefetch: 0 })
        .on(A, handle, { concurrency: 1 })
        .on(B, handle, { concurrency: 1 });
    const workers = [make(), make()];
    await Promise.all(workers.map((w) => w.start()));
    try {
      await bus.publishMany(Array.from({ length: 60 }, (_, n) => ({
        contract: n % 3 === 0 ? B : A,
        data: { n },
        options: { key: `k${n % 4}` },
      })));
      await until(() => log.length === 120);
    } finally {
      await Promise.all(workers.map((w) => w.stop()));
    }
    for (let key = 0; key < 4; key++) {
      const mine = log.filter((l) => l.key === `k${key}`);
      const want = Array.from({ length: 15 }, (_, i) => key + 4 * i).flatMap((n) => [n, n]);
      equal(mine.map((l) => l.n), want, `k${key}: one at a time, in publish order`);
      ok(mine.every((l, i) => l.edge === (i % 2 === 0 ? "start" : "end")));
    }
    ok(workers.every((w) => w.stats.acked > 0), "both workers took part");
  },

  "key order: worker: a hot key with concurrency 16 does not block other keys": async (k) => {
    const { A, bus, group } = keyedSetup(k);
    const others: number[] = [];
    let hot = 0;
    let hotMeanwhile = -1;
    let othersDone!: () => void;
    const gate = new Promise<void>((r) => othersDone = r);
    const worker = createWorker({ bus, group, idleWaitMs: 20 }).on(A, async (e) => {
      if (e.key === "hot") {
        hot++;
        await gate; // the first hot event runs until every other key is handled
        return;
      }
      others.push(e.data.n);
      if (others.length === 5) {
        hotMeanwhile = hot; // before the gate opens and the hot key moves on
        othersDone();
      }
    }, { concurrency: 16 });
    await bus.publishMany([
      ...Array.from(
        { length: 16 },
        (_, n) => ({ contract: A, data: { n }, options: { key: "hot" } }),
      ),
      ...Array.from({ length: 5 }, (_, i) => ({
        contract: A,
        data: { n: 16 + i },
        options: { key: `cold${i}` },
      })),
    ]);
    await worker.start();
    try {
      await until(() => others.length === 5, 5_000);
      equal(hotMeanwhile, 1, "only one event of the hot key ran while it was held");
      await until(() => worker.stats.acked === 21);
    } finally {
      othersDone();
      await worker.stop();
    }
    equal(others.sort((a, b) => a - b), [16, 17, 18, 19, 20]);
  },

  "key order: worker: a failing event holds its key until it succeeds": async (k) => {
    const { A, bus, group } = keyedSetup(k);
    const seen: string[] = [];
    let fails = 2;
    const worker = createWorker({ bus, group, idleWaitMs: 20 }).on(A, (e, ctx) => {
      seen.push(`${e.key}${e.data.n}#${ctx.attempt}`);
      if (e.data.n === 0 && fails-- > 0) throw new Error("not yet");
    }, { retry: { attempts: 5, baseMs: 30, maxMs: 60 } });
    await bus.publishMany([
      { contract: A, data: { n: 0 }, options: { key: "k" } },
      { contract: A, data: { n: 1 }, options: { key: "k" } },
      { contract: A, data: { n: 2 }, options: { key: "j" } },
    ]);
    await worker.start();
    try {
      await until(() => worker.stats.acked === 3);
    } finally {
      await worker.stop();
    }
    equal(seen.filter((s) => s.startsWith("k")), ["k0#1", "k0#2", "k0#3", "k1#1"]);
    ok(seen.indexOf("j2#1") < seen.indexOf("k0#3"), "the other key did not wait");
  },
};

/** Every key-order case, by name. */
export const KEY_CASES: Readonly<Record<string, CaseFn>> = {
  ...CLAIM_CASES,
  ...WORKER_KEY_CASES,
};
