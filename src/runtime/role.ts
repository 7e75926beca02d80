/**
 * What the service knows of each role it runs (worker, cron), and a timeout helper they share.
 *
 * @module
 */
import type { DrainResult } from "../drain.ts";
import type { Outage } from "../telemetry/health.ts";
import type { PromJson } from "../telemetry/prometheus.ts";
import type { CronTarget } from "./cron_target.ts";

/** Where a role is in its life. */
export type RoleState = "starting" | "up" | "failed" | "stopping" | "stopped";

/** A running role, as the health endpoints and the shutdown see it. */
export interface RoleHandle {
  /** Where it is now. */
  readonly state: RoleState;
  /** Why it is not up, when it is not. */
  readonly reason?: string;
  /** Since when the bus it uses has been unreachable, if it is now. */
  outage?(): Outage | undefined;
  /** Its Prometheus metrics as JSON, when it records them in an isolate of its own. */
  metrics?(): Promise<PromJson>;
  /** Stops it; running work gets `graceMs` to finish. Never rejects. */
  stop(graceMs: number): Promise<void>;
}

/** What a started worker role reports: its group and streams (for push registration). */
export interface WorkerInfo {
  /** The consumer group. */
  group: string;
  /** The streams its handlers read. */
  streams: readonly string[];
}

/**
 * The worker role (in a Web Worker or in this isolate): the cron role hands it the module's cron
 * jobs (as a {@linkcode CronTarget}), push requests and the drain cron ask it to drain the backlog.
 */
export interface WorkerRoleHandle extends CronTarget {
  /**
   * Resolves once the worker first started (undefined when it is not a Herald Worker, or when it
   * stopped before it ever started).
   */
  info(): Promise<WorkerInfo | undefined>;
  /**
   * Drains the group's backlog within `budgetMs` (see `Worker.drain`), first waiting within it
   * for a worker that is starting or restarting. Rejects when the worker is not up in time.
   */
  drain(budgetMs: number): Promise<DrainResult>;
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

const RESTART_MIN_MS = 1_000;
const RESTART_MAX_MS = 30_000;

/** The wait before restarting a worker that failed `failures` times in a row: 1 s, doubling, ≤ 30 s. */
export function restartDelay(failures: number): number {
  return Math.min(RESTART_MAX_MS, RESTART_MIN_MS * 2 ** failures);
}
