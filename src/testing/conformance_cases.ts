/**
 * The cases of the backend conformance suite. Each states one guarantee of the `Backend`
 * contract and fails when the backend breaks it.
 *
 * @module
 */
import { deepStrictEqual as equal, ok } from "node:assert/strict";
import type { CaseFn } from "./conformance.ts";
import { ns } from "./conformance.ts";
import { CAPABILITY_CASES } from "./conformance_capability_cases.ts";
import { INSPECT_CASES } from "./conformance_inspect_cases.ts";
import { ALL_TRACE_CASES } from "./conformance_trace_cases.ts";
import { KEY_CASES } from "./conformance_key_cases.ts";
import { DELAY_CASES } from "./conformance_delay_cases.ts";
import { WORKER_CASES } from "./conformance_worker_cases.ts";

const err = { name: "Error", message: "boom" };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every case, by name. */
export const CASES: Readonly<Record<string, CaseFn>> = {
  "claim() hands out new events in append order, attempt 1": async (k) => {
    const s = k.name("s"), g = k.name("g");
    await k.backend.subscribe(g, [s], "earliest");
    await k.backend.append(k.events(s, 5));
    await k.backend.append(k.events(s, 5).map((e, i) => ({ ...e, data: { n: i + 5 } })));
    const got = await k.claimUntil(g, [s], 10);
    equal(ns(got), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    ok(got.every((d) => d.attempt === 1 && d.stream === s));
  },

  "append() of a batch is all visible together": async (k) => {
    const s = k.name("s"), g = k.name("g");
    await k.backend.subscribe(g, [s], "earliest");
    await k.backend.append(k.events(s, 50));
    equal((await k.claimUntil(g, [s], 50)).length, 50);
  },

  "every group receives every event (fan-out)": async (k) => {
    const s = k.name("s"), a = k.name("a"), b = k.name("b");
    await k.backend.subscribe(a, [s], "earliest");
    await k.backend.subscribe(b, [s], "earliest");
    await k.backend.append(k.events(s, 20));
    equal(ns(await k.claimUntil(a, [s], 20)).sort((x, y) => x - y), [...Array(20).keys()]);
    equal(ns(await k.claimUntil(b, [s], 20)).sort((x, y) => x - y), [...Array(20).keys()]);
  },

  "consumers of one group share events without overlap": async (k) => {
    const s = k.name("s"), g = k.name("g");
    await k.backend.subscribe(g, [s], "earliest");
    await k.backend.append(k.events(s, 40));
    const [x, y] = await Promise.all([
      k.claim(g, [s], { consumer: "x", max: 20 }),
      k.claim(g, [s], { consumer: "y", max: 20 }),
    ]);
    const rest = await k.claimUntil(g, [s], 40 - x.length - y.length, { consumer: "z" });
    const all = ns([...x, ...y, ...rest]).sort((p, q) => p - q);
    equal(all, [...Array(40).keys()]);
  },

  "claim() reads several streams": async (k) => {
    const s1 = k.name("s1"), s2 = k.name("s2"), g = k.name("g");
    await k.backend.subscribe(g, [s1, s2], "earliest");
    await k.backend.append([...k.events(s1, 3), ...k.events(s2, 3)]);
    const got = await k.claimUntil(g, [s1, s2], 6);
    equal(got.filter((d) => d.stream === s1).length, 3);
    equal(got.filter((d) => d.stream === s2).length, 3);
  },

  "an acknowledged event is not delivered again": async (k) => {
    const s = k.name("s"), g = k.name("g");
    await k.backend.subscribe(g, [s], "earliest");
    await k.backend.append(k.events(s, 3));
    const got = await k.claimUntil(g, [s], 3, { leaseMs: 200 });
    await k.backend.settle(g, got.map((delivery) => ({ delivery, outcome: "ack" as const })));
    await sleep(300);
    equal(await k.claim(g, [s]), []);
  },

  "an expired lease is delivered again with attempt 2": async (k) => {
    const s = k.name("s"), g = k.name("g");
    await k.backend.subscribe(g, [s], "earliest");
    await k.backend.append(k.events(s, 1));
    const [first] = await k.claimUntil(g, [s], 1, { consumer: "a", leaseMs: 200 });
    equal(first.attempt, 1);
    equal(await k.claim(g, [s], { consumer: "b" }), [], "leased to a: not handed to b");
    const [again] = await k.claimUntil(g, [s], 1, { consumer: "b", timeoutMs: 5_000 });
    equal(again.envelope?.id, first.envelope?.id);
    equal(again.attempt, 2);
  },

  "extend() keeps a lease; a lease lost to another consumer is reported": async (k) => {
    const s = k.name("s"), g = k.name("g");
    await k.backend.subscribe(g, [s], "earliest");
    await k.backend.append(k.events(s, 1));
    const [d] = await k.claimUntil(g, [s], 1, { consumer: "a", leaseMs: 300 });
    for (let i = 0; i < 3; i++) {
      await sleep(150);
      equal(await k.backend.extend(g, [d], 300), []);
    }
    equal(await k.claim(g, [s], { consumer: "b" }), [], "extended lease still held");
    const [taken] = await k.claimUntil(g, [s], 1, { consumer: "b", leaseMs: 30_000 });
    equal(taken.attempt, 2);
    equal(await k.backend.extend(g, [d], 300), [d]);
  },

  "settle() by a consumer that lost its lease changes nothing": async (k) => {
    const s = k.name("s"), g = k.name("g");
    await k.backend.subscribe(g, [s], "earliest");
    await k.backend.append(k.events(s, 1));
    const [old] = await k.claimUntil(g, [s], 1, { consumer: "a", leaseMs: 200 });
    const [now] = await k.claimUntil(g, [s], 1, { consumer: "b", leaseMs: 300 });
    await k.backend.settle(g, [{ delivery: old, outcome: "dead", error: err }]);
    equal(await k.backend.deadLetters(g), [], "stale settle ignored");
    await k.backend.settle(g, [{ delivery: now, outcome: "ack" }]);
    await sleep(400);
    equal(await k.claim(g, [s]), [], "the owner's ack counts");
  },

  "a retry waits for its delay, then comes with attempt 2": async (k) => {
    const s = k.name("s"), g = k.name("g");
    await k.backend.subscribe(g, [s], "earliest");
    await k.backend.append(k.events(s, 1));
    const [d] = await k.claimUntil(g, [s], 1);
    await k.backend.settle(g, [{ delivery: d, outcome: "retry", delayMs: 400, error: err }]);
    equal(await k.claim(g, [s]), [], "not before its delay");
    const [again] = await k.claimUntil(g, [s], 1);
    equal(again.envelope?.id, d.envelope?.id);
    equal(again.attempt, 2);
  },

  "a delayed retry does not hold back the events behind it": async (k) => {
    const s = k.name("s"), g = k.name("g");
    await k.backend.subscribe(g, [s], "earliest");
    await k.backend.append(k.events(s, 1));
    const [d] = await k.claimUntil(g, [s], 1);
    await k.backend.settle(g, [{ delivery: d, outcome: "retry", delayMs: 60_000, error: err }]);
    await k.backend.append(k.events(s, 3).map((e, i) => ({ ...e, data: { n: i + 1 } })));
    equal(ns(await k.claimUntil(g, [s], 3)), [1, 2, 3]);
  },

  "a released delivery comes back at once without counting an attempt": async (k) => {
    const s = k.name("s"), g = k.name("g");
    await k.backend.subscribe(g, [s], "earliest");
    await k.backend.append(k.events(s, 1));
    const [d] = await k.claimUntil(g, [s], 1);
    await k.backend.settle(g, [{ delivery: d, outcome: "release" }]);
    const [again] = await k.claimUntil(g, [s], 1);
    equal(again.envelope?.id, d.envelope?.id);
    equal(again.attempt, 1);
  },

  "dead letters are listed with their error and redriven one by one or all": async (k) => {
    const s = k.name("s"), g = k.name("g");
    await k.backend.subscribe(g, [s], "earliest");
    const events = k.events(s, 3);
    await k.backend.append(events);
    const got = await k.claimUntil(g, [s], 3);
    await k.backend.settle(
      g,
      got.map((delivery) => ({ delivery, outcome: "dead" as const, error: err })),
    );
    const dead = await k.backend.deadLetters(g);
    equal(dead.map((d) => d.id).sort(), events.map((e) => e.id).sort());
    ok(dead.every((d) => d.error.message === "boom" && d.attempts === 1 && d.stream === s));
    equal((await k.backend.deadLetters(g, { limit: 2 })).length, 2);
    equal(await k.backend.redrive(g, [events[0].id]), 1);
    const [one] = await k.claimUntil(g, [s], 1);
    equal(one.envelope?.id, events[0].id);
    equal(one.attempt, 1, "a redrive starts the count again");
    equal((await k.backend.deadLetters(g)).length, 2);
    equal(await k.backend.redrive(g), 2);
    equal((await k.claimUntil(g, [s], 2)).length, 2);
    equal(await k.backend.deadLetters(g), []);
  },

  'a new group at "latest" skips what was there': async (k) => {
    const s = k.name("s"), g = k.name("g");
    await k.backend.append(k.events(s, 3));
    await k.backend.subscribe(g, [s], "latest");
    await k.backend.append(k.events(s, 2).map((e, i) => ({ ...e, data: { n: 10 + i } })));
    equal(ns(await k.claimUntil(g, [s], 2)), [10, 11]);
    equal(await k.claim(g, [s]), []);
  },

  'a new group at "earliest" replays the stream': async (k) => {
    const s = k.name("s"), g = k.name("g");
    await k.backend.append(k.events(s, 5));
    await k.backend.subscribe(g, [s], "earliest");
    equal(ns(await k.claimUntil(g, [s], 5)), [0, 1, 2, 3, 4]);
  },

  "a new group at a time starts with the first event at or after it": async (k) => {
    const s = k.name("s"), g = k.name("g");
    await k.backend.append(k.events(s, 3));
    await sleep(30);
    const at = new Date();
    await sleep(30);
    await k.backend.append(k.events(s, 2).map((e, i) => ({ ...e, data: { n: 10 + i } })));
    await k.backend.subscribe(g, [s], at);
    equal(ns(await k.claimUntil(g, [s], 2)), [10, 11]);
  },

  "subscribe() again keeps an existing group's position": async (k) => {
    const s = k.name("s"), g = k.name("g");
    await k.backend.subscribe(g, [s], "earliest");
    await k.backend.append(k.events(s, 2));
    const got = await k.claimUntil(g, [s], 2);
    await k.backend.settle(g, got.map((delivery) => ({ delivery, outcome: "ack" as const })));
    await k.backend.subscribe(g, [s], "earliest");
    equal(await k.claim(g, [s]), []);
  },

  "append() with dedupe skips ids seen before": async (k) => {
    const s = k.name("s"), g = k.name("g");
    await k.backend.subscribe(g, [s], "earliest");
    const events = k.events(s, 3);
    await k.backend.append(events, { dedupe: true });
    await k.backend.append(events, { dedupe: true });
    await Promise.all([
      k.backend.append(events.slice(1), { dedupe: true }),
      k.backend.append(events.slice(1), { dedupe: true }),
    ]);
    equal((await k.claimUntil(g, [s], 6, { timeoutMs: 1_000 })).length, 3);
  },

  "claim() waiting for events returns when one is appended": async (k) => {
    const s = k.name("s"), g = k.name("g");
    await k.backend.subscribe(g, [s], "earliest");
    const waiting = k.backend.claim(g, [s], {
      consumer: "c",
      max: 10,
      leaseMs: 30_000,
      waitMs: 20_000,
    });
    await sleep(50);
    await k.backend.append(k.events(s, 1));
    equal(ns(await waiting), [0]);
  },

  "an aborted signal ends a waiting claim": async (k) => {
    const s = k.name("s"), g = k.name("g");
    await k.backend.subscribe(g, [s], "earliest");
    const ctl = new AbortController();
    const waiting = k.backend.claim(g, [s], {
      consumer: "c",
      max: 10,
      leaseMs: 30_000,
      waitMs: 60_000,
      signal: ctl.signal,
    });
    await sleep(50);
    ctl.abort();
    equal(await waiting, []);
  },

  "an event comes back exactly as appended, whatever its characters": async (k) => {
    const s = k.name("s"), g = k.name("g");
    await k.backend.subscribe(g, [s], "earliest");
    // Short and long strings, one and several bytes a character, a surrogate pair, U+2028.
    const texts = [
      "é",
      "日本",
      "\u{1F600}",
      "a\u2028b",
      "Grüße aus Köln ".repeat(8),
      "x".repeat(300),
    ];
    const sent = k.events(s, texts.length).map((e, i) => ({
      ...e,
      key: texts[i].slice(0, 20),
      data: { n: i, text: texts[i] },
    }));
    await k.backend.append(sent);
    const got = await k.claimUntil(g, [s], sent.length);
    equal(got.map((d) => d.envelope), sent);
  },

  "a stored entry that is not an envelope is delivered as malformed": async (k) => {
    const s = k.name("s"), g = k.name("g");
    if (!k.target.appendRaw) throw new Error("appendRaw is needed");
    await k.backend.subscribe(g, [s], "earliest");
    await k.target.appendRaw(s, { hello: "world" });
    await k.backend.append(k.events(s, 1));
    const got = await k.claimUntil(g, [s], 2);
    ok(got[0].envelope === undefined && typeof got[0].malformed?.reason === "string");
    equal(got[1].envelope?.data, { n: 0 });
    await k.backend.settle(g, [{ delivery: got[0], outcome: "dead", error: err }]);
    equal((await k.backend.deadLetters(g)).length, 1);
  },

  "tryLock() gives a lock to one caller until it expires": async (k) => {
    const name = k.name("lock");
    const results = await Promise.all([1, 2, 3].map(() => k.backend.tryLock(name, 300)));
    equal(results.filter(Boolean).length, 1);
    equal(await k.backend.tryLock(name, 300), false);
    await sleep(400);
    equal(await k.backend.tryLock(name, 300), true);
  },
  ...WORKER_CASES,
  ...INSPECT_CASES,
  ...ALL_TRACE_CASES,
  ...KEY_CASES,
  ...CAPABILITY_CASES,
  ...DELAY_CASES,
};

/** The name of a conformance case, as reported by `deno test`. */
export type CaseName = string;
