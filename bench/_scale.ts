/**
 * What the scale benches (`backlog.ts`, `fanout.ts`) share: a private Redis server, the
 * backends they run on, paced and batched publishing, and their table of rows.
 *
 * @module
 */
import { cpuMs } from "./_cpu.ts";
import { type Bus, defineEvent } from "@herald/herald";
import { type BackendSpec, Tick } from "./_herald.ts";

/** A Redis server of the bench's own, on a private port: the shared one stays small. */
export interface PrivateRedis {
  url: string;
  /** The server's process id (for its CPU time in `/proc`). */
  pid: number;
  stop(): Promise<void>;
}

/** Starts `redis-server` on a random private port without persistence, and waits for it. */
export async function startRedis(): Promise<PrivateRedis> {
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const child = new Deno.Command("redis-server", {
    args: ["--port", String(port), "--save", "", "--appendonly", "no", "--bind", "127.0.0.1"],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const url = `redis://127.0.0.1:${port}`;
  for (let i = 0;; i++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      break;
    } catch (err) {
      if (i > 100) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    url,
    pid: child.pid,
    async stop() {
      child.kill("SIGTERM");
      await child.status;
    },
  };
}

/** CPU seconds a process spent so far (user + system), from `/proc` (Linux). */
export function cpuOf(pid: number): Promise<number> {
  return Promise.resolve(cpuMs(pid) / 1000);
}

/** A backend spec for `kind` in `dir` (KV) or on `redisUrl`, with a fresh key prefix. */
export function specFor(kind: "kv" | "redis", dir: string, redisUrl?: string): BackendSpec {
  if (kind === "kv") return { kind: "kv", path: `${dir}/scale.db` };
  return { kind: "redis", url: redisUrl!, prefix: `scale-${crypto.randomUUID().slice(0, 8)}:` };
}

/** The bench's event contract on another stream. */
export const tickOn = (stream: string): typeof Tick =>
  defineEvent({ stream, type: Tick.type, schema: Tick.schema }) as unknown as typeof Tick;

const PAD = "x".repeat(120);

/** Publishes `n` events to `stream`, `batch` per `publishMany` (1: `publish`); events/s. */
export async function publishRate(
  bus: Bus,
  stream: string,
  n: number,
  batch: number,
): Promise<number> {
  const contract = tickOn(stream);
  const start = performance.now();
  for (let sent = 0; sent < n; sent += batch) {
    const k = Math.min(batch, n - sent);
    if (batch === 1) {
      await bus.publish(contract, { seq: sent, t: Date.now(), pad: PAD });
    } else {
      await bus.publishMany(Array.from({ length: k }, (_, i) => ({
        contract,
        data: { seq: sent + i, t: Date.now(), pad: PAD },
      })));
    }
  }
  return n / ((performance.now() - start) / 1000);
}

/** One printed row: a measure on the baseline and under load, and the target on their ratio. */
export interface ScaleRow {
  name: string;
  base: number;
  value: number;
  unit: string;
  /**
   * `min`: value/base must reach `target`; `max`: value/base must stay under `target`; `abs`:
   * value must stay under `target`; `info`: no target; `compare`: no target, both shown.
   */
  kind: "min" | "max" | "abs" | "info" | "compare";
  target: number;
}

/** Whether a row meets its target. */
export function met(r: ScaleRow): boolean {
  if (r.kind === "info" || r.kind === "compare") return true;
  if (r.kind === "abs") return r.value < r.target;
  const ratio = r.value / r.base;
  return r.kind === "min" ? ratio >= r.target : ratio <= r.target;
}

/** Prints rows as a table: baseline, value, ratio, target, met. */
export function printRows(title: string, rows: readonly ScaleRow[]): void {
  console.log(`\n${title}`);
  console.log("row\tbaseline\tvalue\tratio\ttarget\tmet");
  for (const r of rows) {
    const f = (n: number) => n >= 100 ? Math.round(n).toLocaleString("en") : n.toFixed(2);
    const ratio = r.kind === "abs" || r.kind === "info" ? "" : (r.value / r.base).toFixed(2);
    const target = r.kind === "info" || r.kind === "compare"
      ? ""
      : r.kind === "abs"
      ? `< ${r.target} ${r.unit}`
      : `${r.kind === "min" ? ">=" : "<="} ${r.target}`;
    console.log(
      [
        r.name,
        r.kind === "info" ? "" : `${f(r.base)} ${r.unit}`,
        `${f(r.value)} ${r.unit}`,
        ratio,
        target,
        r.kind === "info" || r.kind === "compare" ? "" : met(r) ? "yes" : "NO",
      ]
        .join("\t"),
    );
  }
}

/** Bytes the store holds: the KV file with its WAL, or Redis's `used_memory`. */
export async function storeBytes(spec: BackendSpec): Promise<number> {
  if (spec.kind === "kv") {
    let total = 0;
    for (const suffix of ["", "-wal", "-shm"]) {
      try {
        total += (await Deno.stat(spec.path + suffix)).size;
      } catch (err) {
        if (!(err instanceof Deno.errors.NotFound)) throw err;
      }
    }
    return total;
  }
  const { Redis } = await import("ioredis");
  const r = new Redis(spec.url);
  try {
    const info = String(await r.call("INFO", "memory"));
    return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? NaN);
  } finally {
    r.disconnect();
  }
}
