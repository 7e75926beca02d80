/**
 * What the cron role hands a worker module's jobs to: the worker role (in a Web Worker or in
 * this isolate), which may be starting, up, restarting or stopped when a tick comes.
 *
 * @module
 */
import type { CronDeclaration } from "../cron.ts";
import type { RoleHandle } from "./role.ts";

/** How a hand-off ended. */
export type HandOff =
  /** The job ran, for `ms`; `error` is what it threw, when it threw. */
  | { outcome: "done"; ms: number; error?: unknown }
  /** The worker went down before the job began: it may be handed again. */
  | { outcome: "not-started" }
  /** The worker went down while the job ran: it is not handed again (never twice a tick). */
  | { outcome: "lost" };

/** A worker module that runs cron jobs handed to it. */
export interface CronTarget extends RoleHandle {
  /**
   * Waits until the worker module is up.
   *
   * @returns `true` once up; `false` when `ms` passed, `signal` aborted or it is stopping first.
   */
  whenUp(ms: number, signal: AbortSignal): Promise<boolean>;
  /** Runs its job `name` for `tick`. Never rejects. */
  runCron(name: string, tick: Date): Promise<HandOff>;
}

/** Options of the worker role that concern cron jobs. */
export interface WorkerRoleOptions {
  /** Start the module's handlers; `false` when it is there only to run cron jobs. */
  handlers: boolean;
  /** Told the jobs the module declares, each time it is up. */
  onReady?: (declared: CronDeclaration[]) => void;
  /** Record metrics in the worker's isolate for the service's Prometheus `/metrics`. */
  prometheus?: boolean;
}

/** The callers of `whenUp` waiting for a worker to come up. */
export class UpWaiters {
  #waiters = new Set<() => void>();

  /** Resolves with `isUp()` when woken, `false` after `ms` or when `signal` aborts. */
  wait(isUp: () => boolean, ms: number, signal: AbortSignal): Promise<boolean> {
    if (isUp()) return Promise.resolve(true);
    if (ms <= 0 || signal.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = (up: boolean) => {
        clearTimeout(timer);
        signal.removeEventListener("abort", aborted);
        this.#waiters.delete(woken);
        resolve(up);
      };
      const woken = () => done(isUp());
      const aborted = () => done(false);
      const timer = setTimeout(aborted, ms);
      signal.addEventListener("abort", aborted);
      this.#waiters.add(woken);
    });
  }

  /** Wakes every waiter: the worker came up, or is stopping. */
  wake(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }
}
