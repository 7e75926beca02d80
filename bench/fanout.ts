/**
 * Many groups and streams, runnable alone: 50 groups across 10 streams (5 groups each) on one
 * Deno KV file and on a private Redis, their workers spread over `--procs` processes. Rows:
 * - the idle CPU of all the workers together, over `--idle` seconds (under 2% of a core);
 * - the batched publish rate with the 50 groups made, next to the same publishing into one
 *   stream with one group (within 10%: at least 0.9 of it): once with their workers stopped
 *   (what publishing costs per group), once with all of them consuming meanwhile (on a small
 *   machine the consumers then take the publisher's CPU, and on Deno KV its commits).
 *
 * ```sh
 * deno run -A bench/fanout.ts                 # both backends
 * deno run -A bench/fanout.ts --backend kv --events 50000 --idle 10
 * ```
 *
 * @module
 */
import { createBus } from "@herald/herald";
import { type BackendSpec, makeBackend } from "./_herald.ts";
import { printRows, publishRate, type ScaleRow, specFor, startRedis } from "./_scale.ts";

const GROUPS = 50;
const STREAMS = 10;

interface Flags {
  backends: ("kv" | "redis")[];
  events: number;
  idle: number;
  procs: number;
}

function parseFlags(args: string[]): Flags {
  const f: Flags = { backends: ["kv", "redis"], events: 100_000, idle: 10, procs: 10 };
  for (let i = 0; i < args.length; i++) {
    const [name, inline] = args[i].split("=", 2);
    const value = inline ?? args[++i];
    if (name === "--backend") f.backends = value.split(",") as Flags["backends"];
    else if (name === "--events") f.events = Number(value);
    else if (name === "--idle") f.idle = Number(value);
    else if (name === "--procs") f.procs = Number(value);
    else throw new TypeError(`Unknown flag "${args[i]}" (--backend --events --idle --procs)`);
  }
  return f;
}

/** A worker process of `fanout_worker.ts`, asked for its count over stdin. */
class Host {
  #child: Deno.ChildProcess;
  #lines: ReadableStreamDefaultReader<string>;
  #buffer = "";
  #stdin: WritableStreamDefaultWriter<Uint8Array>;

  constructor(spec: BackendSpec, groups: [string, string][]) {
    this.#child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("./fanout_worker.ts", import.meta.url).pathname,
        JSON.stringify({ backend: spec, groups }),
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.#lines = this.#child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    this.#stdin = this.#child.stdin.getWriter();
  }

  /** The next line the process prints. */
  async line(): Promise<string> {
    while (!this.#buffer.includes("\n")) {
      const { value, done } = await this.#lines.read();
      if (done) throw new Error("a worker process ended early");
      this.#buffer += value;
    }
    const i = this.#buffer.indexOf("\n");
    const line = this.#buffer.slice(0, i);
    this.#buffer = this.#buffer.slice(i + 1);
    return line;
  }

  async handled(): Promise<number> {
    await this.#stdin.write(new Uint8Array([10]));
    return Number(await this.line());
  }

