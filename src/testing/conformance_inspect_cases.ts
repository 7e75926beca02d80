/**
 * Conformance cases of the `Inspector` contract: listing streams and groups, dead letters paged
 * and filtered, purge, group deletion and reset, and peeking at a stream, on every backend.
 *
 * @module
 */
import { deepStrictEqual as equal, ok, rejects } from "node:assert/strict";
import type { ErrorInfo, Settlement } from "../backend.ts";
import { NotFoundError } from "../errors.ts";
import type { GroupInfo } from "../inspect.ts";
import type { CaseFn, CaseKit } from "./conformance.ts";
import { ns } from "./conformance.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("Timed out waiting for a condition");
    await sleep(20);
  }
}

async function groupOn(k: CaseKit, g: string, s: string): Promise<GroupInfo | undefined> {
  return (await k.backend.groups(s)).find((x) => x.group === g);
}

/** Appends `n` events of `type` on `s`, claims them, and dead-letters them with `error`. */
async function killed(k: CaseKit, g: string, s: string, n: number, type: string, error: ErrorInfo) {
  const events = k.events(s, n, type);
  await k.backend.append(events);
  const got = await k.claimUntil(g, [s], n);
  equal(got.length, n);
  await k.backend.settle(
    g,
    got.map((delivery): Settlement => ({ delivery, outcome: "dead", error })),
  );
  return events.map((e) => e.id);
}

