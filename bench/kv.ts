/**
 * The Deno KV part: the raw limits of a database file, then Herald's KV backend end to end
 * across processes, against the targets of the foundation issue.
 *
 * @module
 */
import { type Context, pipelineNotes } from "./_context.ts";
import { sleep } from "./_clock.ts";
import { Child } from "./_proc.ts";
import { runPipeline } from "./_run.ts";

const RAW = "Deno KV on a file · raw limits";
const HERALD = "Deno KV on a file · Herald kv() backend";

/** A fresh database file in the run's scratch folder. */
function dbPath(ctx: Context, name: string): string {
  return `${ctx.tmp}/${name}-${crypto.randomUUID().slice(0, 6)}/kv.sqlite`;
}

async function commitRate(ctx: Context, batch: number) {
  const path = dbPath(ctx, `commits${batch}`);
  await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  const child = Child.spawn("kv_commits", { path, batch, seconds: ctx.size(2, 0.5) });
  try {
    return await child.wait<{ commitsPerSec: number; eventsPerSec: number }>("result", 60_000);
  } finally {
    await child.kill();
  }
}

/** Runs the raw Deno KV rows. */
export async function kvRaw(ctx: Context): Promise<void> {
  await ctx.attempt(RAW, "atomic commits, 1 event each (1 process)", async () => {
    const r = await commitRate(ctx, 1);
    ctx.results.set("kv.commit1", r.commitsPerSec);
    ctx.add({ section: RAW, name: "atomic commits, 1 event each (1 process)", ...r });
  });
  await ctx.attempt(RAW, "atomic commits, 100 events each (1 process)", async () => {
    const r = await commitRate(ctx, 100);
    ctx.add({
      section: RAW,
      name: "atomic commits, 100 events each (1 process)",
      eventsPerSec: r.eventsPerSec,
      note: `${Math.round(r.commitsPerSec)} commits/s`,
    });
  });
  const bare = async (name: string, key: string, mode: "single" | "batch" | "paced", n: number) => {
    await ctx.attempt(RAW, name, async () => {
      const path = dbPath(ctx, "bare");
      await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
      const warmup = mode === "paced" ? Math.floor(n / 10) : 0;
      const r = await runPipeline({
        producer: { role: "raw_kv_producer", params: { path, mode, n, batch: 100, rate: 1000 } },
        consumer: { role: "raw_kv_consumer", params: { path, total: n, warmup } },
        timeoutMs: 120_000,
        verbose: ctx.verbose,
      });
      ctx.results.set(key, r.eventsPerSec);
      ctx.add({
        section: RAW,
        name,
        eventsPerSec: r.eventsPerSec,
        ...(mode === "paced" ? { p50: r.latency.p50, p99: r.latency.p99 } : {}),
        note: pipelineNotes(r).join("; "),
      });
    });
  };
  await bare(
    "bare 5 ms poller, 1 event per commit",
    "kv.bare.single",
    "single",
    ctx.size(6000, 1000),
  );
  await bare(
    "bare 5 ms poller, 100 events per commit",
    "kv.bare.batch",
    "batch",
    ctx.size(60_000, 10_000),
  );
  await bare("bare 5 ms poller, paced 1,000/s", "kv.bare.paced", "paced", ctx.size(3000, 1000));
}

/** Runs the Herald KV backend rows. */
export async function kvHerald(ctx: Context): Promise<void> {
  const pipeline = async (
    mode: "single" | "batch" | "paced",
    n: number,
    rate: number,
    processes = 1,
  ) => {
    const path = dbPath(ctx, "herald");
    const backend = { kind: "kv", path };
    const warmup = mode === "paced" ? Math.floor(n / 10) : 0;
    return await runPipeline({
      producer: { role: "herald_producer", params: { backend, mode, n, batch: 100, rate } },
      consumer: {
        role: "herald_consumer",
        params: { backend, total: n, warmup, trackSeqs: processes > 1 },
        processes,
      },
      timeoutMs: 120_000,
      verbose: ctx.verbose,
    });
  };

  const single = "publish(), 1 event per call";
  await ctx.attempt(HERALD, single, async () => {
    const r = await pipeline("single", ctx.size(6000, 1000), 0);
    const base = ctx.baseline("kv.bare.single", 2900);
    ctx.add({
      section: HERALD,
      name: single,
      eventsPerSec: r.eventsPerSec,
      target: `≥ 80% of bare poller (${base.label})`,
      pass: r.eventsPerSec >= 0.8 * base.value && r.missing === 0,
      note: pipelineNotes(r).join("; "),
    });
  });

  const batched = "publishMany() of 100";
  await ctx.attempt(HERALD, batched, async () => {
    const r = await pipeline("batch", ctx.size(60_000, 10_000), 0);
    ctx.results.set("kv.herald.batch", r.eventsPerSec);
    ctx.add({
      section: HERALD,
      name: batched,
      eventsPerSec: r.eventsPerSec,
      target: "≥ 25,000/s",
      pass: r.eventsPerSec >= 25_000 && r.missing === 0,
      note: pipelineNotes(r).join("; "),
    });
  });

  const paced = "publish(), paced 500/s";
  await ctx.attempt(HERALD, paced, async () => {
    const r = await pipeline("paced", ctx.size(2000, 500), 500);
    ctx.add({
      section: HERALD,
      name: paced,
      eventsPerSec: r.eventsPerSec,
      p50: r.latency.p50,
      p99: r.latency.p99,
      target: "p50 ≤ 2 ms, p99 ≤ 10 ms",
      pass: r.latency.p50 <= 2 && r.latency.p99 <= 10 && r.missing === 0,
      note: pipelineNotes(r).join("; "),
    });
  });

  const four = "4 consumer processes, publishMany() of 100";
  await ctx.attempt(HERALD, four, async () => {
    const r = await pipeline("batch", ctx.size(60_000, 10_000), 0, 4);
    const base = ctx.results.get("kv.herald.batch");
    ctx.add({
      section: HERALD,
      name: four,
      eventsPerSec: r.eventsPerSec,
      target: `≥ 1 consumer (${base === undefined ? "not run" : Math.round(base)}), 0 locked`,
      pass: (base === undefined || r.eventsPerSec >= base) && r.locked === 0 && r.missing === 0,
      note: [
        `"database is locked" seen by user: ${r.locked}`,
        `split ${r.perConsumer.join("/")}`,
        ...pipelineNotes(r),
      ].join("; "),
    });
  });

  await ctx.attempt(
    HERALD,
    "idle worker CPU",
    () => idleCpu(ctx, HERALD, { kind: "kv", path: dbPath(ctx, "idle") }),
  );
}

/** Measures the CPU a started, idle Herald worker uses. */
export async function idleCpu(ctx: Context, section: string, backend: unknown): Promise<void> {
  const child = Child.spawn("herald_consumer", { backend, total: 0 }, { verbose: ctx.verbose });
  try {
    await child.wait("ready", 60_000);
    await sleep(1000); // start-up work is not idleness
    const seconds = ctx.size(5, 2);
    const before = child.cpuSeconds();
    await sleep(seconds * 1000);
    const percent = (child.cpuSeconds() - before) / seconds * 100;
    ctx.add({
      section,
      name: `idle worker CPU over ${seconds} s`,
      value: `${percent.toFixed(1)} %`,
      target: "< 1% of a core",
      pass: percent < 1,
    });
  } finally {
    await child.kill();
  }
}
