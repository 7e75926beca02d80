/**
 * The worker role in a Web Worker: the host script imports the worker module there, so its
 * handlers never block the isolate that answers HTTP. A Web Worker that crashes, or whose module
 * fails to start, is started again after a backoff (1 s, doubling, at most 30 s).
 *
 * @module
 */
import type { Log } from "./log.ts";
import type { FromHost, ToHost } from "./protocol.ts";
import type { DrainResult } from "../drain.ts";
import { type RoleState, within, type WorkerInfo, type WorkerRoleHandle } from "./role.ts";

// Past the grace period the worker still releases what it holds; give that a moment too.
const RELEASE_MS = 2_000;
const RESTART_MIN_MS = 1_000;
const RESTART_MAX_MS = 30_000;
// A worker that stayed up this long starts its next backoff from the minimum again.
const STABLE_MS = 60_000;

/** Runs a worker module in a Web Worker and keeps it running until stopped. */
export class WebWorkerRole implements WorkerRoleHandle {
  state: RoleState = "starting";
  reason?: string = "worker is starting";
  #host?: Worker;
  #stopped = Promise.withResolvers<void>();
  #stopping?: Promise<void>;
  #restart?: ReturnType<typeof setTimeout>;
  #failures = 0;
  #upSince = 0;
  #info = Promise.withResolvers<WorkerInfo | undefined>();
  #drains = new Map<number, PromiseWithResolvers<DrainResult>>();
  #drainIds = 0;

  /**
   * @param url The worker module.
   * @param service The service's name, for the Web Worker's name.
   * @param log The service's log.
   */
  constructor(readonly url: string, readonly service: string, readonly log: Log) {
    this.#spawn();
  }

  #spawn(): void {
    const t0 = performance.now();
    this.state = "starting";
    this.reason = "worker is starting";
    this.log.info(`worker: starting ${this.url} in a Web Worker`);
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
    host.postMessage({ type: "start", url: this.url, service: this.service } satisfies ToHost);
  }

  #receive(message: FromHost, t0: number): void {
    if (message.type === "ready") {
      if (this.state !== "starting") return;
      this.state = "up";
      this.reason = undefined;
      this.#upSince = performance.now();
      const { group, streams } = message;
      this.#info.resolve(group && streams ? { group, streams } : undefined);
      this.log.info(`worker: ready in ${Math.round(this.#upSince - t0)} ms`);
    } else if (message.type === "drained") {
      const waiting = this.#drains.get(message.id);
      this.#drains.delete(message.id);
      if (message.result) waiting?.resolve(message.result);
      else waiting?.reject(new Error(message.error?.message ?? "The drain failed"));
    } else if (message.type === "stopped") {
      this.#stopped.resolve();
    } else if (message.type === "error") {
      this.log.error(`worker: ${message.phase} failed`, message.error);
      if (message.phase === "start") {
        this.#failed(`worker failed to start: ${message.error.message}`);
      }
    }
  }

  #failed(reason: string): void {
    for (const waiting of this.#drains.values()) waiting.reject(new Error(reason));
    this.#drains.clear();
    this.#host?.terminate();
    this.#host = undefined;
    this.#stopped.resolve();
    if (this.#stopping) return;
    if (this.#upSince > 0 && performance.now() - this.#upSince >= STABLE_MS) this.#failures = 0;
    this.#upSince = 0;
    const delay = Math.min(RESTART_MAX_MS, RESTART_MIN_MS * 2 ** this.#failures++);
    this.state = "failed";
    this.reason = `${reason} (restarting in ${delay} ms)`;
    this.log.info(`worker: restarting in ${delay} ms`);
    this.#restart = setTimeout(() => {
      this.#restart = undefined;
      this.#spawn();
    }, delay);
  }

  /** {@inheritDoc WorkerRoleHandle.info} */
  info(): Promise<WorkerInfo | undefined> {
    return this.#info.promise;
  }

  /** {@inheritDoc WorkerRoleHandle.drain} */
  async drain(budgetMs: number): Promise<DrainResult> {
    if (!await within(this.#info.promise, budgetMs) || !this.#host || this.#stopping) {
      throw new Error("The worker is not running");
    }
    const id = ++this.#drainIds;
    const waiting = Promise.withResolvers<DrainResult>();
    this.#drains.set(id, waiting);
    this.#host.postMessage({ type: "drain", id, budgetMs } satisfies ToHost);
    return await waiting.promise;
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
    const host = this.#host;
    if (host) {
      this.log.info(`worker: stopping (grace ${graceMs} ms)`);
      host.postMessage({ type: "stop", graceMs } satisfies ToHost);
      if (!await within(this.#stopped.promise, graceMs + RELEASE_MS)) {
        this.log.error(`worker: did not stop within ${graceMs + RELEASE_MS} ms`);
      }
      host.terminate();
    }
    for (const waiting of this.#drains.values()) waiting.reject(new Error("The worker stopped"));
    this.#drains.clear();
    this.#info.resolve(undefined);
    this.state = "stopped";
    this.log.info("worker: stopped");
  }
}