/** Every inspection case, by name. */
export const INSPECT_CASES: Readonly<Record<string, CaseFn>> = {
  "streams() lists each stream with its length and first and last event time": async (k) => {
    const s1 = k.name("s1"), s2 = k.name("s2");
    const events = k.events(s1, 3);
    await k.backend.append(events);
    await k.backend.append(k.events(s2, 1));
    const listed = (await k.backend.streams()).filter((x) => x.stream === s1 || x.stream === s2);
    equal(listed.map((x) => [x.stream, x.length]).sort(), [[s1, 3], [s2, 1]]);
    const one = listed.find((x) => x.stream === s1)!;
    equal(Date.parse(one.firstTime!), Date.parse(events[0].time));
    equal(Date.parse(one.lastTime!), Date.parse(events[2].time));
  },

  "groups() shows position, lag, pending, the oldest pending and the consumers": async (k) => {
    const s = k.name("s"), other = k.name("o"), g = k.name("g");
    await k.backend.subscribe(g, [s, other], "earliest");
    await k.backend.append(k.events(s, 5));
    let info = await groupOn(k, g, s);
    equal([info?.lag, info?.pending, info?.position], [5, 0, null]);
    const got = await k.claimUntil(g, [s], 2, { consumer: "inspected" });
    equal(got.length, 2);
    info = await groupOn(k, g, s);
    equal([info?.lag, info?.pending], [3, 2]);
    ok(info!.position !== null, "a position once events were taken");
    ok(info!.oldestPendingMs !== undefined && info!.oldestPendingMs >= 0);
    const c = info!.consumers.find((x) => x.name === "inspected");
    ok(c, "the claiming consumer is listed");
    ok(c.lastSeen === undefined || Math.abs(Date.parse(c.lastSeen) - Date.now()) < 60_000);
    await k.backend.settle(g, [
      { delivery: got[0], outcome: "ack" },
      { delivery: got[1], outcome: "retry", delayMs: 60_000, error: { name: "E", message: "x" } },
    ]);
    await until(async () => (await groupOn(k, g, s))?.pending === 1);
    ok((await k.backend.groups()).some((x) => x.group === g && x.stream === other));
    equal((await k.backend.groups(other)).map((x) => x.group), [g]);
  },

  "groups() gives the age of the oldest event not yet handed to the group, absent with no lag":
    async (k) => {
      const s = k.name("s"), g = k.name("g");
      await k.backend.subscribe(g, [s], "earliest");
      equal((await groupOn(k, g, s))?.oldestWaitingMs, undefined, "no lag, no age");
      const appended = Date.now();
      await k.backend.append(k.events(s, 3));
      const waiting = (await groupOn(k, g, s))?.oldestWaitingMs;
      ok(waiting !== undefined && waiting >= 0, `the oldest waiting event's age: ${waiting}`);
      ok(waiting <= Date.now() - appended + 1_000, "the age of an event appended just now");
      equal((await k.claimUntil(g, [s], 2)).length, 2);
      ok((await groupOn(k, g, s))?.oldestWaitingMs !== undefined, "one event still waits");
      equal((await k.claimUntil(g, [s], 1)).length, 1);
      equal((await groupOn(k, g, s))?.oldestWaitingMs, undefined, "all handed out");
    },

  "deadLetters() pages with after and filters by type, error name and time": async (k) => {
    const s = k.name("s"), g = k.name("g");
    await k.backend.subscribe(g, [s], "earliest");
    const a = await killed(k, g, s, 3, "a.failed", { name: "TypeError", message: "a" });
    await sleep(30);
    const mid = new Date();
    await sleep(30);
    const b = await killed(k, g, s, 2, "b.failed", { name: "RangeError", message: "b" });
    const first = await k.backend.deadLetters(g, { limit: 2 });
    equal(first.length, 2);
    const rest = await k.backend.deadLetters(g, { after: first[1].cursor });
    equal([...first, ...rest].map((d) => d.id).sort(), [...a, ...b].sort());
    equal((await k.backend.deadLetters(g, { type: "b.failed" })).map((d) => d.id).sort(), b.sort());
    equal((await k.backend.deadLetters(g, { errorName: "TypeError" })).length, 3);
    equal((await k.backend.deadLetters(g, { since: mid })).map((d) => d.id).sort(), b.sort());
    equal((await k.backend.deadLetters(g, { until: mid })).map((d) => d.id).sort(), a.sort());
    equal((await k.backend.deadLetters(g, { type: "a.failed", limit: 1 })).length, 1);
    equal((await groupOn(k, g, s))?.deadLetters, 5);
  },

  "purgeDeadLetters() deletes those named, those before a time, or all": async (k) => {
    const s = k.name("s"), g = k.name("g");
    await k.backend.subscribe(g, [s], "earliest");
    const err = { name: "Error", message: "boom" };
    const a = await killed(k, g, s, 2, "t", err);
    await sleep(30);
    const mid = new Date();
    await sleep(30);
    const b = await killed(k, g, s, 3, "t", err);
    equal(await k.backend.purgeDeadLetters(g, { ids: [b[0], "no-such-id"] }), 1);
    equal(await k.backend.purgeDeadLetters(g, { before: mid }), 2);
    equal((await k.backend.deadLetters(g)).map((d) => d.id).sort(), b.slice(1).sort());
    equal(await k.backend.purgeDeadLetters(g), 2);
    equal(await k.backend.deadLetters(g), []);
    equal(await k.backend.redrive(g, a), 0, "a purged dead letter cannot be redriven");
  },

  "deleteGroup() removes a group from one stream, or everywhere with its dead letters": async (
    k,
  ) => {
    const s1 = k.name("s1"), s2 = k.name("s2"), g = k.name("g");
    await k.backend.subscribe(g, [s1, s2], "earliest");
    await killed(k, g, s1, 1, "t", { name: "Error", message: "boom" });
    await k.backend.append(k.events(s2, 2));
    equal((await k.claimUntil(g, [s2], 1)).length, 1);
    equal(await k.backend.deleteGroup(g, s2), true);
    equal((await k.backend.groups(s2)).filter((x) => x.group === g), []);
    ok(await groupOn(k, g, s1), "still on the other stream");
    equal((await k.backend.deadLetters(g)).length, 1, "dead letters stay with one stream gone");
    equal(await k.backend.deleteGroup(g), true);
    equal((await k.backend.groups()).filter((x) => x.group === g), []);
    equal(await k.backend.deadLetters(g), []);
    equal(await k.backend.deleteGroup(g), false, "nothing left to delete");
    equal((await k.backend.streams()).find((x) => x.stream === s2)?.length, 2, "events stay");
  },

  "resetGroup() replays from the start, an event id or a time, and skips to the end": async (
    k,
  ) => {
    const s = k.name("s"), g = k.name("g");
    await k.backend.subscribe(g, [s], "earliest");
    const early = k.events(s, 3);
    await k.backend.append(early);
    await sleep(30);
    const mid = new Date();
    await sleep(30);
    await k.backend.append(k.events(s, 2).map((e, i) => ({ ...e, data: { n: 10 + i } })));
    const ack = async (n: number) => {
      const got = await k.claimUntil(g, [s], n);
      await k.backend.settle(g, got.map((delivery) => ({ delivery, outcome: "ack" as const })));
      return got;
    };
    equal(ns(await ack(5)), [0, 1, 2, 10, 11]);
    await k.backend.resetGroup(g, s, "earliest");
    const again = await ack(5);
    equal(ns(again), [0, 1, 2, 10, 11]);
    ok(again.every((d) => d.attempt === 1), "a replay is a new delivery");
    await k.backend.resetGroup(g, s, { eventId: early[1].id });
    equal(ns(await ack(4)), [1, 2, 10, 11]);
    await k.backend.resetGroup(g, s, mid);
    equal(ns(await ack(2)), [10, 11]);
    await k.backend.resetGroup(g, s, "earliest");
    equal((await groupOn(k, g, s))?.lag, 5);
    await k.backend.resetGroup(g, s, "latest");
    equal((await groupOn(k, g, s))?.lag, 0);
    equal(await k.claim(g, [s]), []);
  },

  "resetGroup() leaves pending deliveries pending and settleable": async (k) => {
    const s = k.name("s"), g = k.name("g");
    await k.backend.subscribe(g, [s], "earliest");
    await k.backend.append(k.events(s, 4));
    const held = await k.claimUntil(g, [s], 2);
    equal(held.length, 2);
    await k.backend.resetGroup(g, s, "latest");
    equal((await groupOn(k, g, s))?.pending, 2);
    equal(await k.claim(g, [s], { consumer: "other" }), [], "the rest was skipped");
    await k.backend.settle(g, held.map((delivery) => ({ delivery, outcome: "ack" as const })));
    await until(async () => (await groupOn(k, g, s))?.pending === 0);
  },

  "redrive() called twice at once moves each dead letter once": async (k) => {
    const s = k.name("s"), g = k.name("g");
    await k.backend.subscribe(g, [s], "earliest");
    const ids = await killed(k, g, s, 4, "t", { name: "Error", message: "boom" });
    const [a, b] = await Promise.all([k.backend.redrive(g), k.backend.redrive(g, ids)]);
    equal(a + b, 4);
    equal(ns(await k.claimUntil(g, [s], 5, { timeoutMs: 1_000 })).sort(), [0, 1, 2, 3]);
  },

  "resetGroup() of a missing group or event throws NotFoundError": async (k) => {
    const s = k.name("s"), g = k.name("g");
    await k.backend.append(k.events(s, 1));
    await rejects(k.backend.resetGroup(g, s, "earliest"), NotFoundError);
    await k.backend.subscribe(g, [s], "latest");
    await rejects(k.backend.resetGroup(g, s, { eventId: "01JNOSUCHEVENT0000000000000" }), (e) => {
      ok(e instanceof NotFoundError && e.what === "event");
      return true;
    });
    await rejects(k.backend.resetGroup(g, s, "sometime" as never), TypeError);
  },

  "peek() reads a stream page by page from a position without claiming": async (k) => {
    const s = k.name("s"), g = k.name("g");
    await k.backend.subscribe(g, [s], "earliest");
    const events = k.events(s, 3);
    await k.backend.append(events);
    await sleep(30);
    const mid = new Date();
    await sleep(30);
    events.push(...k.events(s, 2)); // made now: an event's time is when it was made
    await k.backend.append(events.slice(3));
    const first = await k.backend.peek(s, { limit: 2 });
    equal(first.events.map((e) => e.envelope), events.slice(0, 2));
    const second = await k.backend.peek(s, { after: first.next, limit: 10 });
    equal(second.events.map((e) => e.envelope?.id), events.slice(2).map((e) => e.id));
    equal((await k.backend.peek(s, { after: second.next })).events, []);
    equal(
      (await k.backend.peek(s, { from: { eventId: events[3].id } })).events.map((e) =>
        e.envelope?.id
      ),
      [events[3].id, events[4].id],
    );
    equal((await k.backend.peek(s, { from: mid })).events.length, 2);
    const end = await k.backend.peek(s, { from: "latest" });
    equal(end.events, []);
    const more = k.events(s, 1);
    await k.backend.append(more);
    equal((await k.backend.peek(s, { after: end.next })).events.map((e) => e.envelope?.id), [
      more[0].id,
    ]);
    equal((await k.backend.peek(k.name("nothing"))).events, []);
    await rejects(k.backend.peek(s, { after: "not a position" }), TypeError);
    equal((await k.claimUntil(g, [s], 6)).length, 6, "peeking claimed nothing");
  },
};
