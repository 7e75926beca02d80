/**
 * Conformance cases of the `Tracer` contract: the correlation index written with the append, and
 * where each event of a request stands in every group of its stream, on every backend.
 *
 * @module
 */
import { deepStrictEqual as equal, ok } from "node:assert/strict";
import type { Settlement } from "../backend.ts";
import { createEnvelope } from "../envelope.ts";
import { NotFoundError } from "../errors.ts";
import { journey, type Reach, type Trace } from "../trace.ts";
import type { CaseFn } from "./conformance.ts";

function reach(trace: Trace, eventId: string, group: string): Reach | undefined {
  return trace.events.find((e) => e.envelope.id === eventId)?.reached.find((r) =>
    r.group === group
  );
}

/** Every tracing case, by name. */
export const TRACE_CASES: Readonly<Record<string, CaseFn>> = {
  "trace() finds a request's events across streams by correlation or event id, and where each stands in every group":
    async (k) => {
      const s1 = k.name("req"), s2 = k.name("next");
      const [handled, dead, retry, leased, idle] = ["ok", "dead", "retry", "leased", "idle"].map(
        (g) => k.name(g),
      );
      for (const g of [handled, dead, retry]) await k.backend.subscribe(g, [s1], "earliest");
      for (const g of [leased, idle]) await k.backend.subscribe(g, [s2], "earliest");
      const root = createEnvelope(s1, "req.made", { n: 0 }, "conf");
      const child = createEnvelope(s2, "req.next", { n: 1 }, "conf", {
        correlationid: root.id,
        causationid: root.id,
      });
      const grandchild = createEnvelope(s1, "req.done", { n: 2 }, "conf", {
        correlationid: root.id,
        causationid: child.id,
      });
      const [other] = k.events(s1, 1);
      await k.backend.append([root]);
      await k.backend.append([child]);
      await k.backend.append([grandchild, other]);

      const settleAll = async (g: string, outcome: (id: string) => Settlement["outcome"]) => {
        const got = await k.claimUntil(g, [s1], 3);
        equal(got.length, 3);
        await k.backend.settle(
          g,
          got.map((delivery): Settlement => {
            const o = outcome(delivery.envelope!.id);
            const error = { name: "TypeError", message: "boom" };
            if (o === "dead") return { delivery, outcome: o, error };
            if (o === "retry") return { delivery, outcome: o, error, delayMs: 60_000 };
            return { delivery, outcome: "ack" };
          }),
        );
      };
      await settleAll(handled, () => "ack");
      await settleAll(dead, (id) => (id === root.id ? "dead" : "ack"));
      await settleAll(retry, (id) => (id === root.id ? "retry" : "ack"));
      equal((await k.claimUntil(leased, [s2], 1)).length, 1);

      const trace = await k.backend.trace(root.id);
      equal(trace.correlationId, root.id);
      equal(
        trace.events.map((e) => e.envelope.id).sort(),
        [root.id, child.id, grandchild.id].sort(),
        "only the request's events, across both streams",
      );
      equal(reach(trace, root.id, handled)?.state, "handled");
      const d = reach(trace, root.id, dead);
      equal([d?.state, d?.attempt, d?.error?.message], ["dead", 1, "boom"]);
      ok(d?.at && !Number.isNaN(Date.parse(d.at)));
      const r = reach(trace, root.id, retry);
      ok(r?.state === "retrying" || r?.state === "pending", `a retry reads ${r?.state}`);
      equal(r?.attempt, 1);
      equal(reach(trace, grandchild.id, dead)?.state, "handled");
      const l = reach(trace, child.id, leased);
      equal([l?.state, l?.attempt], ["pending", 1]);
      equal(reach(trace, child.id, idle)?.state, "waiting");
      equal(
        trace.events.find((e) => e.envelope.id === child.id)?.reached.map((x) => x.group).sort(),
        [idle, leased].sort(),
        "only the groups of the event's stream",
      );

      const byEvent = await k.backend.trace(grandchild.id);
      equal(byEvent.correlationId, root.id, "an event id finds its correlation");
      equal(byEvent.events.length, 3);
      const tree = journey(trace);
      equal(tree.roots.map((n) => n.envelope.id), [root.id]);
      equal(tree.roots[0].caused.map((n) => n.envelope.id), [child.id]);
      equal(tree.roots[0].caused[0].caused.map((n) => n.envelope.id), [grandchild.id]);
      equal((await k.backend.trace(k.name("nothing"))).events, []);
      const limited = await k.backend.trace(root.id, { limit: 2 });
      equal([limited.events.length, limited.truncated], [2, true]);
    },
};

/** The case run on a backend made without journeys (the default). */
export const JOURNEYS_OFF_CASE =
  "trace() on a backend without journeys rejects with a NotFoundError saying journeys are off";

/** The cases that need a backend made with `journeys: true`, by name. */
export const JOURNEY_CASE_NAMES: ReadonlySet<string> = new Set(Object.keys(TRACE_CASES));

/** Every tracing case, the one without journeys included. */
export const ALL_TRACE_CASES: Readonly<Record<string, CaseFn>> = {
  ...TRACE_CASES,
  [JOURNEYS_OFF_CASE]: async (k) => {
    const s = k.name("plain");
    const e = createEnvelope(s, "plain.made", { n: 0 }, "conf");
    await k.backend.append([e]);
    await k.backend.append([createEnvelope(s, "plain.made", { n: 1 }, "conf")], { dedupe: true });
    const err = await k.backend.trace(e.id).then(() => undefined, (err) => err);
    ok(err instanceof NotFoundError, `trace() rejected with ${err}`);
    equal(err.what, "journeys");
    ok(/journeys are off/i.test(err.message), err.message);
  },
};
