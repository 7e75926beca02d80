/**
 * What the service knows of each role it runs (worker, cron), and a timeout helper they share.
 *
 * @module
 */
import type { Outage } from "../telemetry/health.ts";
import type { PromJson } from "../telemetry/prometheus.ts";

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
