/**
 * The worker role: runs a service's worker module in a Web Worker (or, where Web Workers do not
 * exist, in this isolate) and stops it within the grace period. Either way it runs the cron jobs
 * the module declares when the cron role hands them over.
 *
 * @module
 */
import type { CronTarget, HandOff, WorkerRoleOptions } from "./cron_target.ts";
import { UpWaiters } from "./cron_target.ts";
import { CronRuns } from "./cron_runs.ts";
import type { Log } from "./log.ts";
import { describe } from "./log.ts";
import { declaredCrons, importWorker, type StartableWorker } from "./protocol.ts";
import { type RoleState, within } from "./role.ts";
import { WebWorkerRole } from "./web_worker_role.ts";

// Past the grace period the worker still releases what it holds; give that a moment too.
const RELEASE_MS = 2_000;

/** Starts the worker role (with `handlers: false`, only to run the module's cron jobs). */
export function startWorkerRole(
  url: string,
  service: string,
  isolate: "worker" | "same",
  log: Log,
  options: WorkerRoleOptions = { handlers: true },
): CronTarget {
  return isolate === "worker"
    ? new WebWorkerRole(url, service, log, options)
    : new SameIsolateRole(url, service, log, options);
}

class SameIsolateRole implements CronTarget {
  state: RoleState = "starting";
  reason?: string = "worker is starting";
  #worker?: StartableWorker;
  #starting: Promise<void>;
  #stopping?: Promise<void>;
  #log: Log;
  #crons = new CronRuns();
  #up = new UpWaiters();

  constructor(url: string, readonly service: string, log: Log, options: WorkerRoleOptions) {
    this.#log = log;
    log.info(
      `worker: starting ${url}${options.handlers ? "" : " for its cron jobs"} in this isolate`,
    );
    const t0 = performance.now();
    this.#starting = (async () => {
      try {
        const worker = await importWorker(url);
        if (options.handlers) await worker.start();
        this.#worker = worker;
        if (this.state !== "starting") return;
        this.state = "up";
        this.reason = undefined;
        log.info(`worker: ready in ${Math.round(performance.now() - t0)} ms`);
        options.onReady?.(declaredCrons(worker));
        this.#up.wake();
      } catch (err) {
        log.error("worker: start failed", err);
        this.state = "failed";
        this.reason = `worker failed to start: ${err instanceof Error ? err.message : err}`;
      }
    })();
  }

  whenUp(ms: number, signal: AbortSignal): Promise<boolean> {
    return this.#up.wait(() => this.state === "up", ms, signal);
  }

  async runCron(name: string, tick: Date): Promise<HandOff> {
    if (this.state !== "up") return { outcome: "not-started" };
    const job = this.#worker?.crons?.get(name);
    if (!job) {
      return {
        outcome: "done",
        ms: 0,
        error: new Error(`The worker module declares no cron job "${name}"`),
      };
    }
    return {
      outcome: "done",
      ...await this.#crons.run(job, { name, service: this.service, tick }),
    };
  }

  stop(graceMs: number): Promise<void> {
    this.#stopping ??= this.#stop(graceMs);
    return this.#stopping;
  }

  async #stop(graceMs: number): Promise<void> {
    this.state = "stopping";
    this.reason = "worker is stopping";
    this.#up.wake();
    this.#log.info(`worker: stopping (grace ${graceMs} ms)`);
    await this.#starting;
    const stopped = this.#worker?.stop({ graceMs }).catch((err) => {
      this.#log.error("worker: stop failed", describe(err));
    });
    const all = Promise.all([stopped, this.#crons.settle(graceMs)]);
    if (!await within(all, graceMs + RELEASE_MS)) {
      this.#log.error(`worker: did not stop within ${graceMs + RELEASE_MS} ms`);
    }
    this.state = "stopped";
    this.#log.info("worker: stopped");
  }
}
