/**
 * The worker role in a Web Worker: the host script imports the worker module there, so its
 * handlers never block the isolate that answers HTTP. A Web Worker that crashes, or whose module
 * fails to start, is started again after a backoff (1 s, doubling, at most 30 s). Cron jobs the
 * module declares run there too, when the cron role hands them over.
 *
 * @module
 */
import type { CronTarget, HandOff, WorkerRoleOptions } from "./cron_target.ts";
import { UpWaiters } from "./cron_target.ts";
import type { Outage } from "../telemetry/health.ts";
import type { PromJson } from "../telemetry/prometheus.ts";
import type { Log } from "./log.ts";
import type { FromHost, ToHost } from "./protocol.ts";
import { restartDelay, type RoleState, within } from "./role.ts";

interface PendingRun {
  started: boolean;
  resolve: (result: HandOff) => void;
}

// Past the grace period the worker still releases what it holds; give that a moment too.
const RELEASE_MS = 2_000;
// A worker that stayed up this long starts its next backoff from the minimum again.
const STABLE_MS = 60_000;
// How long a scrape of `/metrics` waits for the Web Worker's metrics.
const METRICS_WAIT_MS = 2_000;

/** Runs a worker module in a Web Worker and keeps it running until stopped. */
export class WebWorkerRole implements CronTarget {
  state: RoleState = "starting";
  reason?: string = "worker is starting";
  #host?: Worker;
  #stopped = Promise.withResolvers<void>();
  #stopping?: Promise<void>;
  #restart?: ReturnType<typeof setTimeout>;
  #failures = 0;
  #upSince = 0;
  #runs = new Map<number, PendingRun>();
  #nextRun = 0;
  #up = new UpWaiters();
  #outage?: Outage;
  #asked = 0;
  #answers = new Map<number, (json: PromJson) => void>();

  /**
   * @param url The worker module.
   * @param service The service's name, for the Web Worker's name.
   * @param log The service's log.
   * @param options Whether to start its handlers, and who to tell its cron jobs.
   */
  constructor(
    readonly url: string,
    readonly service: string,
    readonly log: Log,
    readonly options: WorkerRoleOptions = { handlers: true },
  ) {
    this.#spawn();
  }

  /** {@inheritDoc CronTarget.whenUp} */
  whenUp(ms: number, signal: AbortSignal): Promise<boolean> {
    return this.#up.wait(() => this.state === "up", ms, signal);
  }

  /** {@inheritDoc CronTarget.runCron} */
  runCron(name: string, tick: Date): Promise<HandOff> {
    const host = this.#host;
    if (!host || this.state !== "up") return Promise.resolve({ outcome: "not-started" });
    const run = ++this.#nextRun;
    const { promise, resolve } = Promise.withResolvers<HandOff>();
    this.#runs.set(run, { started: false, resolve });
    host.postMessage({ type: "cron", run, name, tick: tick.toISOString() } satisfies ToHost);
    return promise;
  }

