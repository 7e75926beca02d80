/**
 * The child side of the bench protocol. A role process reads its parameters from the
 * `BENCH_PARAMS` environment variable (JSON), writes one JSON message per line on stdout
 * (`{"ready":true}`, `{"progress":n}`, `{"result":{…}}`), and stops when the parent writes
 * `stop` on its stdin (or closes it).
 *
 * @module
 */
import process from "node:process";
import { now, until } from "./_clock.ts";
import { type Percentiles, Samples } from "./_stats.ts";

/** CPU time (user + system) this process has used, in milliseconds. */
export function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/** The parameters the parent passed. */
export function params<T>(): T {
  return JSON.parse(Deno.env.get("BENCH_PARAMS") ?? "{}") as T;
}

const encoder = new TextEncoder();

/** Writes one protocol message to stdout. */
export function send(message: Record<string, unknown>): void {
  const bytes = encoder.encode(JSON.stringify(message) + "\n");
  // A pipe may take a large message in several writes.
  for (let off = 0; off < bytes.length;) off += Deno.stdout.writeSync(bytes.subarray(off));
}

/** Resolves when the parent writes `stop` on stdin or closes it. */
export async function stopRequested(): Promise<void> {
  const decoder = new TextDecoder();
  let text = "";
  for await (const chunk of Deno.stdin.readable) {
    text += decoder.decode(chunk, { stream: true });
    if (text.includes("stop")) return;
  }
}

/** What a consumer reports when it stops. */
export interface ConsumerResult {
  /** Events handled (duplicates included). */
  count: number;
  /** Events this process handled more than once. */
  duplicates: number;
  /** Earliest publish stamp among the events handled. */
  firstStamp: number;
  /** When the last event was handled. */
  lastAt: number;
  /** Latency from publish stamp to handler, warm-up events left out. */
  latency: Percentiles;
  /** The sequence numbers handled, when asked for (`trackSeqs`). */
  seqs?: number[];
  /** Errors that reached this process's user code or console. */
  errors: number;
  /** Of those, SQLite "database is locked". */
  locked: number;
  /** A few error messages, for the table's notes. */
  errorSamples: string[];
  /** Role-specific details (profiles, backend counters). */
  detail?: Record<string, unknown>;
}

/** Parameters every consumer role takes. */
export interface ConsumerParams {
  /**
   * Events published within this many milliseconds of the first one are warm-up: not in the
   * latency percentiles.
   */
  warmupMs?: number;
  /** Expected total, for duplicate tracking. */
  total: number;
  /** Report the sequence numbers handled (for cross-process duplicate and loss checks). */
  trackSeqs?: boolean;
}

/** Records what a consumer handles and reports progress to the parent. */
export class Recorder {
  readonly #latency = new Samples();
  readonly #stamps = new Samples();
  readonly #seen: Uint8Array;
  readonly #seqs: number[] | undefined;
  readonly #warmupMs: number;
  #count = 0;
  #duplicates = 0;
  #firstStamp = Infinity;
  #lastAt = 0;
  /** Set while progress waits to be sent: no timer ticks while nothing is handled (idle CPU). */
  #timer: ReturnType<typeof setTimeout> | undefined;
  #errors = 0;
  #locked = 0;
  #errorSamples: string[] = [];
  #cpuAtReady = 0;

  constructor(p: ConsumerParams) {
    this.#seen = new Uint8Array(p.total);
    this.#seqs = p.trackSeqs ? [] : undefined;
    this.#warmupMs = p.warmupMs ?? 0;
  }

  /** Tells the parent this consumer is ready; CPU time counts from here. */
  ready(): void {
    this.#cpuAtReady = cpuMs();
    send({ ready: true });
  }

