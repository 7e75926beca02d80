/**
 * The worker role: runs a service's worker module in a Web Worker (or, where Web Workers do not
 * exist, in this isolate) and stops it within the grace period.
 *
 * @module
 */
import type { Log } from "./log.ts";
import { describe } from "./log.ts";
import { type FromHost, importWorker, type StartableWorker, type ToHost } from "./protocol.ts";

/** Where a role is in its life. */
export type RoleState = "starting" | "up" | "failed" | "stopping" | "stopped";

/** A running role, as the health endpoints and the shutdown see it. */
export interface RoleHandle {
  /** Where it is now. */
  readonly state: RoleState;
  /** Why it is not up, when it is not. */
  readonly reason?: string;
  /** Stops it; running work gets `graceMs` to finish. Never rejects. */
  stop(graceMs: number): Promise<void>;
}

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

class WebWorkerRole implements RoleHandle {
  state: RoleState = "starting";
  reason?: string = "worker is starting";
  #host: Worker;
  #stopped = Promise.withResolvers<void>();
  #stopping?: Promise<void>;
  #log: Log;
  #t0 = performance.now();

  constructor(url: string, service: string, log: Log) {
    this.#log = log;
    log.info(`worker: starting ${url} in a Web Worker`);
    this.#host = new Worker(new URL("./worker_host.ts", import.meta.url), {
      type: "module",
      name: `${service} worker`,
    });
    this.#host.onmessage = (e: MessageEvent<FromHost>) => this.#receive(e.data);
    this.#host.onerror = (e: ErrorEvent) => {
      // Unhandled, it would end the whole process; the Web Worker is gone either way.
      e.preventDefault();
      log.error("worker: crashed", e.error ?? e.message);
      this.#fail(`worker crashed: ${e.message}`);
      this.#stopped.resolve();
    };
    this.#host.onmessageerror = () => log.error("worker: a message could not be read");
    this.#host.postMessage({ type: "start", url, service } satisfies ToHost);
  }

  #receive(message: FromHost): void {
    if (message.type === "ready") {
      if (this.state !== "starting") return;
      this.state = "up";
      this.reason = undefined;
      this.#log.info(`worker: ready in ${Math.round(performance.now() - this.#t0)} ms`);
    } else if (message.type === "stopped") {
      this.#stopped.resolve();
    } else if (message.type === "error") {
      this.#log.error(`worker: ${message.phase} failed`, message.error);
      if (message.phase === "start") this.#fail(`worker failed to start: ${message.error.message}`);
    }
  }

  #fail(reason: string): void {
    if (this.state === "stopping" || this.state === "stopped") return;
    this.state = "failed";
    this.reason = reason;
  }

  stop(graceMs: number): Promise<void> {
    this.#stopping ??= this.#stop(graceMs);
    return this.#stopping;
  }

  async #stop(graceMs: number): Promise<void> {
    const crashed = this.state === "failed" && this.reason?.startsWith("worker crashed");
    this.state = "stopping";
    this.reason = "worker is stopping";
    if (!crashed) {
      this.#log.info(`worker: stopping (grace ${graceMs} ms)`);
      this.#host.postMessage({ type: "stop", graceMs } satisfies ToHost);
      const inTime = await within(this.#stopped.promise, graceMs + RELEASE_MS);
      if (!inTime) this.#log.error(`worker: did not stop within ${graceMs + RELEASE_MS} ms`);
    }
    this.#host.terminate();
    this.state = "stopped";
    this.#log.info("worker: stopped");
  }
}

class SameIsolateRole implements RoleHandle {
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

/** Waits for `promise` up to `ms`; tells whether it settled in time. Leaves no timer behind. */
export async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<false>((resolve) => timer = setTimeout(() => resolve(false), ms));
  try {
    return await Promise.race([promise.then(() => true, () => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
