/**
 * Running cron jobs in whichever isolate holds their functions (the main one, the worker
 * module's Web Worker, or the worker module imported in the main isolate): each run is timed,
 * never rejects, and the running ones get the grace period on stop.
 *
 * @module
 */
import type { CronContext, CronJob } from "../cron.ts";
import { within } from "./role.ts";

/** How one run ended. */
export interface CronRunResult {
  /** How long it took, in milliseconds. */
  ms: number;
  /** What it threw, when it threw. */
  error?: unknown;
}

/** The cron runs of one isolate. */
export class CronRuns {
  // Jobs' own signal: aborted only when the grace period ran out, like handlers' signals.
  #late = new AbortController();
  #running = new Set<Promise<CronRunResult>>();

  /** How many run now. */
  get size(): number {
    return this.#running.size;
  }

  /** Runs `job` for `tick`; resolves with how it went, never rejects. */
  run(job: CronJob, ctx: Omit<CronContext, "signal">): Promise<CronRunResult> {
    const run = this.#run(job, { ...ctx, signal: this.#late.signal });
    this.#running.add(run);
    run.then(() => this.#running.delete(run));
    return run;
  }

  async #run(job: CronJob, ctx: CronContext): Promise<CronRunResult> {
    const t0 = performance.now();
    try {
      await job.run(ctx);
      return { ms: Math.round(performance.now() - t0) };
    } catch (error) {
      return { ms: Math.round(performance.now() - t0), error };
    }
  }

  /**
   * Waits up to `graceMs` for the running jobs; past it, aborts their signal.
   *
   * @returns Whether they all ended in time.
   */
  async settle(graceMs: number): Promise<boolean> {
    if (this.#running.size === 0) return true;
    if (await within(Promise.all(this.#running), graceMs)) return true;
    this.#late.abort();
    return false;
  }
}