  // The Web Worker is gone: what it had not begun may be handed again, the rest is lost.
  #dropRuns(): void {
    for (const { started, resolve } of this.#runs.values()) {
      resolve({ outcome: started ? "lost" : "not-started" });
    }
    this.#runs.clear();
  }

  #spawn(): void {
    const t0 = performance.now();
    this.state = "starting";
    this.reason = "worker is starting";
    const what = this.options.handlers ? "" : " for its cron jobs";
    this.log.info(`worker: starting ${this.url}${what} in a Web Worker`);
    const host = new Worker(new URL("./worker_host.ts", import.meta.url), {
      type: "module",
      name: `${this.service} worker`,
    });
    this.#host = host;
    this.#stopped = Promise.withResolvers<void>();
    host.onmessage = (e: MessageEvent<FromHost>) => {
      if (host === this.#host) this.#receive(e.data, t0);
    };
    host.onerror = (e: ErrorEvent) => {
      // Unhandled, it would end the whole process; this Web Worker is gone either way.
      e.preventDefault();
      if (host !== this.#host) return;
      this.log.error("worker: crashed", e.error ?? e.message);
      this.#failed(`worker crashed: ${e.message}`);
    };
    host.onmessageerror = () => this.log.error("worker: a message could not be read");
    const { handlers, prometheus } = this.options;
    host.postMessage(
      {
        type: "start",
        url: this.url,
        service: this.service,
        handlers,
        prometheus: prometheus === true,
      } satisfies ToHost,
    );
  }

  #receive(message: FromHost, t0: number): void {
    if (message.type === "ready") {
      if (this.state !== "starting") return;
      this.state = "up";
      this.reason = undefined;
      this.#upSince = performance.now();
      this.log.info(`worker: ready in ${Math.round(this.#upSince - t0)} ms`);
      this.options.onReady?.(message.crons);
      this.#up.wake();
    } else if (message.type === "cron-started") {
      const pending = this.#runs.get(message.run);
      if (pending) pending.started = true;
    } else if (message.type === "cron-done") {
      this.#runs.get(message.run)?.resolve({
        outcome: "done",
        ms: message.ms,
        error: message.error,
      });
      this.#runs.delete(message.run);
    } else if (message.type === "metrics") {
      this.#answers.get(message.id)?.(message.json);
    } else if (message.type === "reachability") {
      this.#outage = message.outage;
    } else if (message.type === "stopped") {
      this.#stopped.resolve();
    } else if (message.type === "error") {
      this.log.error(`worker: ${message.phase} failed`, message.error);
      if (message.phase === "start") {
        this.#failed(`worker failed to start: ${message.error.message}`);
      }
    }
  }

  /** {@inheritDoc RoleHandle.outage} */
  outage(): Outage | undefined {
    return this.#outage;
  }

  /** {@inheritDoc RoleHandle.metrics} */
  async metrics(): Promise<PromJson> {
    const host = this.#host;
    if (!host || this.state !== "up") return [];
    const id = ++this.#asked;
    const answer = new Promise<PromJson>((resolve) => this.#answers.set(id, resolve));
    host.postMessage({ type: "metrics", id } satisfies ToHost);
    try {
      // A Web Worker busy past this leaves its metrics out of one scrape rather than stall it.
      return await within(answer, METRICS_WAIT_MS) ? await answer : [];
    } finally {
      this.#answers.delete(id);
    }
  }

  #failed(reason: string): void {
    this.#outage = undefined;
    this.#host?.terminate();
    this.#host = undefined;
    this.#dropRuns();
    this.#stopped.resolve();
    if (this.#stopping) return;
    if (this.#upSince > 0 && performance.now() - this.#upSince >= STABLE_MS) this.#failures = 0;
    this.#upSince = 0;
    const delay = restartDelay(this.#failures++);
    this.state = "failed";
    this.reason = `${reason} (restarting in ${delay} ms)`;
    this.log.info(`worker: restarting in ${delay} ms`);
    this.#restart = setTimeout(() => {
      this.#restart = undefined;
      this.#spawn();
    }, delay);
  }

  /** {@inheritDoc RoleHandle.stop} */
  stop(graceMs: number): Promise<void> {
    this.#stopping ??= this.#stop(graceMs);
    return this.#stopping;
  }

  async #stop(graceMs: number): Promise<void> {
    clearTimeout(this.#restart);
    this.state = "stopping";
    this.reason = "worker is stopping";
    this.#up.wake();
    const host = this.#host;
    if (host) {
      this.log.info(`worker: stopping (grace ${graceMs} ms)`);
      host.postMessage({ type: "stop", graceMs } satisfies ToHost);
      if (!await within(this.#stopped.promise, graceMs + RELEASE_MS)) {
        this.log.error(`worker: did not stop within ${graceMs + RELEASE_MS} ms`);
      }
      host.terminate();
      this.#dropRuns();
    }
    this.state = "stopped";
    this.log.info("worker: stopped");
  }
}
