/**
 * Big backlogs, runnable alone (heavy: run it by itself): a stream holding `--events` retained
 * events (1,000,000) next to an empty one, in the same run, on Deno KV (a file) and on Redis (a
 * private `redis-server` this bench starts). Rows, each judged against the empty stream:
 * - single and batched publish rates into the big stream (>= 80% of the empty one's);
 * - a new group at "earliest" draining the big stream, in its own process (>= 80% of the rate
 *   at which a new group drains the events batched into the empty stream);
 * - the median and p99 latency of claims that returned events while draining (no growth: at
 *   most 1.25 times the empty stream's);
 * - the draining worker's peak RSS under V8's defaults, and what it was made of at its peak: V8's
 *   young generation, the rest of V8's heap, other anonymous memory, file-backed pages;
 * - the same drain once more in a worker run as `docs/running.md` recommends, with V8's
 *   semi-spaces capped at 16 MB (`--v8-flags=--max-semi-space-size=16`): its peak RSS (under
 *   150 MB) and its drain rate beside the first.
 *
 * ```sh
 * deno run -A bench/backlog.ts                           # both backends, 1,000,000 events
 * deno run -A bench/backlog.ts --backend kv --events 200000   # a shorter run
 * deno run -A bench/backlog.ts --v8-flags=--max-semi-space-size=8   # other flags for the capped drain
 * ```
 *
 * @module
 */
import { createBus, createEnvelope, type Envelope } from "@herald/herald";
import { makeBackend } from "./_herald.ts";
import {
  printRows,
  publishRate,
  type ScaleRow,
  specFor,
  startRedis,
  storeBytes,
} from "./_scale.ts";
import { median } from "./_stats.ts";

/** The V8 flags `docs/running.md` recommends for a worker's process. */
const RECOMMENDED_V8_FLAGS = "--max-semi-space-size=16";

interface Flags {
  backends: ("kv" | "redis")[];
  events: number;
  single: number;
  batched: number;
  /** V8 flags of the second drain of the big stream (`docs/running.md`'s recommendation). */
  v8: string;
}

function parseFlags(args: string[]): Flags {
  const f: Flags = {
    backends: ["kv", "redis"],
    events: 1_000_000,
    single: 3_000,
    batched: 50_000,
    v8: RECOMMENDED_V8_FLAGS,
  };
  for (let i = 0; i < args.length; i++) {
    const eq = args[i].indexOf("=");
    const name = eq < 0 ? args[i] : args[i].slice(0, eq);
    const value = eq < 0 ? args[++i] : args[i].slice(eq + 1);
    if (name === "--backend") f.backends = value.split(",") as Flags["backends"];
    else if (name === "--events") f.events = Number(value);
    else if (name === "--single") f.single = Number(value);
    else if (name === "--batched") f.batched = Number(value);
    else if (name === "--v8-flags") f.v8 = value;
    else {throw new TypeError(
        `Unknown flag "${args[i]}" (--backend kv,redis --events N --single N --batched N)`,
      );}
  }
  return f;
}

interface Drain {
  rate: number;
  peakRssMB: number;
  peakYoungMB: number;
  peakHeapRestMB: number;
  peakNativeMB: number;
  peakFileMB: number;
  claimP50: number;
  claimP99: number;
}

/** Drains `count` events of `stream` with a new group, in a separate process. */
async function drain(spec: unknown, stream: string, count: number, v8?: string): Promise<Drain> {
  const group = `drain-${stream}${v8 ? "-capped" : ""}`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      ...(v8 ? [`--v8-flags=${v8}`] : []),
      new URL("./backlog_drain.ts", import.meta.url).pathname,
      JSON.stringify({ backend: spec, stream, group, count }),
    ],
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error(`the drain of "${stream}" failed`);
  const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
  return JSON.parse(lines[lines.length - 1]);
}

/** Fills `stream` with `n` events, 100 per append as the batched rows publish, untimed. */
async function fill(append: (e: Envelope[]) => Promise<unknown>, stream: string, n: number) {
  const pad = "x".repeat(120);
  for (let done = 0; done < n; done += 100) {
    const k = Math.min(100, n - done);
    await append(
      Array.from(
        { length: k },
        (_, i) =>
          createEnvelope(stream, "bench.tick", { seq: done + i, t: Date.now(), pad }, "bench"),
      ),
    );
    if ((done + k) % 200_000 === 0) console.error(`  filled ${done + k} events`);
  }
}

/** How many events the rows publish into the empty stream. */
function emptyCount(f: Flags): number {
  return 3 * Math.ceil(f.single / 3) + 3 * Math.ceil(f.batched / 3 / 100) * 100;
}

