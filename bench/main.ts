/**
 * `deno task bench`: the raw limits of Deno KV and Redis next to Herald's numbers, measured in
 * one run on one machine, producer and consumers in separate OS processes, 200-byte events.
 *
 * Flags:
 * - `--only PART[,PART…]` (repeatable): kv-raw, kv-herald, redis-raw, rest-raw, bullmq,
 *   redis-tcp, redis-rest, telemetry; groups: kv, redis, tcp, rest, raw, herald.
 * - `--rows TEXT[,TEXT]`: only the rows whose name contains one of the TEXTs (case-insensitive),
 *   e.g. `paced`.
 * - `--quick`: small counts, a smoke run in under a minute.
 * - `--verbose`: echo the children's stderr.
 * - `--profile`: under each Herald row, the calls per event that each process made (backend
 *   methods, Deno KV commits and failed commits, HTTP requests, Redis commands).
 * - `--repeat N`: run the selection N times and end with one table of medians, ranges and how
 *   many runs met each target (see `_summary.ts`).
 * - `--out FILE`: where the JSON copy goes (default `bench/.out/bench-<time>.json`).
 *
 * @module
 */
import { Context } from "./_context.ts";
import { renderSummary } from "./_summary.ts";
import { renderTable, type Row } from "./_table.ts";
import { alternate } from "./_steps.ts";

const PARTS = [
  "kv-raw",
  "kv-herald",
  "redis-raw",
  "rest-raw",
  "bullmq",
  "redis-tcp",
  "redis-rest",
  "telemetry",
];
const GROUPS: Record<string, string[]> = {
  kv: ["kv-raw", "kv-herald"],
  redis: ["redis-raw", "rest-raw", "bullmq", "redis-tcp", "redis-rest"],
  tcp: ["redis-raw", "bullmq", "redis-tcp"],
  rest: ["rest-raw", "redis-rest"],
  raw: ["kv-raw", "redis-raw", "rest-raw", "bullmq"],
  herald: ["kv-herald", "redis-tcp", "redis-rest"],
};

interface Flags {
  parts: Set<string>;
  quick: boolean;
  verbose: boolean;
  profile: boolean;
  rows?: string;
  out?: string;
  repeat: number;
}

function parseFlags(args: string[]): Flags {
  const flags: Flags = {
    parts: new Set(),
    quick: false,
    verbose: false,
    profile: false,
    repeat: 1,
  };
  for (let i = 0; i < args.length; i++) {
    const [name, inline] = args[i].split("=", 2);
    const value = () => inline ?? args[++i];
    if (name === "--quick") flags.quick = true;
    else if (name === "--verbose") flags.verbose = true;
    else if (name === "--profile") flags.profile = true;
    else if (name === "--out") flags.out = value();
    else if (name === "--rows") flags.rows = value();
    else if (name === "--repeat") {
      flags.repeat = Number(value());
      if (!Number.isInteger(flags.repeat) || flags.repeat < 1) {
        throw new TypeError("--repeat takes a whole number of runs, at least 1");
      }
    } else if (name === "--only") {
      for (const part of (value() ?? "").split(",").filter(Boolean)) {
        const expanded = GROUPS[part] ?? (PARTS.includes(part) ? [part] : undefined);
        if (!expanded) {
          throw new TypeError(`Unknown part "${part}": use ${[...PARTS, ...Object.keys(GROUPS)]}`);
        }
        for (const p of expanded) flags.parts.add(p);
      }
    } else if (name === "--help" || name === "-h") {
      console.log(
        `deno task bench [--only PART[,PART]] [--rows TEXT[,TEXT]] [--repeat N] [--quick] [--profile] [--verbose] [--out FILE]
parts: ${PARTS.join(", ")}; groups: ${Object.keys(GROUPS).join(", ")}`,
      );
      Deno.exit(0);
    } else throw new TypeError(`Unknown flag "${args[i]}" (see --help)`);
  }
  if (flags.parts.size === 0) { for (const p of PARTS) flags.parts.add(p); }
  return flags;
}

async function main(): Promise<void> {
  let flags: Flags;
  try {
    flags = parseFlags(Deno.args);
  } catch (err) {
    console.error((err as Error).message);
    Deno.exit(2);
  }
  const cpu = (await Deno.readTextFile("/proc/cpuinfo").catch(() => "")).match(
    /model name\s*:\s*(.+)/,
  )?.[1] ?? "unknown CPU";
  const started = Date.now();
  const loadStart = Deno.loadavg();
  console.log(
    `Herald bench${flags.quick ? " (quick)" : ""}: ${[...flags.parts].join(", ")}; ` +
      `Deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} cores (${cpu}), 200-byte events, ` +
      `producer and consumers in separate processes` +
      (flags.repeat > 1 ? `; ${flags.repeat} runs` : ""),
  );
  const runs: Row[][] = [];
  for (let run = 1; run <= flags.repeat; run++) {
    if (flags.repeat > 1) console.log(`\n── run ${run} of ${flags.repeat}`);
    runs.push(await runOnce(flags));
  }
  const seconds = (Date.now() - started) / 1000;
  const load = [loadStart, Deno.loadavg()].map((l) => l[0].toFixed(1));
  console.log(
    `\n${runs.length === 1 ? renderTable(runs[0]) : renderSummary(runs)}\n
Latency: from the publish stamp in the payload to the handler; the first tenth of a paced run
is warm-up and left out. Throughput: events handled from the first publish to the last handler
call. * = the issue's reference number, used when the row it comes from was not run.
${seconds.toFixed(0)} s; load average ${load[0]} at the start, ${load[1]} at the end ` +
      `(${navigator.hardwareConcurrency} cores: anything else running skews the numbers).`,
  );
  const out = flags.out ??
    new URL(`.out/bench-${new Date().toISOString().replace(/[:.]/g, "-")}.json`, import.meta.url)
      .pathname;
  await Deno.mkdir(out.slice(0, out.lastIndexOf("/")), { recursive: true });
  await Deno.writeTextFile(
    out,
    JSON.stringify(
      {
        at: new Date().toISOString(),
        deno: Deno.version.deno,
        cpu,
        cores: navigator.hardwareConcurrency,
        quick: flags.quick,
        parts: [...flags.parts],
        seconds,
        loadavg: { start: loadStart, end: Deno.loadavg() },
        rows: runs.length === 1 ? runs[0] : undefined,
        runs: runs.length > 1 ? runs : undefined,
      },
      null,
      2,
    ) + "\n",
  );
  console.log(`JSON: ${out}`);
}

/** Runs the selected parts once, in a scratch folder of their own; returns the rows. */
async function runOnce(flags: Flags): Promise<Row[]> {
  const tmp = await Deno.makeTempDir({ prefix: "herald-bench-" });
  const ctx = new Context(flags.quick, flags.verbose, tmp, flags.profile, flags.rows);
  try {
    const has = (p: string) => flags.parts.has(p);
    if (has("kv-raw") || has("kv-herald")) {
      const kv = await import("./kv.ts");
      await alternate(has("kv-raw") ? kv.kvRaw(ctx) : [], has("kv-herald") ? kv.kvHerald(ctx) : []);
    }
    if (["redis-raw", "rest-raw", "bullmq", "redis-tcp", "redis-rest"].some(has)) {
      const redis = await import("./redis.ts");
      await redis.redisParts(ctx, flags.parts);
    }
    if (has("telemetry")) await (await import("./telemetry.ts")).telemetryRows(ctx);
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
  return ctx.rows;
}

if (import.meta.main) await main();