  /** Records one handled event from its sequence number and publish stamp. */
  record(seq: number, stamp: number): void {
    const at = now();
    this.#count++;
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      send({ progress: this.#count });
    }, 50);
    if (seq < this.#seen.length) {
      if (this.#seen[seq]) this.#duplicates++;
      this.#seen[seq] = 1;
    }
    this.#seqs?.push(seq);
    if (stamp < this.#firstStamp) this.#firstStamp = stamp;
    this.#lastAt = at;
    this.#latency.push(at - stamp);
    this.#stamps.push(stamp);
  }

  /** Records an error that reached user code (or the console). */
  error(err: unknown): void {
    const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    this.#errors++;
    if (/database is locked/i.test(message)) this.#locked++;
    if (this.#errorSamples.length < 3) this.#errorSamples.push(message.slice(0, 200));
  }

  /** Counts errors that the library logs with `console.warn` / `console.error`. */
  watchConsole(): void {
    for (const level of ["warn", "error"] as const) {
      const original = console[level];
      console[level] = (...args: unknown[]) => {
        this.error(args.map((a) => a instanceof Error ? `${a.name}: ${a.message}` : a).join(" "));
        original(...args);
      };
    }
  }

  /**
   * Sends what was handled so far as `partial`, so that a process that dies while it shuts down
   * still reports its numbers.
   */
  snapshot(detail?: Record<string, unknown>): void {
    send({ partial: this.#result(detail) });
  }

  /** Stops progress reports and sends the result, with role-specific `detail`. */
  finish(detail?: Record<string, unknown>): void {
    clearTimeout(this.#timer);
    send({ progress: this.#count });
    send({ result: this.#result(detail) });
  }

  #result(detail?: Record<string, unknown>): ConsumerResult {
    return {
      count: this.#count,
      duplicates: this.#duplicates,
      firstStamp: this.#firstStamp,
      lastAt: this.#lastAt,
      latency: this.#latency.percentiles(this.#stamps, this.#firstStamp + this.#warmupMs),
      seqs: this.#seqs,
      errors: this.#errors,
      locked: this.#locked,
      errorSamples: [...this.#errorSamples],
      detail: { ...detail, cpuMs: cpuMs() - this.#cpuAtReady },
    };
  }
}

/** Parameters every producer role takes. */
export interface ProducerParams {
  /** `single`: one event per call; `batch`: `batch` events per call; `paced`: `rate`/s. */
  mode: "single" | "batch" | "paced";
  /** How many events. */
  n: number;
  /** Events per call in `batch` mode. */
  batch?: number;
  /** Events per second in `paced` mode. */
  rate?: number;
  /** Stop publishing after this many seconds even if fewer than `n` went out. */
  maxSeconds?: number;
}

/** What a producer reports. */
export interface ProducerResult {
  published: number;
  seconds: number;
  errors: number;
  locked: number;
  errorSamples: string[];
  /** Role-specific details (profiles, backend counters). */
  detail?: Record<string, unknown>;
}

/**
 * Runs a producer: calls `one(seq)` or `many(seqs)` as the mode says, counting errors, then
 * sends the result.
 */
export async function produce(
  p: ProducerParams,
  one: (seq: number) => Promise<void>,
  many: (seqs: number[]) => Promise<void>,
  detail?: () => Record<string, unknown>,
): Promise<void> {
  const result: ProducerResult = {
    published: 0,
    seconds: 0,
    errors: 0,
    locked: 0,
    errorSamples: [],
  };
  const fail = (err: unknown, count: number) => {
    const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    result.errors += count;
    if (/database is locked/i.test(message)) result.locked += count;
    if (result.errorSamples.length < 3) result.errorSamples.push(message.slice(0, 200));
  };
  const calls = new Samples();
  const timed = async (f: () => Promise<void>) => {
    const t = now();
    await f();
    calls.push(now() - t);
  };
  const cpuStart = cpuMs();
  const start = now();
  const deadline = start + (p.maxSeconds ?? Infinity) * 1000;
  if (p.mode === "batch") {
    const size = p.batch ?? 100;
    for (let seq = 0; seq < p.n && now() < deadline; seq += size) {
      const seqs = Array.from({ length: Math.min(size, p.n - seq) }, (_, i) => seq + i);
      try {
        await timed(() => many(seqs));
        result.published += seqs.length;
      } catch (err) {
        fail(err, seqs.length);
      }
    }
  } else {
    const interval = p.mode === "paced" ? 1000 / (p.rate ?? 1000) : 0;
    for (let seq = 0; seq < p.n && now() < deadline; seq++) {
      if (interval > 0) await until(start + seq * interval);
      try {
        await timed(() => one(seq));
        result.published++;
      } catch (err) {
        fail(err, 1);
      }
    }
  }
  result.seconds = (now() - start) / 1000;
  result.detail = { ...detail?.(), callMs: calls.percentiles(), cpuMs: cpuMs() - cpuStart };
  send({ result });
}
