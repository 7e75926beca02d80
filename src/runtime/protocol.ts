/**
 * The messages between a service and the Web Worker host that runs its worker module.
 *
 * @module
 */
import type { CronDeclaration, CronJob } from "../cron.ts";
import type { DrainResult } from "../drain.ts";
import type { Outage } from "../telemetry/health.ts";
import type { PromJson } from "../telemetry/prometheus.ts";

/** An error as it crosses between isolates (structured clone drops class and prototype). */
export interface PostedError {
  /** The error's class name. */
  name: string;
  /** Its message. */
  message: string;
  /** Its stack, when there was one. */
  stack?: string;
}

/** From the service to the host. */
export type ToHost =
  /**
   * Import the module at `url`; with `handlers`, start its default export (without, it is there
   * only to run cron jobs: a process running the cron role alone). With `prometheus`, the
   * isolate records metrics for the service's `/metrics`.
   */
  | { type: "start"; url: string; service: string; handlers: boolean; prometheus?: boolean }
  /** Run the module's cron job `name` for `tick` (an ISO time); `run` numbers the hand-off. */
  | { type: "cron"; run: number; name: string; tick: string }
  /** Post this isolate's Prometheus metrics as JSON, answering with the same `id`. */
  | { type: "metrics"; id: number }
  /** Stop the worker, letting handlers finish within `graceMs`. */
  | { type: "stop"; graceMs: number }
  /** Drain the group's backlog within `budgetMs`; answered by "drained" with the same `id`. */
  | { type: "drain"; id: number; budgetMs: number };

/** From the host to the service. */
export type FromHost =
  /**
   * The worker started (its group is subscribed and claiming): the cron jobs it declares, and
   * for a Herald Worker its group and streams (push needs them).
   */
  | {
    type: "ready";
    crons: CronDeclaration[];
    group?: string;
    streams?: readonly string[];
  }
  /** Cron hand-off `run` began: from here on it is never handed to this worker again. */
  | { type: "cron-started"; run: number }
  /** Cron hand-off `run` ended, after `ms`; with `error` when the job threw or is unknown. */
  | { type: "cron-done"; run: number; ms: number; error?: PostedError }
  /** A drain ended (with what it found) or failed. */
  | { type: "drained"; id: number; result?: DrainResult; error?: PostedError }
  /** The worker stopped; the host can be terminated. */
  | { type: "stopped" }
  /** Something failed: importing or starting the module, stopping it, or later while running. */
  | { type: "error"; phase: "start" | "stop" | "run"; error: PostedError }
  /** This isolate's metrics, answering the "metrics" message with the same `id`. */
  | { type: "metrics"; id: number; json: PromJson }
  /** The bus became unreachable (`outage`) or reachable again (none). */
  | { type: "reachability"; outage?: Outage };

/** Turns anything thrown into a {@linkcode PostedError}. */
export function postedError(err: unknown): PostedError {
  if (err instanceof Error) return { name: err.name, message: err.message, stack: err.stack };
  return { name: "NonError", message: String(err) };
}

/** What the default export of a worker module must look like (an `EventWorker`). */
export interface StartableWorker {
  /** Subscribes and starts claiming; resolves once running. */
  start(): Promise<void>;
  /** Stops claiming and finishes in-flight handlers within the grace period. */
  stop(options?: { graceMs?: number }): Promise<void>;
  /** The cron jobs it declares (`worker.cron()`), by name. */
  readonly crons?: ReadonlyMap<string, CronJob>;
  /** The consumer group (a Herald Worker has it; push needs it). */
  readonly group?: string;
  /** The streams it reads (a Herald Worker has them; push needs them). */
  readonly streams?: readonly string[];
  /** Drains the group's backlog within a budget (a Herald Worker can). */
  drain?(options: { budgetMs: number }): Promise<DrainResult>;
}

/** The declarations of a worker module's cron jobs, to post or compare. */
export function declaredCrons(worker: StartableWorker): CronDeclaration[] {
  return [...worker.crons?.entries() ?? []].map(([name, job]) => ({
    name,
    schedule: job.schedule,
  }));
}

/**
 * Imports a worker module and returns its default export.
 *
 * @throws {TypeError} when the default export is not a Worker.
 */
export async function importWorker(url: string): Promise<StartableWorker> {
  const mod = await import(url);
  const worker = mod?.default as Partial<StartableWorker> | undefined;
  if (typeof worker?.start !== "function" || typeof worker?.stop !== "function") {
    throw new TypeError(
      `The default export of ${url} is not a Worker: export default createWorker({ ... })`,
    );
  }
  return worker as StartableWorker;
}
