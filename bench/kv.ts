/**
 * The Deno KV part: the raw limits of a database file, then Herald's KV backend end to end
 * across processes, against the targets of the foundation issue.
 *
 * @module
 */
import type { Context } from "./_context.ts";
import { sleep } from "./_clock.ts";
import { Child } from "./_proc.ts";
import { pipelineRow } from "./_rows.ts";
import type { PipelineResult } from "./_run.ts";
import type { Step } from "./_steps.ts";
import type { ProducerResult } from "./_role.ts";

const RAW = "Deno KV on a file · raw limits";
const HERALD =
  "Deno KV on a file · Herald createKvBackend() backend (handler concurrency 100, claims of up to 500: its default)";

/**
 * Events per throughput row: enough for several seconds here. Each process compiles its hot
 * path while it runs, so a short run measures start-up as much as flow, and a row with more
 * processes pays it more often: with 60,000 batched events (1.5-2 s), each of four consumers
 * spent ~200 ms more CPU than its share of events explains, four consumers made 73-80% of one
 * consumer's rate where 240,000 made 76-101%, and single publishes 59-69% of the bare poller
 * with 6,000 events where 24,000 made 68-84% (three interleaved pairs each, 2026-11-28).
 */
const SINGLE = 24_000;
const BATCHED = 240_000;
/** Events in the keyed row and the unkeyed row beside it. */
const KEYED = 60_000;

/** A fresh database file in its own folder of the run's scratch folder. */
async function dbPath(ctx: Context, name: string): Promise<string> {
  const dir = `${ctx.tmp}/${name}-${crypto.randomUUID().slice(0, 6)}`;
  await Deno.mkdir(dir, { recursive: true });
  return `${dir}/kv.sqlite`;
}

async function commitRate(ctx: Context, batch: number) {
  const path = await dbPath(ctx, `commits${batch}`);
  const child = Child.spawn("kv_commits", { path, batch, seconds: ctx.size(2, 0.5) });
  try {
    return await child.wait<{ commitsPerSec: number; eventsPerSec: number }>("result", 60_000);
  } finally {
    await child.kill();
  }
}

/**
 * The raw Deno KV rows, as steps: step i measures the raw limit that Herald's step i is judged
 * against (see `alternate` in _steps.ts).
 */
export function kvRaw(ctx: Context): Step[] {
  const base = { section: RAW, producer: "raw_kv_producer", consumer: "raw_kv_consumer" };
  const commits = async () => {
    for (const batch of [1, 100]) {
      const name = `atomic commits, ${batch === 1 ? "1 event" : "100 events"} each (1 process)`;
      await ctx.attempt(RAW, name, async () => {
        const r = await commitRate(ctx, batch);
        ctx.add({
          section: RAW,
          name,
          eventsPerSec: r.eventsPerSec,
          note: batch > 1 ? `${Math.round(r.commitsPerSec)} commits/s` : undefined,
        });
      });
    }
  };
  return [
    async () => {
      await commits();
      await pipelineRow(ctx, {
        ...base,
        name: "bare 5 ms poller, 1 event per commit",
        key: "kv.bare.single",
        shared: { path: await dbPath(ctx, "bare") },
        mode: "single",
        n: ctx.size(SINGLE, 1000),
      });
    },
    async () => {
      await pipelineRow(ctx, {
        ...base,
        name: "bare 5 ms poller, 100 events per commit",
        shared: { path: await dbPath(ctx, "bare") },
        mode: "batch",
        batch: 100,
        n: ctx.size(BATCHED, 10_000),
      });
    },
    async () => {
      await pipelineRow(ctx, {
        ...base,
        name: "bare 5 ms poller, paced 1,000/s",
        shared: { path: await dbPath(ctx, "bare") },
        mode: "paced",
        rate: 1000,
        n: ctx.size(3000, 1000),
      });
    },
  ];
}

