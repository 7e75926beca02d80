/**
 * The Redis part: a raw Redis Streams loop over TCP and over REST (through an
 * Upstash-compatible endpoint in front of the same Redis), BullMQ beside them, and Herald's
 * Redis backend over both, against the targets of the Redis issue.
 *
 * @module
 */
import type { Context } from "./_context.ts";
import { cpuMs } from "./_cpu.ts";
import { alternate, type Step } from "./_steps.ts";
import { pipelineRow, type RowSpec } from "./_rows.ts";
import { connect } from "./_redis_raw.ts";
import { idleCpu } from "./kv.ts";
import { Tick } from "./_herald.ts";
import { Keys } from "../src/redis/keys.ts";

const REDIS_URL = Deno.env.get("HERALD_BENCH_REDIS_URL") ?? "redis://127.0.0.1:6379";

interface Endpoint {
  transport: "tcp" | "rest";
  url: string;
  token?: string;
  /** Stops the REST endpoint the bench started. */
  stop?: () => Promise<void>;
  /** The REST endpoint's process, whose CPU each row reports. */
  pid?: number;
}

/** Runs the selected Redis parts; `parts` holds redis-raw, rest-raw, bullmq, redis-tcp, redis-rest. */
export async function redisParts(ctx: Context, parts: Set<string>): Promise<void> {
  const prefix = `herald-bench:${ctx.runId}:`;
  // The Redis tests' helpers: the emulator they start, and prefix clean-up.
  const helpers = await import("../tests/redis/_redis.ts").catch((err: Error) => err);
  if (helpers instanceof Error) {
    ctx.add({
      section: "Redis",
      name: "all Redis rows",
      note: `could not run: ${helpers.message}`,
    });
    return;
  }
  const tcp: Endpoint = { transport: "tcp", url: REDIS_URL };
  let rest: Endpoint | Error | undefined;
  if (parts.has("rest-raw") || parts.has("redis-rest")) {
    rest = await helpers.startEmulator(REDIS_URL).then(
      (e) => ({ transport: "rest" as const, url: e.url, token: e.token, stop: e.stop, pid: e.pid }),
      (err: Error) => err,
    );
  }
  try {
    // BullMQ first: Herald's batched row over TCP is judged against its best rate too.
    if (parts.has("bullmq")) await bullmq(ctx, prefix);
    await alternate(
      parts.has("redis-raw") ? raw(ctx, tcp, prefix) : [],
      parts.has("redis-tcp") ? herald(ctx, tcp, prefix) : [],
    );
    if (parts.has("rest-raw") || parts.has("redis-rest")) {
      await withRest(
        ctx,
        `Redis REST · ${parts.has("rest-raw") ? "raw" : "Herald"}`,
        rest,
        (e) =>
          alternate(
            parts.has("rest-raw") ? raw(ctx, e, prefix) : [],
            parts.has("redis-rest") ? herald(ctx, e, prefix) : [],
          ),
      );
    }
  } finally {
    if (rest && !(rest instanceof Error)) await rest.stop?.();
    await helpers.dropPrefix(prefix, REDIS_URL).catch(() => {});
    // BullMQ names its keys `bull:<queue>:…`, outside our prefix (see `bullmq` below).
    await helpers.dropPrefix(`bull:${prefix.replaceAll(":", "-")}`, REDIS_URL).catch(() => {});
  }
}

async function withRest(
  ctx: Context,
  section: string,
  rest: Endpoint | Error | undefined,
  body: (e: Endpoint) => Promise<void>,
): Promise<void> {
  if (rest instanceof Error || !rest) {
    const why = rest instanceof Error ? rest.message : "not started";
    ctx.add({ section, name: "all rows", note: `could not run: REST endpoint: ${why}` });
    return;
  }
  await body(rest);
}

