/**
 * What the service knows of each role it runs (worker, cron), and a timeout helper they share.
 *
 * @module
 */
import type { DrainResult } from "../drain.ts";

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

/** What a started worker role reports: its group and streams (for push registration). */
export interface WorkerInfo {
  /** The consumer group. */
  group: string;
  /** The streams its handlers read. */
  streams: readonly string[];
}

/** The worker role, which push requests and the drain cron ask to drain the backlog. */
export interface WorkerRoleHandle extends RoleHandle {
  /** Resolves once the worker first started (undefined when it is not a Herald Worker). */
  info(): Promise<WorkerInfo | undefined>;
  /** Drains the group's backlog within `budgetMs` (see `Worker.drain`). */
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