/** Runs `a` then `b` three times; the median of each. */
async function rounds(
  a: () => Promise<number>,
  b: () => Promise<number>,
): Promise<[number, number]> {
  const as: number[] = [];
  const bs: number[] = [];
  for (let i = 0; i < 3; i++) {
    as.push(await a());
    bs.push(await b());
  }
  return [median(as), median(bs)];
}

async function runOn(kind: "kv" | "redis", f: Flags): Promise<ScaleRow[]> {
  const dir = await Deno.makeTempDir({ prefix: "herald-backlog-" });
  const server = kind === "redis" ? await startRedis() : undefined;
  try {
    const spec = specFor(kind, dir, server?.url);
    const backend = await makeBackend(spec);
    const bus = createBus({ backend, source: "bench" });
    console.error(`${kind}: filling "big" with ${f.events} events`);
    const before = await storeBytes(spec);
    await fill((e) => backend.append(e), "big", f.events);
    const perEvent = ((await storeBytes(spec)) - before) / f.events;
    await publishRate(bus, "warm-up", 500, 1); // compiles the hot path before the timed rows
    await publishRate(bus, "warm-up", 5_000, 100);
    // Three rounds, empty then big in each, and the median of each: on a shared machine one draw
    // moves more than a backlog does.
    const single = Math.ceil(f.single / 3);
    const batched = Math.ceil(f.batched / 300) * 100;
    const [singleEmpty, singleBig] = await rounds(
      () => publishRate(bus, "empty", single, 1),
      () => publishRate(bus, "big", single, 1),
    );
    const [batchedEmpty, batchedBig] = await rounds(
      () => publishRate(bus, "empty", batched, 100),
      () => publishRate(bus, "big", batched, 100),
    );
    await bus.close();
    console.error(`${kind}: draining`);
    const small = await drain(spec, "empty", emptyCount(f));
    // Retention may have trimmed what came past `events` (both backends keep 1,000,000 by default).
    const big = await drain(spec, "big", f.events);
    const capped = await drain(spec, "big", f.events, f.v8);
    const n = f.events.toLocaleString("en");
    return [
      {
        name: `${kind} publish 1/call, ${n} held`,
        base: singleEmpty,
        value: singleBig,
        unit: "ev/s",
        kind: "min",
        target: 0.8,
      },
      {
        name: `${kind} publish 100/call, ${n} held`,
        base: batchedEmpty,
        value: batchedBig,
        unit: "ev/s",
        kind: "min",
        target: 0.8,
      },
      {
        name: `${kind} new group drains ${n} from earliest`,
        base: small.rate,
        value: big.rate,
        unit: "ev/s",
        kind: "min",
        target: 0.8,
      },
      {
        name: `${kind} claim p50 while draining`,
        base: small.claimP50,
        value: big.claimP50,
        unit: "ms",
        kind: "max",
        target: 1.25,
      },
      {
        name: `${kind} claim p99 while draining`,
        base: small.claimP99,
        value: big.claimP99,
        unit: "ms",
        kind: "max",
        target: 1.25,
      },
      {
        name: `${kind} ${kind === "kv" ? "file" : "Redis memory"} per retained event`,
        base: 0,
        value: perEvent,
        unit: "bytes",
        kind: "info",
        target: 0,
      },
      {
        name: `${kind} worker peak RSS while draining, V8's defaults`,
        base: small.peakRssMB,
        value: big.peakRssMB,
        unit: "MB",
        kind: "compare",
        target: 0,
      },
      ...rssParts(kind, small, big),
      {
        name: `${kind} worker peak RSS while draining, ${f.v8}`,
        base: big.peakRssMB,
        value: capped.peakRssMB,
        unit: "MB",
        kind: "abs",
        target: 150,
      },
      {
        name: `${kind} ... its drain rate beside V8's defaults`,
        base: big.rate,
        value: capped.rate,
        unit: "ev/s",
        kind: "compare",
        target: 0,
      },
    ];
  } finally {
    await server?.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

/** What the peak RSS of each drain was made of, the empty stream's beside the big one's. */
function rssParts(kind: string, small: Drain, big: Drain): ScaleRow[] {
  const parts: [string, keyof Drain][] = [
    ["V8 young generation", "peakYoungMB"],
    ["rest of V8's heap", "peakHeapRestMB"],
    ["other anonymous memory", "peakNativeMB"],
    ["file-backed (the deno binary)", "peakFileMB"],
  ];
  return parts.map(([what, field]) => ({
    name: `${kind} ... of which ${what}`,
    base: small[field],
    value: big[field],
    unit: "MB",
    kind: "compare",
    target: 0,
  }));
}

if (import.meta.main) {
  const f = parseFlags(Deno.args);
  const rows: ScaleRow[] = [];
  for (const kind of f.backends) rows.push(...await runOn(kind, f));
  printRows(
    `Big backlogs: ${f.events.toLocaleString("en")} retained events vs an empty stream`,
    rows,
  );
}