/** Server-side cost per command from `INFO commandstats`: calls and microseconds. */
async function commandStats(): Promise<Map<string, { calls: number; usec: number }>> {
  const conn = await connect({ transport: "tcp", url: REDIS_URL });
  try {
    const text = String(await conn.run(["INFO", "commandstats"]));
    const stats = new Map<string, { calls: number; usec: number }>();
    for (const m of text.matchAll(/cmdstat_([\w|]+):calls=(\d+),usec=(\d+)/g)) {
      stats.set(m[1], { calls: Number(m[2]), usec: Number(m[3]) });
    }
    return stats;
  } finally {
    await conn.close();
  }
}

/** A process's CPU time (user + system) in milliseconds, from /proc (Linux); else undefined. */
function processCpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    return cpuMs(pid);
  } catch {
    return undefined;
  }
}

/**
 * A pipeline row that also records what Redis itself spent per command meanwhile (every client
 * of this Redis counts, so other work running at the same time shows up too), and over REST the
 * CPU of the REST endpoint (`emulator`): there every command is an HTTP request that costs the
 * endpoint more than Redis.
 */
async function redisRow(ctx: Context, spec: RowSpec, emulatorPid?: number) {
  const before = await commandStats().catch(() => undefined);
  const emulatorBefore = processCpuMs(emulatorPid);
  const result = await pipelineRow(ctx, spec);
  const emulatorAfter = processCpuMs(emulatorPid);
  const after = await commandStats().catch(() => undefined);
  if (result && emulatorBefore !== undefined && emulatorAfter !== undefined) {
    const usPerEvent = (emulatorAfter - emulatorBefore) * 1000 / result.producer.published;
    const row = ctx.rows.at(-1);
    if (row && row.detail) (row.detail as Record<string, unknown>).emulatorCpuUs = usPerEvent;
    if (ctx.profile) console.log(`      REST endpoint: CPU ${usPerEvent.toFixed(0)} µs/ev`);
  }
  if (!before || !after || !result) return result;
  const events = result.producer.published;
  const server: Record<string, { perEvent: number; usecPerCall: number }> = {};
  for (const [name, a] of after) {
    const b = before.get(name) ?? { calls: 0, usec: 0 };
    const calls = a.calls - b.calls;
    if (calls < events / 100 || name === "info") continue;
    server[name] = { perEvent: calls / events, usecPerCall: (a.usec - b.usec) / calls };
  }
  const row = ctx.rows.at(-1);
  if (row && row.detail) (row.detail as Record<string, unknown>).server = server;
  if (ctx.profile) {
    const parts = Object.entries(server).map(([name, x]) =>
      `${name} ${x.perEvent.toFixed(2)}/ev ${x.usecPerCall.toFixed(0)} µs`
    );
    console.log(`      redis server: ${parts.join(", ")}`);
  }
  return result;
}

/**
 * Events per row: several seconds of flow for each throughput row, so that what every process
 * spends compiling its hot path early in a run weighs little (see `SINGLE` in kv.ts). Over TCP,
 * with 20,000 single publishes (1-2 s) Herald made 72%, 105% and 167% of the raw loop in three
 * interleaved pairs, with 80,000 107-131%; batches of 100 moved 62-78% either way.
 */
function sizes(ctx: Context, e: Endpoint) {
  return e.transport === "tcp"
    ? {
      single: ctx.size(80_000, 3000),
      batch: ctx.size(400_000, 20_000),
      paced: ctx.size(3000, 1000),
    }
    : {
      single: ctx.size(3000, 500),
      batch: ctx.size(100_000, 10_000),
      paced: ctx.size(3000, 1000),
    };
}

