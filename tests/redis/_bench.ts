/**
 * A rough Redis benchmark (not a test): the raw Redis Streams loop from Deno next to Herald on
 * Redis, over TCP and through the REST emulator. Run:
 *   deno run -A tests/redis/_bench.ts [tcp|rest|all]
 *
 * @module
 */
import { Redis } from "ioredis";
import { redis, type RedisBackend, upstashClient } from "@herald/herald/redis";
import { createEnvelope } from "../../src/envelope.ts";
import { dropPrefix, REDIS_URL, startEmulator } from "./_redis.ts";

const which = Deno.args[0] ?? "all";
const rows: string[][] = [];
const rate = (n: number, ms: number) => Math.round(n / (ms / 1000)).toLocaleString("en");
const pct = (xs: number[], p: number) => xs.sort((a, b) => a - b)[Math.floor(xs.length * p)];

type Cmd = (args: (string | number)[]) => Promise<unknown>;

/** XADD → XREADGROUP COUNT 100 → XACK, producer and consumer on their own connections. */
async function rawLoop(
  pub: Cmd,
  sub: Cmd,
  n: number,
  batch: number,
  pipe?: (cmds: (string | number)[][]) => Promise<unknown>,
) {
  const key = `bench:raw:${crypto.randomUUID()}`;
  await sub(["XGROUP", "CREATE", key, "g", "0", "MKSTREAM"]);
  const payload = JSON.stringify(createEnvelope("bench", "t", { n: 0 }, "bench"));
  const t0 = performance.now();
  const consume = (async () => {
    let got = 0;
    while (got < n) {
      const r = await sub(["XREADGROUP", "GROUP", "g", "c", "COUNT", 100, "STREAMS", key, ">"]) as
        | [string, [string, string[]][]][]
        | null;
      const entries = r?.[0]?.[1] ?? [];
      if (entries.length) await sub(["XACK", key, "g", ...entries.map((e) => e[0])]);
      got += entries.length;
    }
  })();
  for (let i = 0; i < n; i += batch) {
    if (batch === 1) await pub(["XADD", key, "*", "e", payload]);
    else await pipe!(Array.from({ length: batch }, () => ["XADD", key, "*", "e", payload]));
  }
  await consume;
  const ms = performance.now() - t0;
  await pub(["DEL", key]);
  return ms;
}

async function heraldLoop(backend: RedisBackend, n: number, batch: number) {
  await backend.subscribe("g", ["bench"], "earliest");
  const t0 = performance.now();
  const consume = (async () => {
    let got = 0;
    while (got < n) {
      const ds = await backend.claim("g", ["bench"], {
        consumer: "c",
        max: 100,
        leaseMs: 30_000,
        waitMs: 100,
      });
      if (ds.length) {
        await backend.settle("g", ds.map((delivery) => ({ delivery, outcome: "ack" as const })));
      }
      got += ds.length;
    }
  })();
  for (let i = 0; i < n; i += batch) {
    await backend.append(
      Array.from({ length: batch }, (_, j) => createEnvelope("bench", "t", { n: i + j }, "bench")),
    );
  }
  await consume;
  return performance.now() - t0;
}

/** Publishes at `perSec` for `n` events; latency = publish start → delivery returned by claim. */
async function heraldPaced(backend: RedisBackend, n: number, perSec: number) {
  await backend.subscribe("p", ["paced"], "latest");
  const sent = new Map<string, number>();
  const lat: number[] = [];
  const consume = (async () => {
    while (lat.length < n) {
      const ds = await backend.claim("p", ["paced"], {
        consumer: "c",
        max: 100,
        leaseMs: 30_000,
        waitMs: 1000,
      });
      const now = performance.now();
      for (const d of ds) lat.push(now - sent.get(d.envelope!.id)!);
      if (ds.length) {
        await backend.settle("p", ds.map((delivery) => ({ delivery, outcome: "ack" as const })));
      }
    }
  })();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const due = t0 + (i * 1000) / perSec;
    while (performance.now() < due) await new Promise((r) => setTimeout(r, 0));
    const e = createEnvelope("paced", "t", { n: i }, "bench");
    sent.set(e.id, performance.now());
    await backend.append([e]);
  }
  await consume;
  return [pct(lat, 0.5), pct(lat, 0.99)];
}