/** The Herald KV backend rows, as steps that pair with {@linkcode kvRaw}'s. */
export function kvHerald(ctx: Context): Step[] {
  const base = { section: HERALD, producer: "herald_producer", consumer: "herald_consumer" };
  const backend = async () => ({ backend: { kind: "kv", path: await dbPath(ctx, "herald") } });
  let one: Awaited<ReturnType<typeof pipelineRow>>;
  return [
    async () => {
      const bare = ctx.baseline("kv.bare.single", 2900);
      await pipelineRow(ctx, {
        ...base,
        name: "publish(), 1 event per call",
        shared: await backend(),
        mode: "single",
        n: ctx.size(SINGLE, 1000),
        judge: (r) => ({
          target: `≥ 80% of bare poller (${bare.label})`,
          pass: r.eventsPerSec >= 0.8 * bare.value,
        }),
      });
    },
    async () => {
      one = await pipelineRow(ctx, {
        ...base,
        name: "publishMany() of 100",
        shared: await backend(),
        mode: "batch",
        batch: 100,
        n: ctx.size(BATCHED, 10_000),
        judge: (r) => ({ target: "≥ 25,000/s", pass: r.eventsPerSec >= 25_000 }),
      });
      // Right after the row it is judged against, as every Herald row follows its raw limit:
      // with the paced rows between the two, the machine had minutes to change pace.
      await pipelineRow(ctx, {
        ...base,
        name: "4 consumer processes, publishMany() of 100",
        shared: await backend(),
        mode: "batch",
        batch: 100,
        n: ctx.size(BATCHED, 10_000),
        processes: 4,
        judge: (r) => {
          const single = one?.eventsPerSec;
          return {
            target: `≥ 1 consumer (${single ? Math.round(single) : "not run"}), 0 locked`,
            pass: (single === undefined || r.eventsPerSec >= single) && r.locked === 0,
            note: `"database is locked" seen by user: ${r.locked}; split ${
              r.perConsumer.join("/")
            }; consumers' CPU ${cpuPerEvent(r)} µs/event (one consumer: ${
              one ? cpuPerEvent(one) : "not run"
            })`,
          };
        },
      });
    },
    async () => {
      // Key order (message groups) beside the unkeyed four-consumer row it is judged against.
      const four = await pipelineRow(ctx, {
        ...base,
        name: "4 consumer processes, publishMany() of 100 (beside keyed)",
        shared: await backend(),
        mode: "batch",
        batch: 100,
        n: ctx.size(KEYED, 10_000),
        processes: 4,
      });
      await pipelineRow(ctx, {
        ...base,
        name: "keyed events, 1,000 distinct keys, four consumer processes",
        shared: { ...await backend(), keys: 1000 },
        mode: "batch",
        batch: 100,
        n: ctx.size(KEYED, 10_000),
        processes: 4,
        judge: (r) => {
          const unkeyed = four?.eventsPerSec;
          return {
            target: `≥ 50% of unkeyed (${unkeyed ? Math.round(unkeyed) : "not run"})`,
            pass: unkeyed === undefined || r.eventsPerSec >= 0.5 * unkeyed,
            note: `split ${r.perConsumer.join("/")}; consumers' CPU ${cpuPerEvent(r)} µs/event`,
          };
        },
      });
    },
    async () => {
      await pipelineRow(ctx, {
        ...base,
        name: "publish(), paced 500/s",
        shared: await backend(),
        mode: "paced",
        rate: 500,
        n: ctx.size(2000, 500),
        judge: (r) => ({
          target: "p50 ≤ 2 ms, p99 ≤ 10 ms",
          pass: r.latency.p50 <= 2 && r.latency.p99 <= 10,
        }),
      });
    },
    async () => {
      const idle = (await backend()).backend;
      await ctx.attempt(HERALD, "idle worker CPU", () => idleCpu(ctx, HERALD, idle));
      const shared = (await backend()).backend;
      await ctx.attempt(HERALD, "idle worker CPU beside", () => idleBesideBusy(ctx, shared));
    },
  ];
}

/**
 * Measures the CPU of a started Herald worker whose stream stays quiet while another stream of
 * the same database file takes 1,000 events a second: services sharing one bus file each consume
 * their own streams.
 */
async function idleBesideBusy(ctx: Context, backend: unknown): Promise<void> {
  const idle = Child.spawn("herald_consumer", { backend, total: 0, stream: "quiet" }, {
    verbose: ctx.verbose,
  });
  let producer: Child | undefined;
  try {
    await idle.wait("ready", 60_000);
    await sleep(ctx.size(1000, 300)); // start-up work is not idleness
    const seconds = ctx.size(5, 2);
    const before = idle.cpuSeconds();
    producer = Child.spawn("herald_producer", {
      backend,
      mode: "paced",
      rate: 1000,
      n: seconds * 1000,
      maxSeconds: seconds,
    }, { verbose: ctx.verbose });
    const r = await producer.wait<ProducerResult>("result", 60_000);
    const percent = (idle.cpuSeconds() - before) / r.seconds * 100;
    ctx.add({
      section: HERALD,
      name: `idle worker CPU beside another stream's 1,000/s`,
      value: `${percent.toFixed(2)} %`,
      target: "< 1% of a core",
      pass: Number(percent.toFixed(2)) < 1, // judged as shown
      note: `${r.published} events published to the other stream meanwhile`,
    });
  } finally {
    await Promise.all([idle.kill(), producer?.kill()]);
  }
}

/** Measures the CPU a started, idle Herald worker uses. */
export async function idleCpu(ctx: Context, section: string, backend: unknown): Promise<void> {
  const child = Child.spawn("herald_consumer", { backend, total: 0 }, { verbose: ctx.verbose });
  try {
    await child.wait("ready", 60_000);
    await sleep(ctx.size(1000, 300)); // start-up work is not idleness
    const seconds = ctx.size(5, 2);
    const before = child.cpuSeconds();
    await sleep(seconds * 1000);
    const percent = (child.cpuSeconds() - before) / seconds * 100;
    ctx.add({
      section,
      name: `idle worker CPU over ${seconds} s`,
      value: `${percent.toFixed(2)} %`,
      target: "< 1% of a core",
      pass: Number(percent.toFixed(2)) < 1, // judged as shown
    });
  } finally {
    await child.kill();
  }
}

/**
 * The consumers' CPU per event handled, all processes together, from when each was ready: with
 * several consumers, what the group costs the machine beside what it moves.
 */
function cpuPerEvent(r: PipelineResult): string {
  const ms = r.consumerDetails.reduce((s, d) => s + Number(d?.cpuMs ?? 0), 0);
  return (ms * 1000 / Math.max(1, r.handled)).toFixed(0);
}
