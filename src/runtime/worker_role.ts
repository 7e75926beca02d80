/**
 * The worker role: runs a service's worker module in a Web Worker (or, where Web Workers do not
 * exist, in this isolate) and stops it within the grace period. A start that fails is tried
 * again after a backoff (1 s, doubling, at most 30 s) in either place.
 *
 * @module
 */
import type { Log } from "./log.ts";
import { describe } from "./log.ts";
import { importWorker, type StartableWorker } from "./protocol.ts";
import { restartDelay, type RoleHandle, type RoleState, within } from "./role.ts";
import { sleep } from "../sleep.ts";
import { WebWorkerRole } from "./web_worker_role.ts";

// Past the grace period the worker still releases what it holds; give that a moment too.
const RELEASE_MS = 2_000;

/** Starts the worker role. */
export function startWorkerRole(
  url: string,
  service: string,
  isolate: "worker" | "same",
  log: Log,
): RoleHandle {
  return isolate === "worker"
    ? new WebWorkerRole(url, service, log)
    : new SameIsolateRole(url, log);
}

class SameIsolateRole implements RoleHandle {
  state: RoleState = "starting";
  reason?: string = "worker is starting";
  #worker?: StartableWorker;
  #starting: Promise<void>;
  #stopping?: Promise<void>;
  #retry = new AbortController();
  #log: Log;

  constructor(readonly url: string, log: Log) {
    this.#log = log;
    this.#starting = this.#start();
  }

  /** Starts the worker; a failed start is tried again after a backoff, as the Web Worker is. */
  async #start(): Promise<void> {
    const signal = this.#retry.signal;
    for (let failures = 0; !signal.aborted; failures++) {
      this.#log.info(`worker: starting ${this.url} in this isolate`);
      const t0 = performance.now();
      try {
        const worker = await importWorker(this.url);
        await worker.start();
        this.#worker = worker;
        if (this.state !== "starting") return;
        this.state = "up";
        this.reason = undefined;
        this.#log.info(`worker: ready in ${Math.round(performance.now() - t0)} ms`);
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

  stop(graceMs: number): Promise<void> {
    this.#stopping ??= this.#stop(graceMs);
    return this.#stopping;
  }

  async #stop(graceMs: number): Promise<void> {
    this.state = "stopping";
    this.reason = "worker is stopping";
    this.#log.info(`worker: stopping (grace ${graceMs} ms)`);
    this.#retry.abort();
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
