/**
 * The observation options of a worker: its logger and the hooks an application uses to count,
 * alert on or route retries, dead letters and the worker's own errors.
 *
 * @module
 */
import type { ErrorInfo } from "../backend.ts";
import type { Envelope } from "../envelope.ts";
import type { Logger } from "./log.ts";

/**
 * What `onRetry` receives: a delivery failed and will be tried again.
 *
 * @example Counting retries by event type
 * ```ts
 * import type { RetryInfo } from "@herald/herald";
 * const retries = new Map<string, number>();
 * const onRetry = (info: RetryInfo) =>
 *   retries.set(info.event.type, (retries.get(info.event.type) ?? 0) + 1);
 * console.log(typeof onRetry);
 * ```
 */
export interface RetryInfo {
  /** The event. */
  readonly event: Envelope;
  /** The consumer group. */
  readonly group: string;
  /** The attempt that failed, from 1. */
  readonly attempt: number;
  /** How long until the next attempt, in milliseconds. */
  readonly delayMs: number;
  /** What the handler threw. */
  readonly error: ErrorInfo;
}

/**
 * What `onDead` receives: a delivery was dead-lettered.
 *
 * @example Paging on a dead letter
 * ```ts
 * import type { DeadInfo } from "@herald/herald";
 * const onDead = (info: DeadInfo) =>
 *   console.error(`dead letter on ${info.stream} for ${info.group}: ${info.error.message}`);
 * console.log(typeof onDead);
 * ```
 */
export interface DeadInfo {
  /** The event; `undefined` when the stored entry was not an envelope. */
  readonly event?: Envelope;
  /** The stream it came from. */
  readonly stream: string;
  /** The consumer group. */
  readonly group: string;
  /** The last attempt, from 1. */
  readonly attempt: number;
  /** Why: the handler's error, the schema issues, or a malformed entry. */
  readonly error: ErrorInfo;
}

/**
 * What `onError` receives: the worker itself hit an error (not a handler's failure).
 *
 * @example Telling claim failures apart
 * ```ts
 * import type { WorkerErrorInfo } from "@herald/herald";
 * const onError = (info: WorkerErrorInfo) => {
 *   if (info.during === "claim") console.error("the bus does not answer", info.error);
 * };
 * console.log(typeof onError);
 * ```
 */
export interface WorkerErrorInfo {
  /** The consumer group. */
  readonly group: string;
  /** What the worker was doing: claiming, extending leases, or running a delivery it lost. */
  readonly during: "claim" | "extend" | "lease" | "settle" | "hook";
  /** The error. */
  readonly error: unknown;
}

/**
 * The observation options of a worker (part of `WorkerOptions`).
 *
 * @example A worker with its own logger and hooks
 * ```ts
 * import { createBus, createLogger, createMemoryBackend, createWorker } from "@herald/herald";
 * const bus = createBus({ backend: createMemoryBackend(), source: "users" });
 * const worker = createWorker({
 *   bus,
 *   group: "users",
 *   logger: createLogger({ name: "users", format: "json" }),
 *   onRetry: ({ event, attempt }) => console.log("retrying", event.id, attempt),
 *   onDead: ({ stream, error }) => console.error("dead letter", stream, error.message),
 *   onError: ({ during, error }) => console.error(during, error),
 * });
 * console.log(worker.group);
 * await bus.close();
 * ```
 */
export interface WorkerObserveOptions {
  /**
   * Where the worker logs: every retry and dead letter at warn, its own failures at warn.
   * @default {the bus's logger}
   */
  logger?: Logger;
  /** Called when a delivery failed and is scheduled for another attempt. */
  onRetry?: (info: RetryInfo) => unknown;
  /** Called when a delivery is dead-lettered. */
  onDead?: (info: DeadInfo) => unknown;
  /** Called when the worker's own work fails: a claim, a lease extension, a lost lease. */
  onError?: (info: WorkerErrorInfo) => unknown;
}

/** The problems with a worker's observation options. */
export function observeProblems(o: WorkerObserveOptions | undefined): string[] {
  const problems: string[] = [];
  for (const hook of ["onRetry", "onDead", "onError"] as const) {
    if (o?.[hook] !== undefined && typeof o[hook] !== "function") {
      problems.push(`${hook} must be a function`);
    }
  }
  const l = o?.logger;
  if (
    l !== undefined &&
    !["debug", "info", "warn", "error"].every((m) =>
      typeof (l as unknown as Record<string, unknown>)?.[m] === "function"
    )
  ) {
    problems.push("logger must have debug, info, warn and error methods");
  }
  return problems;
}
