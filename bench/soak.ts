/**
 * Soak bench, runnable alone: publishes events at a steady rate into a Deno KV file with the
 * default retention while a worker handles them, and every `--report` events prints the
 * process's RSS, the file's size on disk (database, WAL and shared-memory files), the stream's
 * length and the disk used per retained event. Once retention takes over (past `--max-length`
 * events) RSS and disk should stay flat.
 *
 * ```sh
 * deno run -A bench/soak.ts --events 2000000            # the full soak (rate 10,000/s)
 * deno run -A bench/soak.ts --events 300000 --max-length 100000 --rate 20000   # a short one
 * ```
 *
 * Flags: `--events N` (2,000,000), `--rate N` events/s (10,000), `--batch N` events per
 * `publishMany` (100), `--max-length N` the stream's retention (default: the backend's default,
 * `DEFAULT_MAX_LENGTH`), `--report N` (100,000), `--path FILE` (a temporary file, removed after).
 *
 * @module
 */
import {
  createBus,
  createKvBackend,
  createWorker,
  DEFAULT_MAX_LENGTH,
  type KvBackend,
} from "@herald/herald";
import { Tick } from "./_herald.ts";

interface SoakFlags {
  events: number;
  rate: number;
  batch: number;
  maxLength?: number;
  report: number;
  path?: string;
}

function parseFlags(args: string[]): SoakFlags {
  const f: SoakFlags = { events: 2_000_000, rate: 10_000, batch: 100, report: 100_000 };
  const numeric = ["events", "rate", "batch", "max-length", "report"];
  for (let i = 0; i < args.length; i++) {
    const [name, inline] = args[i].replace(/^--/, "").split("=", 2);
    const value = inline ?? args[++i];
    if (name === "path") f.path = value;
    else if (numeric.includes(name) && Number(value) > 0) {
      const key = name === "max-length" ? "maxLength" : name as "events";
      f[key] = Math.floor(Number(value));
    } else throw new TypeError(`Unknown flag or bad value "${args[i]}" (flags: ${numeric}, path)`);
  }
  return f;
}

/** Bytes of the database and its WAL and shared-memory files. */
export async function diskBytes(path: string): Promise<number> {
  let total = 0;
  for (const suffix of ["", "-wal", "-shm"]) {
    try {
      total += (await Deno.stat(path + suffix)).size;
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
  return total;
}

const mb = (bytes: number) => (bytes / 1e6).toFixed(1);

/** Publishes `count` events from `from` on, paced to `rate` per second from `start`. */
async function publishPaced(
  publish: (n: number, from: number) => Promise<unknown>,
  f: SoakFlags,
  from: number,
  count: number,
  start: number,
): Promise<void> {
  for (let sent = from; sent < from + count; sent += f.batch) {
    const due = start + (sent / f.rate) * 1000;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    await publish(Math.min(f.batch, from + count - sent), sent);
  }
}

async function main(): Promise<void> {
  const f = parseFlags(Deno.args);
  const dir = f.path ? undefined : await Deno.makeTempDir({ prefix: "herald-soak-" });
  const path = f.path ?? `${dir}/soak.db`;
  const retention = f.maxLength ? { maxLength: f.maxLength } : undefined;
  const backend: KvBackend = createKvBackend({ path, retention });
  const bus = createBus({ backend, source: "soak" });
  let handled = 0;
  const worker = createWorker({ bus, group: "soak", batch: 100 })
    .on(Tick, () => void handled++, { concurrency: 100 });
  await worker.start();
  const pad = "x".repeat(120);
  const publish = (n: number, from: number) =>
    bus.publishMany(Array.from({ length: n }, (_, i) => ({
      contract: Tick,
      data: { seq: from + i, t: Date.now(), pad },
    })));
  console.log(
    `soak: ${f.events} events at ${f.rate}/s into ${path}, retention ` +
      `${f.maxLength ?? DEFAULT_MAX_LENGTH} (${f.maxLength ? "--max-length" : "the default"})`,
  );
  console.log(
    "events\thandled\tsecs\trss MB\theap MB\tdisk MB\tstream\tbytes/event\tunhandled lost",
  );
  const start = performance.now();
  for (let done = 0; done < f.events; done += f.report) {
    const n = Math.min(f.report, f.events - done);
    await publishPaced(publish, f, done, n, start);
    await backend.trim([Tick.stream]);
    const disk = await diskBytes(path);
    const length = (await backend.streams()).find((s) => s.stream === Tick.stream)?.length ?? 0;
    console.log([
      done + n,
      handled,
      ((performance.now() - start) / 1000).toFixed(0),
      mb(Deno.memoryUsage().rss),
      mb(Deno.memoryUsage().heapUsed),
      mb(disk),
      length,
      Math.round(disk / Math.max(1, length)),
      backend.stats.trimmedUnhandled,
    ].join("\t"));
  }
  await worker.stop();
  await bus.close();
  if (dir) await Deno.remove(dir, { recursive: true });
}

if (import.meta.main) await main();
