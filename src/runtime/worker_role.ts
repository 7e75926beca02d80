/**
 * The worker role: runs a service's worker module in a Web Worker (or, where Web Workers do not
 * exist, in this isolate) and stops it within the grace period. A start that fails is tried
 * again after a backoff (1 s, doubling, at most 30 s) in either place. Either way it runs the
 * cron jobs the module declares when the cron role hands them over.
 *
 * @module
 */
import type { CronTarget, HandOff, WorkerRoleOptions } from "./cron_target.ts";
import { UpWaiters } from "./cron_target.ts";
import { CronRuns } from "./cron_runs.ts";
import { longestOutage, type Outage } from "../telemetry/health.ts";
import type { Log } from "./log.ts";
import { describe } from "./log.ts";
import { declaredCrons, importWorker, type StartableWorker } from "./protocol.ts";
import { restartDelay, type RoleState, within } from "./role.ts";
import { sleep } from "../sleep.ts";
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
  #retry = new AbortController();
  #log: Log;
  #crons = new CronRuns();
  #up = new UpWaiters();

  constructor(
    readonly url: string,
    readonly service: string,
    log: Log,
    readonly options: WorkerRoleOptions,
  ) {
    this.#log = log;
    this.#starting = this.#start();
  }

  /** Starts the worker; a failed start is tried again after a backoff, as the Web Worker is. */
  async #start(): Promise<void> {
    const signal = this.#retry.signal;
    const purpose = this.options.handlers ? "" : " for its cron jobs";
    for (let failures = 0; !signal.aborted; failures++) {
      this.#log.info(`worker: starting ${this.url}${purpose} in this isolate`);
      const t0 = performance.now();
      try {
        const worker = await importWorker(this.url);
        if (this.options.handlers) await worker.start();
        this.#worker = worker;
        if (this.state !== "starting") return;
        this.state = "up";
        this.reason = undefined;
        this.#log.info(`worker: ready in ${Math.round(performance.now() - t0)} ms`);
        this.options.onReady?.(declaredCrons(worker));
        this.#up.wake();
        return;
      } catch (err) {
        this.#log.error("worker: start failed", err);
        if (signal.aborted) return;
        const delay = restartDelay(failures);
        const message = err instanceof Error ? err.message : String(err);
        this.state = "failed";
        this.reason = `worker failed to start: ${message} (restarting in ${delay} ms)`;
        this.#log.info(`worker: restarting in ${delay} ms`);
        await sleep(delay, signal);
        if (!signal.aborted) this.state = "starting";
      }
    }
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

  /** The worker shares this isolate: any outage of a bus here counts. */
  outage(): Outage | undefined {
    return longestOutage();
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
    this.#retry.abort();
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
