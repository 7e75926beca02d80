/**
 * Redis Cluster throughput, runnable alone: batched publishing and draining of events spread
 * round-robin over several streams (so several hash slots, on every master), on a cluster of
 * three masters the bench starts on private ports, and on one private Redis node for scale. Each
 * Herald row runs right after its raw row on the same server(s), in the same run:
 * - publish, `--batch` events per call: raw `XADD`s pipelined per stream (ioredis `Cluster`, or
 *   ioredis on the node), then Herald's `publishMany`;
 * - drain all of them from "earliest": raw `XREADGROUP COUNT 200` and `XACK`, one loop per stream
 *   at once; then a Herald worker on all the streams, then one Herald worker per stream.
 *
 * Each row prints its rate, the bench process's CPU per event and the Redis servers' CPU per
 * event (from `/proc`): on a small shared machine the CPU moves less than the rate.
 *
 * ```sh
 * deno run -A bench/cluster.ts                          # 200,000 events over 6 streams, 3 runs
 * deno run -A bench/cluster.ts --events 20000 --repeat 1 --streams 12
 * ```
 *
 * @module
 */
import process from "node:process";
import type { Cluster as IOCluster, Redis as IORedis } from "ioredis";
import { createBus, createWorker, type EventWorker } from "@herald/herald";
import { createRedisBackend } from "@herald/herald/redis";
import { PrivateCluster } from "../tests/redis/_cluster_redis.ts";
import { cpuOf, startRedis, tickOn } from "./_scale.ts";

interface Flags {
  events: number;
  streams: number;
  batch: number;
  repeat: number;
  replicas: 0 | 1;
}

function parseFlags(args: string[]): Flags {
  const f: Flags = { events: 200_000, streams: 6, batch: 100, repeat: 3, replicas: 0 };
  for (let i = 0; i < args.length; i++) {
    const [name, inline] = args[i].split("=", 2);
    const value = Number(inline ?? args[++i]);
    if (name === "--events") f.events = value;
    else if (name === "--streams") f.streams = value;
    else if (name === "--batch") f.batch = value;
    else if (name === "--repeat") f.repeat = value;
    else if (name === "--replicas") f.replicas = value === 1 ? 1 : 0;
    else {throw new TypeError(
        `Unknown flag "${args[i]}" (--events --streams --batch --repeat --replicas)`,
      );}
  }
  return f;
}

/** Where a row runs: the cluster or the single node, its raw client and its servers' pids. */
interface Target {
  name: string;
  raw: IOCluster | IORedis;
  backend: (prefix: string) => ReturnType<typeof createRedisBackend>;
  pids: number[];
}

/** One measured row. */
interface Row {
  target: string;
  row: string;
  rate: number;
  clientUs: number;
  serverUs: number;
}

const PAD = "x".repeat(120);
const tickJson = (seq: number) => JSON.stringify({ seq, t: Date.now(), pad: PAD });

/** Runs `fn` (which handles `n` events) and measures its rate and CPU per event. */
async function measure(
  target: Target,
  row: string,
  n: number,
  fn: () => Promise<void>,
): Promise<Row> {
  const servers = async () => (await Promise.all(target.pids.map(cpuOf))).reduce((a, b) => a + b);
  const [client0, server0, t0] = [process.cpuUsage(), await servers(), performance.now()];
  await fn();
  const seconds = (performance.now() - t0) / 1000;
  const client = process.cpuUsage(client0);
  const serverS = (await servers()) - server0;
  return {
    target: target.name,
    row,
    rate: n / seconds,
    clientUs: (client.user + client.system) / n,
    serverUs: serverS * 1e6 / n,
  };
}

const streamNames = (f: Flags) => Array.from({ length: f.streams }, (_, i) => `s${i}`);

/** Raw publishing: per batch, one pipeline of `XADD`s per stream, all streams at once. */
async function rawPublish(target: Target, prefix: string, f: Flags): Promise<void> {
  const streams = streamNames(f);
  for (let sent = 0; sent < f.events; sent += f.batch) {
    const per = new Map<string, string[]>();
    for (let seq = sent; seq < Math.min(f.events, sent + f.batch); seq++) {
      const key = `${prefix}s|${streams[seq % streams.length]}`;
      let list = per.get(key);
      if (!list) per.set(key, list = []);
      list.push(tickJson(seq));
    }
    await Promise.all([...per].map(async ([key, values]) => {
      const pipe = target.raw.pipeline();
      for (const v of values) pipe.xadd(key, "*", "d", v);
      const replies = await pipe.exec();
      for (const [err] of replies ?? []) if (err) throw err;
    }));
  }
}

/** Herald publishing: `publishMany` of `batch` events, round-robin over the streams. */
async function heraldPublish(target: Target, prefix: string, f: Flags): Promise<void> {
  const contracts = streamNames(f).map(tickOn);
  const bus = createBus({ backend: target.backend(prefix), source: "bench" });
  try {
    for (let sent = 0; sent < f.events; sent += f.batch) {
      const k = Math.min(f.batch, f.events - sent);
      await bus.publishMany(Array.from({ length: k }, (_, i) => ({
        contract: contracts[(sent + i) % contracts.length],
        data: { seq: sent + i, t: Date.now(), pad: PAD },
      })));
    }
  } finally {
    await bus.close();
  }
}

type ReadReply = [string, [string, string[]][]][] | null;