if (which === "tcp" || which === "all") {
  const a = new Redis(REDIS_URL), b = new Redis(REDIS_URL);
  const ca: Cmd = (x) => a.call(String(x[0]), ...x.slice(1));
  const cb: Cmd = (x) => b.call(String(x[0]), ...x.slice(1));
  const pipe = (cmds: (string | number)[][]) =>
    cmds.reduce((p, c) => p.call(String(c[0]), ...c.slice(1)), a.pipeline()).exec();
  const N = 20_000;
  rows.push(["tcp raw loop, single", rate(N, await rawLoop(ca, cb, N, 1))]);
  rows.push([
    "tcp raw loop, pipelined x100",
    rate(100_000, await rawLoop(ca, cb, 100_000, 100, pipe)),
  ]);
  a.disconnect();
  b.disconnect();
  for (const [label, n, batch] of [["single", N, 1], ["batched x100", 100_000, 100]] as const) {
    const prefix = `bench-${crypto.randomUUID().slice(0, 6)}:`;
    const backend = redis({ url: REDIS_URL, prefix });
    rows.push([`tcp herald, ${label}`, rate(n, await heraldLoop(backend, n, batch))]);
    await backend.close();
    await dropPrefix(prefix);
  }
  const prefix = `bench-${crypto.randomUUID().slice(0, 6)}:`;
  const backend = redis({ url: REDIS_URL, prefix });
  const [p50, p99] = await heraldPaced(backend, 3_000, 1_000);
  rows.push(["tcp herald, paced 1,000/s p50 / p99 ms", `${p50.toFixed(2)} / ${p99.toFixed(2)}`]);
  await backend.close();
  await dropPrefix(prefix);
}

if (which === "rest" || which === "all") {
  const emu = await startEmulator();
  try {
    const client = upstashClient({ url: emu.url, token: emu.token });
    const cmd: Cmd = (x) => client.command(x);
    const pipe = async (cmds: (string | number)[][]) =>
      await (await fetch(`${emu.url}/pipeline`, {
        method: "POST",
        headers: { authorization: `Bearer ${emu.token}` },
        body: JSON.stringify(cmds),
      })).json();
    rows.push(["rest raw loop, single", rate(3_000, await rawLoop(cmd, cmd, 3_000, 1))]);
    rows.push([
      "rest raw loop, pipelined x100",
      rate(30_000, await rawLoop(cmd, cmd, 30_000, 100, pipe)),
    ]);
    for (
      const [label, n, batch] of [["single", 3_000, 1], ["batched x100", 30_000, 100]] as const
    ) {
      const prefix = `bench-${crypto.randomUUID().slice(0, 6)}:`;
      const backend = redis({ url: emu.url, token: emu.token, prefix });
      rows.push([`rest herald, ${label}`, rate(n, await heraldLoop(backend, n, batch))]);
      await backend.close();
      await dropPrefix(prefix);
    }
    const prefix = `bench-${crypto.randomUUID().slice(0, 6)}:`;
    const backend = redis({ url: emu.url, token: emu.token, prefix });
    const [p50, p99] = await heraldPaced(backend, 1_000, 200);
    rows.push(["rest herald, paced 200/s p50 / p99 ms", `${p50.toFixed(2)} / ${p99.toFixed(2)}`]);
    await backend.close();
    await dropPrefix(prefix);
  } finally {
    await emu.stop();
  }
}

console.log("| what | events/s (or latency) |\n| --- | --- |");
for (const [what, v] of rows) console.log(`| ${what} | ${v} |`);
