import { assertEquals } from "@std/assert";
import type { Delivery } from "@herald/herald/backend";
import { createEnvelope } from "../../src/envelope.ts";
import { GATE } from "../../src/redis/key_scripts.ts";
import { Keys } from "../../src/redis/keys.ts";
import { Scripts } from "../../src/redis/scripts.ts";
import { tcpClient } from "../../src/redis/tcp.ts";
import { raw, REDIS_URL, SKIP, testBackend } from "./_redis.ts";

const ignore = Boolean(SKIP);
const err = { name: "Error", message: "boom" };

async function eventually<T>(what: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const v = await what();
    if (ok(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
}

function keyed(n: number, key: string) {
  return { ...createEnvelope("s", "t", { n }, "test"), key };
}

const ns = (ds: Delivery[]) => ds.map((d) => (d.envelope?.data as { n: number }).n);

Deno.test({
  name: "claim() decides, in stream order, keyed entries another consumer read and never decided",
  ignore,
  async fn() {
    const { backend, prefix, cleanup } = testBackend();
    try {
      await backend.subscribe("g", ["s"], "earliest");
      await backend.append([keyed(0, "k"), keyed(1, "k"), keyed(2, "k")]);
      // A consumer's plain read of the first two, and no decision: it died right after.
      const sk = `${prefix}s|s`;
      const read = await raw(["XREADGROUP", "GROUP", "g", "dead", "COUNT", 2, "STREAMS", sk, ">"]);
      const ids = (read as [string, [string, unknown][]][])[0][1].map(([id]) => id);
      const opts = { consumer: "b", max: 10, leaseMs: 5_000, waitMs: 50 };
      assertEquals(await backend.claim("g", ["s"], opts), [], "0 holds k, though unclaimed");
      // Idle a minute: the sweep makes 0 due; 1 is parked behind it, so it stays.
      await raw(["XCLAIM", sk, "g", "dead", 0, ids[0], "IDLE", 60_000, "JUSTID"]);
      await raw(["XCLAIM", sk, "g", "dead", 0, ids[1], "IDLE", 60_000, "JUSTID"]);
      const first = await eventually(() => backend.claim("g", ["s"], opts), (d) => d.length > 0);
      assertEquals(ns(first), [0]);
      assertEquals(first[0].attempt, 2);
      assertEquals(await backend.claim("g", ["s"], opts), []);
      await backend.settle("g", [{ delivery: first[0], outcome: "ack" }]);
      const second = await eventually(() => backend.claim("g", ["s"], opts), (d) => d.length > 0);
      assertEquals(ns(second), [1]);
      assertEquals(second[0].attempt, 1, "a parked entry was never handed out");
      await backend.settle("g", [{ delivery: second[0], outcome: "ack" }]);
      const third = await eventually(() => backend.claim("g", ["s"], opts), (d) => d.length > 0);
      assertEquals(ns(third), [2]);
      await backend.settle("g", [{ delivery: third[0], outcome: "ack" }]);
      // Nothing is left behind: no holder, nothing parked, nothing pending.
      assertEquals(await raw(["HKEYS", `${prefix}h|s|g`]), ["gs"]);
      assertEquals(await raw(["ZCARD", `${prefix}p|s|g`]), 0);
      assertEquals(await raw(["XPENDING", sk, "g"]), [0, null, null, null]);
    } finally {
      await backend.close();
      await cleanup();
    }
  },
});

Deno.test({
  name: "claim() passes a key on when its holder and the next were trimmed from the stream",
  ignore,
  async fn() {
    const { backend, prefix, cleanup } = testBackend({ url: REDIS_URL });
    try {
      await backend.subscribe("g", ["s"], "earliest");
      await backend.append([keyed(0, "k"), keyed(1, "k")]);
      const opts = { consumer: "a", max: 10, leaseMs: 5_000, waitMs: 50 };
      const [held] = await backend.claim("g", ["s"], opts);
      assertEquals(ns([held]), [0]);
      await backend.settle("g", [{ delivery: held, outcome: "retry", delayMs: 50, error: err }]);
      await backend.append([keyed(2, "k")]);
      // Retention takes the holder (waiting for its retry) and the entry parked behind it.
      const sk = `${prefix}s|s`;
      const all = await raw(["XRANGE", sk, "-", "+"]) as [string, unknown][];
      await raw(["XDEL", sk, all[0][0], all[1][0]]);
      const got = await eventually(() => backend.claim("g", ["s"], opts), (d) => d.length > 0);
      assertEquals(ns(got), [2], "the key was passed on, not stuck with a trimmed holder");
      await backend.settle("g", [{ delivery: got[0], outcome: "ack" }]);
      assertEquals(await raw(["HKEYS", `${prefix}h|s|g`]), ["gs"]);
      assertEquals(await raw(["ZCARD", `${prefix}p|s|g`]), 0);
      assertEquals(await raw(["XPENDING", sk, "g"]), [0, null, null, null]);
    } finally {
      await backend.close();
      await cleanup();
    }
  },
});

Deno.test({
  name: "claim() of events without a key leaves no key-order state in Redis",
  ignore,
  async fn() {
    const { backend, prefix, cleanup } = testBackend();
    try {
      await backend.subscribe("g", ["s"], "earliest");
      await backend.append([0, 1, 2].map((n) => createEnvelope("s", "t", { n }, "test")));
      const got = await backend.claim("g", ["s"], {
        consumer: "a",
        max: 10,
        leaseMs: 5_000,
        waitMs: 50,
      });
      assertEquals(ns(got), [0, 1, 2]);
      await backend.settle("g", got.map((delivery) => ({ delivery, outcome: "ack" as const })));
      assertEquals(await raw(["EXISTS", `${prefix}h|s|g`, `${prefix}p|s|g`]), 0);
    } finally {
      await backend.close();
      await cleanup();
    }
  },
});

Deno.test({
  name: "GATE does not hand out an entry parked by another claim and made due since",
  ignore,
  async fn() {
    const { backend, prefix, cleanup } = testBackend();
    const client = tcpClient(REDIS_URL);
    try {
      await backend.subscribe("g", ["s"], "earliest");
      const opts = { consumer: "b", max: 10, leaseMs: 5_000, waitMs: 50 };
      await backend.append([keyed(0, "k")]);
      const [held] = await backend.claim("g", ["s"], opts);
      await backend.append([keyed(1, "k")]);
      // Consumer a's plain read of 1, its GATE not run yet.
      const sk = `${prefix}s|s`;
      const read = await raw(["XREADGROUP", "GROUP", "g", "a", "COUNT", 1, "STREAMS", sk, ">"]);
      const id = (read as [string, [string, unknown][]][])[0][1][0][0];
      // b's next claim reads 2 and decides 1 and 2 (parked behind 0); b's ack of 0 makes 1 due.
      await backend.append([keyed(2, "k")]);
      assertEquals(await backend.claim("g", ["s"], opts), []);
      await backend.settle("g", [{ delivery: held, outcome: "ack" }]);
      // Now a's GATE runs: 1 is the key's holder, but it is the timers' to hand out.
      const keys = new Keys(prefix).keyed("s", "g");
      const pass = await new Scripts(client).run(GATE, keys, ["g", "a", id, "k"]);
      assertEquals(pass, [0]);
      const got = await eventually(() => backend.claim("g", ["s"], opts), (d) => d.length > 0);
      assertEquals(ns(got), [1]);
      assertEquals(got[0].attempt, 1);
      assertEquals(await backend.claim("g", ["s"], opts), [], "2 waits for 1");
    } finally {
      await client.close();
      await backend.close();
      await cleanup();
    }
  },
});
