/**
 * Many groups and streams, runnable alone: 50 groups across 10 streams (5 groups each) on one
 * Deno KV file and on a private Redis, their workers spread over `--procs` processes. Rows:
 * - the idle CPU of all the workers together, over `--idle` seconds (under 2% of a core);
 * - the batched publish rate with the 50 groups made, next to the same publishing into one
 *   stream with one group (within 10%: at least 0.9 of it): once with their workers stopped
 *   (what publishing costs per group; best of 3 alternated runs, with the publisher's CPU per
 *   event), once with all of them consuming meanwhile (on a small machine the consumers then
 *   take the publisher's CPU, and on Deno KV its commits);
 * - beside the consuming row, its accounting: the publisher's CPU per event, the CPU the
 *   publisher, the workers (and the Redis server) used while it published, the consuming CPU
 *   per event and group, and the CPU that publishing at the one group's rate would need with
 *   every group keeping up, to hold against the cores there are.
 *
 * Each setup runs on a database (Redis: key prefix) of its own. `--batch` sets the workers' claim
 * size (100 by default; 0: the backend's default).
 *
 * ```sh
 * deno run -A bench/fanout.ts                 # both backends
 * deno run -A bench/fanout.ts --backend kv --events 50000 --idle 10
 * ```
 *
 * @module
 */
import process from "node:process";
import { createBus } from "@herald/herald";
import { type BackendSpec, makeBackend } from "./_herald.ts";
import { cpuOf, printRows, publishRate, type ScaleRow, specFor, startRedis } from "./_scale.ts";
import { median } from "./_stats.ts";

const GROUPS = 50;
const STREAMS = 10;

interface Flags {
  backends: ("kv" | "redis")[];
  events: number;
  idle: number;
  procs: number;
  /** The workers' claim size (0: the backend's default). */
  batch: number;
}

function parseFlags(args: string[]): Flags {
  const f: Flags = {
    backends: ["kv", "redis"],
    events: 100_000,
    idle: 10,
    procs: 10,
    batch: 100,
  };
  for (let i = 0; i < args.length; i++) {
    const [name, inline] = args[i].split("=", 2);
    const value = inline ?? args[++i];
    if (name === "--backend") f.backends = value.split(",") as Flags["backends"];
    else if (name === "--events") f.events = Number(value);
    else if (name === "--idle") f.idle = Number(value);
    else if (name === "--procs") f.procs = Number(value);
    else if (name === "--batch") f.batch = Number(value);
    else {throw new TypeError(
        `Unknown flag "${args[i]}" (--backend --events --idle --procs --batch)`,
      );}
  }
  return f;
}

/** A worker process of `fanout_worker.ts`, asked for its count over stdin. */
class Host {
  #child: Deno.ChildProcess;
  #lines: ReadableStreamDefaultReader<string>;
  #buffer = "";
  #stdin: WritableStreamDefaultWriter<Uint8Array>;

