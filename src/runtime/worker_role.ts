/**
 * The worker role: runs a service's worker module in a Web Worker (or, where Web Workers do not
 * exist, in this isolate) and stops it within the grace period.
 *
 * @module
 */
import type { Log } from "./log.ts";
import { describe } from "./log.ts";
import { importWorker, type StartableWorker } from "./protocol.ts";
import type { DrainResult } from "../drain.ts";
import { type RoleState, within, type WorkerInfo, type WorkerRoleHandle } from "./role.ts";
import { WebWorkerRole } from "./web_worker_role.ts";

// Past the grace period the worker still releases what it holds; give that a moment too.
const RELEASE_MS = 2_000;

/** Starts the worker role. */
export function startWorkerRole(
  url: string,
  service: string,
  isolate: "worker" | "same",
  log: Log,
): WorkerRoleHandle {
  return isolate === "worker"
    ? new WebWorkerRole(url, service, log)
    : new SameIsolateRole(url, log);
}

class SameIsolateRole implements WorkerRoleHandle {
  state: RoleState = "starting";
  reason?: string = "worker is starting";
  #worker?: StartableWorker;
  #starting: Promise<void>;
  #stopping?: Promise<void>;
  #log: Log;

  constructor(url: string, log: Log) {
    this.#log = log;
    log.info(`worker: starting ${url} in this isolate`);
    const t0 = performance.now();
    this.#starting = (async () => {
      try {
        const worker = await importWorker(url);
        await worker.start();
        this.#worker = worker;
        if (this.state !== "starting") return;
        this.state = "up";
        this.reason = undefined;
        log.info(`worker: ready in ${Math.round(performance.now() - t0)} ms`);
      } catch (err) {
        log.error("worker: start failed", err);
        this.state = "failed";
        this.reason = `worker failed to start: ${err instanceof Error ? err.message : err}`;
      }
    })();
  }

  async info(): Promise<WorkerInfo | undefined> {
    await this.#starting;
    const w = this.#worker;
    return w?.group && w.streams ? { group: w.group, streams: w.streams } : undefined;
  }

  async drain(budgetMs: number): Promise<DrainResult> {
    await this.#starting;
    if (!this.#worker?.drain) throw new TypeError("The worker is not running or cannot drain");
    return await this.#worker.drain({ budgetMs });
  }

  stop(graceMs: number): Promise<void> {
    this.#stopping ??= this.#stop(graceMs);
    return this.#stopping;
  }

  async #stop(graceMs: number): Promise<void> {
    this.state = "stopping";
    this.reason = "worker is stopping";
    this.#log.info(`worker: stopping (grace ${graceMs} ms)`);
    await this.#starting;
    const stopped = this.#worker?.stop({ graceMs }).catch((err) => {
      this.#log.error("worker: stop failed", describe(err));
    });
    if (!await within(stopped ?? Promise.resolve(), graceMs + RELEASE_MS)) {
      this.#log.error(`worker: did not stop within ${graceMs + RELEASE_MS} ms`);
    }
    this.state = "stopped";
    this.#log.info("worker: stopped");
  }
}