  /** CPU seconds the process spent so far (user + system). */
  async cpu(): Promise<number> {
    const stat = await Deno.readTextFile(`/proc/${this.#child.pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in 1/100 s
  }

  async stop(): Promise<void> {
    await this.#stdin.close();
    await this.#lines.cancel();
    await this.#child.status;
  }
}

/** Starts hosts for `pairs` spread over `procs` processes, and waits until all are ready. */
async function startHosts(spec: BackendSpec, pairs: [string, string][], procs: number) {
  const hosts: Host[] = [];
  for (let i = 0; i < procs; i++) {
    const mine = pairs.filter((_, k) => k % procs === i);
    if (mine.length > 0) hosts.push(new Host(spec, mine));
  }
  for (const h of hosts) if ((await h.line()) !== "ready") throw new Error("bad worker start");
  return hosts;
}

/** The CPU share of a core that `hosts` used together over `seconds` of idling. */
async function idleCpu(hosts: Host[], seconds: number): Promise<number> {
  await new Promise((r) => setTimeout(r, 2_000)); // start-up work settles
  const before = await Promise.all(hosts.map((h) => h.cpu()));
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const after = await Promise.all(hosts.map((h) => h.cpu()));
  return after.reduce((s, a, i) => s + a - before[i], 0) / seconds * 100;
}

/** Publishes about `events` round-robin over `streams` in batches of 100; returns events/s. */
async function publishAll(spec: BackendSpec, streams: string[], events: number) {
  const backend = await makeBackend(spec);
  const bus = createBus({ backend, source: "bench" });
  await publishRate(bus, "warm-up", 5_000, 100); // compiles the hot path before timing
  const each = Math.ceil(events / streams.length / 100) * 100;
  const start = performance.now();
  // One publisher, batches of 100 round-robin over the streams: the same calls as for one stream.
  for (let done = 0; done < each; done += 100) {
    for (const s of streams) await publishRate(bus, s, 100, 100);
  }
  const rate = (each * streams.length) / ((performance.now() - start) / 1000);
  await bus.close();
  return { rate, published: each * streams.length };
}

/** Waits until the hosts handled `want` events together. */
async function handledAll(hosts: Host[], want: number): Promise<void> {
  while ((await Promise.all(hosts.map((h) => h.handled()))).reduce((a, b) => a + b, 0) < want) {
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Idle CPU of the workers of `pairs`, then the publish rate with their groups made but their
 * workers stopped, then with them consuming.
 */
async function measure(spec: BackendSpec, pairs: [string, string][], procs: number, f: Flags) {
  const streams = [...new Set(pairs.map(([, s]) => s))];
  const perStream = pairs.length / streams.length;
  const first = await startHosts(spec, pairs, procs);
  const idle = await idleCpu(first, f.idle);
  for (const h of first) await h.stop();
  const still = await publishAll(spec, streams, f.events);
  const hosts = await startHosts(spec, pairs, procs);
  const busy = await publishAll(spec, streams, f.events);
  await handledAll(hosts, (still.published + busy.published) * perStream);
  for (const h of hosts) await h.stop();
  return { idle, still: still.rate, busy: busy.rate };
}

async function runOn(kind: "kv" | "redis", f: Flags): Promise<ScaleRow[]> {
  const dir = await Deno.makeTempDir({ prefix: "herald-fanout-" });
  const server = kind === "redis" ? await startRedis() : undefined;
  try {
    const spec = specFor(kind, dir, server?.url);
    console.error(`${kind}: one group on one stream`);
    const one = await measure(spec, [["one", "one"]], 1, f);
    console.error(`${kind}: ${GROUPS} groups on ${STREAMS} streams in ${f.procs} processes`);
    const streams = Array.from({ length: STREAMS }, (_, i) => `fan${i}`);
    const pairs = Array.from({ length: GROUPS }, (_, i) => [`g${i}`, streams[i % STREAMS]]) as [
      string,
      string,
    ][];
    const many = await measure(spec, pairs, f.procs, f);
    const g = `${GROUPS} groups vs 1`;
    return [
      {
        name: `${kind} idle CPU, all ${GROUPS} groups' workers`,
        base: one.idle,
        value: many.idle,
        unit: "% core",
        kind: "abs",
        target: 2,
      },
      {
        name: `${kind} publish 100/call, ${g}, workers stopped`,
        base: one.still,
        value: many.still,
        unit: "ev/s",
        kind: "min",
        target: 0.9,
      },
      {
        name: `${kind} publish 100/call, ${g}, all consuming`,
        base: one.busy,
        value: many.busy,
        unit: "ev/s",
        kind: "min",
        target: 0.9,
      },
    ];
  } finally {
    await server?.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  const f = parseFlags(Deno.args);
  const rows: ScaleRow[] = [];
  for (const kind of f.backends) rows.push(...await runOn(kind, f));
  printRows(`Many groups: ${GROUPS} groups on ${STREAMS} streams vs one group on one stream`, rows);
}