/** Raw draining: per stream a loop of `XREADGROUP COUNT 200` and `XACK`, all streams at once. */
async function rawDrain(target: Target, prefix: string, f: Flags): Promise<void> {
  let seen = 0;
  await Promise.all(
    streamNames(f).map(async (s, i) => {
      const key = `${prefix}s|${s}`;
      const share = Math.floor(f.events / f.streams) + (i < f.events % f.streams ? 1 : 0);
      await target.raw.xgroup("CREATE", key, "raw", "0", "MKSTREAM");
      for (let got = 0; got < share;) {
        const reply = await target.raw.call(
          "XREADGROUP",
          "GROUP",
          "raw",
          "c",
          "COUNT",
          200,
          "STREAMS",
          key,
          ">",
        ) as ReadReply;
        const entries = reply?.[0]?.[1] ?? [];
        for (const [, fields] of entries) seen += JSON.parse(fields[1]).seq >= 0 ? 1 : 0;
        got += entries.length;
        if (entries.length > 0) await target.raw.xack(key, "raw", ...entries.map(([id]) => id));
      }
    }),
  );
  if (seen !== f.events) throw new Error(`raw drain saw ${seen} of ${f.events}`);
}

/** Herald draining from "earliest": one worker on every stream, or one worker per stream. */
async function heraldDrain(
  target: Target,
  prefix: string,
  f: Flags,
  group: string,
  perStream: boolean,
): Promise<void> {
  const bus = createBus({ backend: target.backend(prefix), source: "bench" });
  let handled = 0;
  const { promise: drained, resolve } = Promise.withResolvers<void>();
  const handler = () => {
    if (++handled === f.events) resolve();
  };
  const contracts = streamNames(f).map(tickOn);
  const workers: EventWorker[] = [];
  const make = () => createWorker({ bus, group, start: "earliest", batch: 100 });
  if (perStream) {
    for (const c of contracts) workers.push(make().on(c, handler, { concurrency: 100 }));
  } else {
    const w = make();
    for (const c of contracts) w.on(c, handler, { concurrency: 100 });
    workers.push(w);
  }
  try {
    await Promise.all(workers.map((w) => w.start()));
    await drained;
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
    await bus.close();
  }
}

/** One run of every row on `target`. */
async function runOn(target: Target, f: Flags): Promise<Row[]> {
  const id = crypto.randomUUID().slice(0, 8);
  const [raw, herald] = [`raw-${id}:`, `herald-${id}:`];
  const n = f.events;
  const rows = [
    await measure(target, `raw XADD, ${f.batch} per pipeline`, n, () => rawPublish(target, raw, f)),
    await measure(
      target,
      `Herald publishMany(${f.batch})`,
      n,
      () => heraldPublish(target, herald, f),
    ),
    await measure(
      target,
      "raw XREADGROUP+XACK, a loop per stream",
      n,
      () => rawDrain(target, raw, f),
    ),
    await measure(
      target,
      "Herald, one worker on all streams",
      n,
      () => heraldDrain(target, herald, f, "all", false),
    ),
    await measure(
      target,
      "Herald, one worker per stream",
      n,
      () => heraldDrain(target, herald, f, "each", true),
    ),
  ];
  // The servers are the bench's own: empty them for the next run.
  if ("nodes" in target.raw) {
    await Promise.all(target.raw.nodes("master").map((node) => node.flushall()));
  } else await target.raw.flushall();
  return rows;
}

function print(rows: Row[], f: Flags): void {
  const fmt = (n: number) => Math.round(n).toLocaleString("en");
  console.log(`\n${f.events} events of 200 bytes over ${f.streams} streams, ${f.batch} per call`);
  console.log("target\trow\tevents/s\tvs raw\tbench µs/event\tredis µs/event");
  let raw = 0;
  for (const r of rows) {
    if (r.row.startsWith("raw")) raw = r.rate;
    console.log(
      [
        r.target,
        r.row,
        fmt(r.rate),
        r.row.startsWith("raw") ? "" : (r.rate / raw).toFixed(2),
        r.clientUs.toFixed(1),
        r.serverUs.toFixed(1),
      ].join("\t"),
    );
  }
}

async function loadavg(): Promise<string> {
  return (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" ");
}

async function main(): Promise<void> {
  const f = parseFlags(Deno.args);
  const { Cluster, Redis } = await import("ioredis");
  const cluster = await PrivateCluster.start({ replicas: f.replicas });
  const single = await startRedis();
  const clusterRaw = new Cluster(cluster.nodes.map((n) => ({ host: "127.0.0.1", port: n.port })));
  const singleRaw = new Redis(single.url);
  const targets: Target[] = [
    {
      name: `cluster (3 masters${f.replicas ? ", 3 replicas" : ""})`,
      raw: clusterRaw,
      backend: (prefix) => createRedisBackend({ cluster: cluster.urls, prefix }),
      pids: cluster.nodes.map((n) => n.child!.pid),
    },
    {
      name: "one node",
      raw: singleRaw,
      backend: (prefix) => createRedisBackend({ url: single.url, prefix }),
      pids: [single.pid],
    },
  ];
  try {
    for (let run = 1; run <= f.repeat; run++) {
      const before = await loadavg();
      const rows: Row[] = [];
      for (const target of targets) rows.push(...await runOn(target, f));
      console.log(
        `\nrun ${run} of ${f.repeat}; load average before ${before}, after ${await loadavg()}`,
      );
      print(rows, f);
    }
  } finally {
    clusterRaw.disconnect();
    singleRaw.disconnect();
    await cluster.stop();
    await single.stop();
  }
}

if (import.meta.main) await main();