  constructor(spec: BackendSpec, groups: [string, string][], batch: number) {
    this.#child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("./fanout_worker.ts", import.meta.url).pathname,
        JSON.stringify({ backend: spec, groups, batch }),
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
  cpu(): Promise<number> {
    return cpuOf(this.#child.pid);
  }

  async stop(): Promise<void> {
    await this.#stdin.close();
    await this.#lines.cancel();
    await this.#child.status;
  }
}

/** Starts hosts for `pairs` spread over `procs` processes, and waits until all are ready. */
async function startHosts(
  spec: BackendSpec,
  pairs: [string, string][],
  procs: number,
  batch: number,
) {
  const hosts: Host[] = [];
  for (let i = 0; i < procs; i++) {
    const mine = pairs.filter((_, k) => k % procs === i);
    if (mine.length > 0) hosts.push(new Host(spec, mine, batch));
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

/** Publishes about `events` round-robin over `streams` in batches of 100. */
async function publishAll(spec: BackendSpec, streams: string[], events: number) {
  const backend = await makeBackend(spec);
  const bus = createBus({ backend, source: "bench" });
  await publishRate(bus, "warm-up", 5_000, 100); // compiles the hot path before timing
  const each = Math.ceil(events / streams.length / 100) * 100;
  const cpu = process.cpuUsage();
  const start = performance.now();
  // One publisher, batches of 100 round-robin over the streams: the same calls as for one stream.
  for (let done = 0; done < each; done += 100) {
    for (const s of streams) await publishRate(bus, s, 100, 100);
  }
  const seconds = (performance.now() - start) / 1000;
  const used = process.cpuUsage(cpu);
  await bus.close();
  const published = each * streams.length;
  return {
    rate: published / seconds,
    published,
    seconds,
    /** The publisher's CPU (user + system) per event, in microseconds. */
    cpuUs: (used.user + used.system) / published,
  };
}

/** Waits until the hosts handled `want` events together. */
async function handledAll(hosts: Host[], want: number): Promise<void> {
  while ((await Promise.all(hosts.map((h) => h.handled()))).reduce((a, b) => a + b, 0) < want) {
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** CPU seconds the hosts spent so far, together. */
async function hostsCpu(hosts: Host[]): Promise<number> {
  return (await Promise.all(hosts.map((h) => h.cpu()))).reduce((a, b) => a + b, 0);
}

/** One setup: groups on streams, on a database of its own. */
interface Setup {
  spec: BackendSpec;
  pairs: [string, string][];
  procs: number;
  streams: string[];
  /** Events published so far, times the groups of their stream: what the workers will handle. */
  owed: number;
}

function setup(spec: BackendSpec, pairs: [string, string][], procs: number): Setup {
  return { spec, pairs, procs, streams: [...new Set(pairs.map(([, s]) => s))], owed: 0 };
}

async function publishInto(s: Setup, events: number) {
  const r = await publishAll(s.spec, s.streams, events);
  s.owed += r.published * (s.pairs.length / s.streams.length);
  return r;
}

/** The idle CPU of the setup's workers, as a share of a core. */
async function measureIdle(s: Setup, f: Flags): Promise<number> {
  const hosts = await startHosts(s.spec, s.pairs, s.procs, f.batch);
  const idle = await idleCpu(hosts, f.idle);
  for (const h of hosts) await h.stop();
  return idle;
}

/**
 * Publishing while the setup's workers consume: the rate and the publisher's CPU per event; the
 * CPU the publisher, the workers and the Redis server (`server`) used together while it
 * published (% of a core); and the CPU of the workers and the server per event delivered to one
 * group, until every group handled everything (µs).
 */
async function measureBusy(s: Setup, f: Flags, server?: number) {
  const hosts = await startHosts(s.spec, s.pairs, s.procs, f.batch);
  const others = async () => await hostsCpu(hosts) + (server ? await cpuOf(server) : 0);
  const before = await others();
  const r = await publishInto(s, f.events);
  const during = await others() - before;
  await handledAll(hosts, s.owed);
  const all = await others() - before;
  for (const h of hosts) await h.stop();
  const deliveries = r.published * (s.pairs.length / s.streams.length);
  const demand = (during / r.seconds + r.cpuUs * r.rate / 1e6) * 100;
  return { ...r, demand, perDeliveryUs: all * 1e6 / deliveries };
}

async function runOn(kind: "kv" | "redis", f: Flags): Promise<ScaleRow[]> {
  const dir = await Deno.makeTempDir({ prefix: "herald-fanout-" });
  const server = kind === "redis" ? await startRedis() : undefined;
  try {
    // Each setup on a database of its own: the 50 groups' publishing must not pay for the file
    // the one group's rows filled.
    await Deno.mkdir(`${dir}/one`);
    await Deno.mkdir(`${dir}/many`);
    const one = setup(specFor(kind, `${dir}/one`, server?.url), [["one", "one"]], 1);
    const streams = Array.from({ length: STREAMS }, (_, i) => `fan${i}`);
    const pairs = Array.from({ length: GROUPS }, (_, i) => [`g${i}`, streams[i % STREAMS]]) as [
      string,
      string,
    ][];
    const many = setup(specFor(kind, `${dir}/many`, server?.url), pairs, f.procs);
    console.error(`${kind}: idle, one group, then ${GROUPS} groups in ${f.procs} processes`);
    const idleOne = await measureIdle(one, f);
    const idleMany = await measureIdle(many, f);
    // Workers stopped: one group and 50 in turn, three times each, so that a change in the
    // machine's load meanwhile moves both; the best rate of each is the least disturbed. The
    // publisher's CPU per event (the median) tells whether publishing itself costs per group.
    console.error(`${kind}: publishing with the workers stopped`);
    const still = {
      one: [] as number[],
      many: [] as number[],
      cpuOne: [] as number[],
      cpuMany: [] as number[],
    };
    for (let i = 0; i < 3; i++) {
      const a = await publishInto(one, f.events);
      const b = await publishInto(many, f.events);
      still.one.push(a.rate), still.cpuOne.push(a.cpuUs);
      still.many.push(b.rate), still.cpuMany.push(b.cpuUs);
    }
    console.error(`${kind}: publishing with the workers consuming`);
    // On fresh databases again: the workers then start with nothing to catch up on.
    const fresh = async (name: string, s: Setup) => {
      await Deno.mkdir(`${dir}/${name}`);
      return setup(specFor(kind, `${dir}/${name}`, server?.url), s.pairs, s.procs);
    };
    const busyOne = await measureBusy(await fresh("busy-one", one), f, server?.pid);
    const busyMany = await measureBusy(await fresh("busy-many", many), f, server?.pid);
    // The CPU that publishing at the one group's rate needs, with every group keeping up: the
    // publisher's per event, and the consuming side's per delivery times the groups per stream.
    const perStream = GROUPS / STREAMS;
    const need = (b: typeof busyOne, fan: number) =>
      busyOne.rate * (b.cpuUs + fan * b.perDeliveryUs) / 1e6 * 100;
    const g = `${GROUPS} groups vs 1`;
    const cores = navigator.hardwareConcurrency;
    return [
      {
        name: `${kind} idle CPU, all ${GROUPS} groups' workers`,
        base: idleOne,
        value: idleMany,
        unit: "% core",
        kind: "abs",
        target: 2,
      },
      {
        name: `${kind} publish 100/call, ${g}, workers stopped (best of 3)`,
        base: Math.max(...still.one),
        value: Math.max(...still.many),
        unit: "ev/s",
        kind: "min",
        target: 0.9,
      },
      {
        name: `${kind} publisher CPU per event, ${g}, workers stopped`,
        base: median(still.cpuOne),
        value: median(still.cpuMany),
        unit: "µs",
        kind: "compare",
        target: 0,
      },
      {
        name: `${kind} publish 100/call, ${g}, all consuming`,
        base: busyOne.rate,
        value: busyMany.rate,
        unit: "ev/s",
        kind: "min",
        target: 0.9,
      },
      {
        name: `${kind} publisher CPU per event, ${g}, all consuming`,
        base: busyOne.cpuUs,
        value: busyMany.cpuUs,
        unit: "µs",
        kind: "compare",
        target: 0,
      },
      {
        name: `${kind} CPU used while publishing (publisher, workers${server ? ", server" : ""})`,
        base: busyOne.demand,
        value: busyMany.demand,
        unit: "% core",
        kind: "compare",
        target: 0,
      },
      {
        name: `${kind} consuming CPU per event and group (workers${server ? ", server" : ""})`,
        base: busyOne.perDeliveryUs,
        value: busyMany.perDeliveryUs,
        unit: "µs",
        kind: "compare",
        target: 0,
      },
      {
        name: `${kind} CPU needed at the one group's rate, all keeping up (${cores} cores here)`,
        base: need(busyOne, 1),
        value: need(busyMany, perStream),
        unit: "% core",
        kind: "compare",
        target: 0,
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
