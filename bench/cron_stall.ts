/**
 * HTTP latency beside a CPU-heavy cron job: the job (500 ms of busy loop every second) declared
 * in the worker module and run in its Web Worker, against the same job run in the main isolate
 * (`createService({ cron })`). Each mode runs the test fixture `tests/runtime/fixtures/cron_main.ts`
 * under `deno serve` in its own process, with Deno.cron firing every second; requests are sent
 * every 10 ms whether or not the last one answered, and each one's latency counts from its send
 * time, so a stalled isolate shows in every request it held up.
 *
 * ```sh
 * deno run -A bench/cron_stall.ts              # 10 s a mode
 * deno run -A bench/cron_stall.ts --seconds 20
 * ```
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Samples } from "./_stats.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const FIXTURE = fileURLToPath(new URL("../tests/runtime/fixtures/cron_main.ts", import.meta.url));
/** The bound on HTTP p99 with the job in the worker, in milliseconds. */
const LIMIT_MS = 20;
const EVERY_MS = 10;

interface ModeResult {
  mode: "worker" | "main";
  p50: number;
  p99: number;
  max: number;
  requests: number;
  jobRuns: number;
}

async function runMode(mode: "worker" | "main", seconds: number): Promise<ModeResult> {
  const dir = await Deno.makeTempDir({ prefix: "herald-cron-bench-" });
  const child = new Deno.Command(Deno.execPath(), {
    args: ["serve", "-A", "--host", "127.0.0.1", "--port", "0", FIXTURE],
    cwd: ROOT,
    env: {
      HERALD_TEST_KV: `${dir}/herald.db`,
      FIXTURE_JOBS: "busy",
      FIXTURE_JOB_IN: mode,
      DENO_CRON_TEST_SCHEDULE_OFFSET: "1000",
      NO_COLOR: "1",
    },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  const readers = [child.stdout, child.stderr].map((s) => collect(s, lines));
  try {
    const port = await listening(lines);
    await ready(port);
    const runsBefore = jobRuns(lines);
    const latencies = await paced(port, seconds);
    const stats = latencies.percentiles();
    return { mode, ...stats, requests: stats.n, jobRuns: jobRuns(lines) - runsBefore };
  } finally {
    child.kill("SIGKILL");
    await child.status;
    await Promise.all(readers);
    await Deno.remove(dir, { recursive: true });
  }
}

/** Sends GET /hello every EVERY_MS for `seconds`; latency from each request's send time. */
async function paced(port: number, seconds: number): Promise<Samples> {
  const samples = new Samples();
  const pending: Promise<void>[] = [];
  const start = performance.now();
  for (let i = 0; i * EVERY_MS < seconds * 1000; i++) {
    const due = start + i * EVERY_MS;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    pending.push(
      fetch(`http://127.0.0.1:${port}/hello`).then(async (res) => {
        await res.text();
        samples.push(performance.now() - due);
      }),
    );
  }
  await Promise.all(pending);
  return samples;
}

function jobRuns(lines: string[]): number {
  return lines.filter((l) => /fixture: job=busy/.test(l)).length;
}

async function listening(lines: string[]): Promise<number> {
  for (let i = 0; i < 600; i++) {
    const line = lines.find((l) => /Listening on http:\/\/127\.0\.0\.1:\d+/.test(l));
    if (line) return Number(line.match(/127\.0\.0\.1:(\d+)/)![1]);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`The fixture never listened:\n${lines.join("\n")}`);
}

async function ready(port: number): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const res = await fetch(`http://127.0.0.1:${port}/readyz`);
    await res.body?.cancel();
    if (res.ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("The fixture never got ready");
}

async function collect(stream: ReadableStream<Uint8Array>, lines: string[]): Promise<void> {
  let rest = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    const parts = (rest + chunk).split("\n");
    rest = parts.pop()!;
    lines.push(...parts);
  }
  if (rest) lines.push(rest);
}

const args = parseArgs({
  args: Deno.args,
  options: { seconds: { type: "string", default: "10" } },
});
const seconds = Number(args.values.seconds);
const results: ModeResult[] = [];
for (const mode of ["worker", "main"] as const) results.push(await runMode(mode, seconds));
const [worker, main] = results;
const f = (n: number) => n.toFixed(1).padStart(7);
console.log(`HTTP latency beside a 500 ms busy cron job every second (${seconds} s a mode)`);
console.log("job in     requests  job runs     p50 ms     p99 ms     max ms");
for (const r of results) {
  console.log(
    `${r.mode.padEnd(10)} ${String(r.requests).padStart(8)} ${String(r.jobRuns).padStart(9)}` +
      `    ${f(r.p50)}    ${f(r.p99)}    ${f(r.max)}`,
  );
}
const met = worker.p99 < LIMIT_MS ? "met" : "NOT met";
console.log(
  `worker p99 ${worker.p99.toFixed(1)} ms against the limit ${LIMIT_MS} ms: ${met}; ` +
    `main/worker p99 ratio ${(main.p99 / worker.p99).toFixed(1)}x`,
);