/** The raw rows of one transport, as steps that pair with {@linkcode herald}'s. */
function raw(ctx: Context, e: Endpoint, prefix: string): Step[] {
  const row = (spec: RowSpec) => redisRow(ctx, spec, e.pid);
  const section = e.transport === "tcp"
    ? "Redis over TCP · raw Streams loop (ioredis: XADD → XREADGROUP COUNT 100 → XACK)"
    : "Redis over REST · raw Streams loop (@upstash/redis via the emulator)";
  const n = sizes(ctx, e);
  const base = {
    section,
    producer: "raw_redis_producer",
    consumer: "raw_redis_consumer",
  };
  const stream = (row: string) => ({ ...e, stream: `${prefix}raw-${e.transport}-${row}` });
  return [
    async () => {
      await row({
        ...base,
        name: "XADD, 1 per call",
        key: `${e.transport}.raw.single`,
        shared: stream("single"),
        mode: "single",
        n: n.single,
      });
    },
    async () => {
      await row({
        ...base,
        name: "XADD, pipelined ×100",
        key: `${e.transport}.raw.batch`,
        shared: stream("batch"),
        mode: "batch",
        batch: 100,
        n: n.batch,
      });
    },
    async () => {
      await row({
        ...base,
        name: "XADD, paced 1,000/s",
        shared: stream("paced"),
        mode: "paced",
        rate: 1000,
        n: n.paced,
      });
      if (e.transport === "tcp" && !ctx.quick) {
        // Herald's shape of waiting: what the wake-up round trip before the read costs.
        await row({
          ...base,
          name: "paced 1,000/s, woken by XREAD, then XREADGROUP",
          shared: { ...stream("paced-xread"), wake: "xread" },
          mode: "paced",
          rate: 1000,
          n: n.paced,
        });
      }
    },
  ];
}

async function bullmq(ctx: Context, prefix: string): Promise<void> {
  const section = "Redis over TCP · BullMQ 5 (npm, in Deno; worker concurrency 100)";
  const { hostname, port } = new URL(REDIS_URL);
  const shared = (row: string) => ({
    host: hostname,
    port: Number(port || 6379),
    queue: `${prefix.replaceAll(":", "-")}bullmq-${row}`,
  });
  const base = {
    section,
    producer: "bullmq_producer",
    consumer: "bullmq_consumer",
    flags: ["--no-lock"],
  };
  const single = await redisRow(ctx, {
    ...base,
    name: "queue.add(), 1 per call",
    shared: shared("single"),
    mode: "single",
    n: ctx.size(30_000, 2000),
  });
  const bulk = await redisRow(ctx, {
    ...base,
    name: "queue.addBulk() of 100",
    shared: shared("batch"),
    mode: "batch",
    batch: 100,
    n: ctx.size(100_000, 10_000),
  });
  await redisRow(ctx, {
    ...base,
    name: "queue.add(), paced 1,000/s",
    shared: shared("paced"),
    mode: "paced",
    rate: 1000,
    n: ctx.size(3000, 1000),
  });
  const best = Math.max(single?.eventsPerSec ?? 0, bulk?.eventsPerSec ?? 0);
  if (best > 0) ctx.results.set("bullmq.best", best);
}

