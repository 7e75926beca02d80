import { assert, assertEquals } from "@std/assert";
import { type RedisClient, upstashClient } from "@herald/herald/redis";
import { createEnvelope } from "../../src/envelope.ts";
import { until } from "../_until.ts";
import { type Emulator, raw, SKIP, startEmulator, testBackend } from "./_redis.ts";

const ignore = Boolean(SKIP);

// One emulator for the file (see conformance_rest_test.ts).
const emulator: Emulator | undefined = SKIP ? undefined : await startEmulator();
globalThis.addEventListener("unload", () => void emulator?.stop());

/** A REST backend whose client notes the command names of each request it makes, and when. */
function restBackend() {
  const inner = upstashClient({ url: emulator!.url, token: emulator!.token });
  const requests: string[][] = [];
  const sentAt: number[] = [];
  const client: RedisClient = {
    transport: "rest",
    command(args, channel) {
      requests.push([String(args[0])]);
      return inner.command(args, channel);
    },
    pipeline(commands, channel) {
      requests.push(commands.map((c) => String(c[0])));
      sentAt.push(performance.now());
      return inner.pipeline!(commands, channel);
    },
    close: () => inner.close(),
  };
  return { ...testBackend({ client }), requests, sentAt };
}

async function pending(prefix: string): Promise<number> {
  return (await raw(["XPENDING", `${prefix}s|s`, "g"]) as [number])[0];
}

const claimOptions = { consumer: "c", max: 10, leaseMs: 30_000 };

Deno.test({
  name: "settle() over REST goes out in the request of the consumer's next poll",
  ignore,
  async fn() {
    const { backend, prefix, cleanup, requests } = restBackend();
    const ctl = new AbortController();
    try {
      await backend.subscribe("g", ["s"], "earliest");
      await backend.append([createEnvelope("s", "t", { n: 1 }, "test")]);
      const [d] = await backend.claim("g", ["s"], { ...claimOptions, waitMs: 1000 });
      // The consumer polls again (nothing new), as a worker does at once after a claim.
      const polling = backend.claim("g", ["s"], {
        ...claimOptions,
        waitMs: 2000,
        signal: ctl.signal,
      });
      const before = requests.length;
      await backend.settle("g", [{ delivery: d, outcome: "ack" }]);
      const during = requests.slice(before);
      // Every request made meanwhile was a poll, and one carried the settle in front of its
      // read (this consumer swept on its first claim: no SWEEP goes there for a while).
      assert(during.every((r) => r.includes("XREADGROUP")), JSON.stringify(during));
      assert(during.some((r) => r[0] === "EVALSHA"), JSON.stringify(during));
      assertEquals(await pending(prefix), 0);
      ctl.abort();
      assertEquals(await polling, []);
    } finally {
      ctl.abort();
      await backend.close();
      await cleanup();
    }
  },
});

Deno.test({
  name: "settle() over REST goes alone when no claim runs, or none polls within a few ms",
  ignore,
  async fn() {
    const { backend, prefix, cleanup, requests, sentAt } = restBackend();
    const ctl = new AbortController();
    try {
      await backend.subscribe("g", ["s"], "earliest");
      await backend.append([1, 2].map((n) => createEnvelope("s", "t", { n }, "test")));
      const [a, b] = await backend.claim("g", ["s"], { ...claimOptions, waitMs: 1000 });
      // No claim runs: one request of its own.
      let before = requests.length;
      await backend.settle("g", [{ delivery: a, outcome: "ack" }]);
      assertEquals(requests.slice(before), [["EVALSHA"]]);
      assertEquals(await pending(prefix), 1);
      // A claim that has been idle long enough to poll only every ~256 ms.
      const polls = sentAt.length;
      const polling = backend.claim("g", ["s"], {
        ...claimOptions,
        waitMs: 5000,
        signal: ctl.signal,
      });
      // Its polls have spread out (they double while nothing comes).
      await until(() => sentAt.length >= polls + 2 && sentAt.at(-1)! - sentAt.at(-2)! >= 128);
      before = requests.length;
      await backend.settle("g", [{ delivery: b, outcome: "ack" }]);
      // It went in a request of its own (no poll in it), not in the slow poll's next request.
      assert(requests.slice(before).some((r) => r.length === 1 && r[0] === "EVALSHA"));
      assertEquals(await pending(prefix), 0);
      ctl.abort();
      assertEquals(await polling, []);
    } finally {
      ctl.abort();
      await backend.close();
      await cleanup();
    }
  },
});

Deno.test({
  name: "claim() over REST right after a claim that took all there was polls after a pause",
  ignore,
  async fn() {
    const { backend, cleanup, sentAt } = restBackend();
    try {
      await backend.subscribe("g", ["s"], "earliest");
      await backend.append([createEnvelope("s", "t", { n: 1 }, "test")]);
      // One of at most 10: the stream is drained.
      assertEquals((await backend.claim("g", ["s"], { ...claimOptions, waitMs: 1000 })).length, 1);
      // Told not to wait: it polls at once all the same.
      let before = sentAt.length;
      assertEquals(await backend.claim("g", ["s"], { ...claimOptions, waitMs: 0 }), []);
      assertEquals(sentAt.length, before + 1);
      await backend.append([createEnvelope("s", "t", { n: 2 }, "test")]);
      assertEquals((await backend.claim("g", ["s"], { ...claimOptions, waitMs: 1000 })).length, 1);
      before = sentAt.length;
      const started = performance.now();
      const polled = await backend.claim("g", ["s"], { ...claimOptions, waitMs: 30 });
      assertEquals(polled, []);
      // Its first poll came no sooner than a millisecond after it started.
      assert(sentAt[before] - started >= 0.9, `polled after ${sentAt[before] - started} ms`);
    } finally {
      await backend.close();
      await cleanup();
    }
  },
});