/** Herald's rows on one transport, as steps that pair with {@linkcode raw}'s. */
function herald(ctx: Context, e: Endpoint, prefix: string): Step[] {
  const row = (spec: RowSpec) => redisRow(ctx, spec, e.pid);
  const tcp = e.transport === "tcp";
  const section = tcp
    ? "Redis over TCP · Herald createRedisBackend() backend"
    : "Redis over REST · Herald createRedisBackend() backend";
  const n = sizes(ctx, e);
  const backend = (row: string) => ({
    backend: {
      kind: "redis",
      url: e.url,
      token: e.token,
      prefix: `${prefix}${e.transport}-${row}:`,
    },
  });
  const base = { section, producer: "herald_producer", consumer: "herald_consumer" };
  return [
    async () => {
      const single = ctx.baseline(`${e.transport}.raw.single`, tcp ? 9700 : 1460);
      await row({
        ...base,
        name: "publish(), 1 per call",
        shared: backend("single"),
        mode: "single",
        n: n.single,
        judge: (r) => ({
          target: `≥ 80% of raw (${single.label})`,
          pass: r.eventsPerSec >= 0.8 * single.value,
        }),
      });
      if (tcp && !ctx.quick) await crossRows(row, section, backend, n.single);
    },
    async () => {
      const batch = ctx.baseline(`${e.transport}.raw.batch`, tcp ? 47_000 : 33_000);
      const bull = ctx.baseline("bullmq.best", 7900);
      await row({
        ...base,
        name: "publishMany() of 100",
        key: `${e.transport}.herald.batch`,
        shared: backend("batch"),
        mode: "batch",
        batch: 100,
        n: n.batch,
        judge: (r) =>
          tcp
            ? {
              target: `≥ 80% of raw (${batch.label}), ≥ 2× BullMQ (${bull.label})`,
              pass: r.eventsPerSec >= 0.8 * batch.value && r.eventsPerSec >= 2 * bull.value,
            }
            : {
              target: `≥ 80% of raw (${batch.label})`,
              pass: r.eventsPerSec >= 0.8 * batch.value,
            },
      });
    },
    async () => {
      await row({
        ...base,
        name: "publish(), paced 1,000/s",
        shared: backend("paced"),
        mode: "paced",
        rate: 1000,
        n: n.paced,
        judge: (r) =>
          tcp
            ? {
              target: "p50 ≤ 0.5 ms, p99 ≤ 3 ms",
              pass: r.latency.p50 <= 0.5 && r.latency.p99 <= 3,
            }
            : { target: "p50 ≤ 5 ms", pass: r.latency.p50 <= 5 },
      });
    },
    async () => {
      await row({
        ...base,
        name: "4 consumer processes, publishMany() of 100",
        key: `${e.transport}.herald.four`,
        shared: backend("four"),
        mode: "batch",
        batch: 100,
        n: n.batch,
        processes: 4,
        judge: (r) => ({
          target: "none lost, none handled twice",
          pass: r.duplicates === 0 && r.missing === 0,
          note: `split ${r.perConsumer.join("/")}`,
        }),
      });
    },
    async () => {
      const four = ctx.baseline(`${e.transport}.herald.four`, tcp ? 40_000 : 20_000);
      await row({
        ...base,
        name: "keyed events, 1,000 distinct keys, four consumer processes",
        shared: { ...backend("keyed"), keys: 1000 },
        mode: "batch",
        batch: 100,
        n: n.batch,
        processes: 4,
        judge: (r) => ({
          target: `≥ 50% of unkeyed (${four.label}), none lost, none handled twice`,
          pass: r.eventsPerSec >= 0.5 * four.value && r.duplicates === 0 && r.missing === 0,
          note: `split ${r.perConsumer.join("/")}`,
        }),
      });
    },
    async () => {
      await ctx.attempt(
        section,
        "idle worker CPU",
        () => idleCpu(ctx, section, backend("idle").backend),
      );
    },
  ];
}

/**
 * Which side of the single-publish row sets its pace: the raw producer's XADD of Herald's entries
 * into a Herald worker, and Herald's `publish()` into the raw consumer, each beside the other
 * side's counterpart. No target: they tell whether the distance between the raw row and Herald's
 * is the publisher's or the consumer's (on this project's VM, the consumer's pattern of waking
 * moved the publisher's round trip more than the publisher's own work did).
 */
async function crossRows(
  row: (spec: RowSpec) => Promise<unknown>,
  section: string,
  backend: (row: string) => { backend: { url: string; prefix: string } },
  n: number,
): Promise<void> {
  const shared = (name: string) => {
    const herald = backend(name);
    return {
      ...herald,
      transport: "tcp",
      url: herald.backend.url,
      stream: Tick.stream,
      // Where Herald's backend keeps that stream, for the raw side.
      streamKey: new Keys(herald.backend.prefix).stream(Tick.stream),
      envelopes: true,
    };
  };
  await row({
    section,
    name: "raw XADD → Herald worker, 1 per call",
    producer: "raw_redis_producer",
    consumer: "herald_consumer",
    shared: shared("cross-worker"),
    mode: "single",
    n,
  });
  await row({
    section,
    name: "publish() → raw consumer, 1 per call",
    producer: "herald_producer",
    consumer: "raw_redis_consumer",
    shared: shared("cross-publish"),
    mode: "single",
    n,
  });
}
