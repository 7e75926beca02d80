/**
 * Flow control of one handler: a rate limit shared by every instance of the group (counted in
 * the backend), and a time limit that aborts the handler through `ctx.signal`.
 *
 * @module
 */
import type { Backend } from "./backend.ts";
import { hasRateLimits, type RateLimits } from "./capabilities.ts";
import { HandlerTimeoutError } from "./errors.ts";
import type { Flight } from "./flight.ts";
import { sleep } from "./sleep.ts";

/** A handler's rate limit: at most `max` runs started in each `perMs` window, per group. */
export interface RateLimit {
  /** Runs that may start in one window, across every instance of the group. */
  max: number;
  /** The window, in milliseconds. */
  perMs: number;
}

/** What is wrong with a handler's `rateLimit` and `timeoutMs`, one sentence each. */
export function flowProblems(
  backend: Backend,
  rateLimit: RateLimit | undefined,
  timeoutMs: number | undefined,
): string[] {
  const problems: string[] = [];
  if (rateLimit !== undefined) {
    if (!Number.isInteger(rateLimit?.max) || rateLimit.max < 1) {
      problems.push("rateLimit.max must be an integer ≥ 1");
    }
    if (!Number.isInteger(rateLimit?.perMs) || rateLimit.perMs < 1) {
      problems.push("rateLimit.perMs must be an integer ≥ 1");
    }
    if (!hasRateLimits(backend)) {
      problems.push(`rateLimit needs a backend with takeRate(); ${backend.name} has none`);
    }
  }
  if (timeoutMs !== undefined && !(Number.isInteger(timeoutMs) && timeoutMs >= 1)) {
    problems.push("timeoutMs must be an integer ≥ 1");
  }
  return problems;
}

/** Waits for a permit of a shared rate limit before each run. */
export class RateGate {
  readonly #limits: RateLimits;
  /** Until when the backend said the window is used up: waiting runs skip asking again. */
  #closedUntil = 0;
  #queue: Promise<void> = Promise.resolve();

  /**
   * @param backend The backend holding the count.
   * @param name The count's name: one per group and handler.
   * @param limit The limit.
   */
  constructor(backend: Backend & RateLimits, readonly name: string, readonly limit: RateLimit) {
    this.#limits = backend;
  }

  /**
   * Resolves once a permit is taken; `false` when `signal` aborted first (the run must not start).
   */
  take(signal: AbortSignal): Promise<boolean> {
    // One request for a permit at a time per process: concurrent runs would only contend for
    // the same count (on Deno KV, conflicting commits), and at most one permit per process is
    // then taken at a window's very end.
    const turn = this.#queue.then(() => this.#take(signal));
    this.#queue = turn.then(() => {}, () => {});
    return turn;
  }

  async #take(signal: AbortSignal): Promise<boolean> {
    while (!signal.aborted) {
      const closed = this.#closedUntil - Date.now();
      if (closed > 0) {
        await sleep(closed, signal);
        continue;
      }
      const wait = await this.#limits.takeRate(this.name, this.limit.max, this.limit.perMs);
      if (wait === 0) return true;
      this.#closedUntil = Math.max(this.#closedUntil, Date.now() + wait);
    }
    return false;
  }
}

/**
 * Runs `run`, and past `timeoutMs` aborts the flight's signal with a {@linkcode HandlerTimeoutError}
 * and rejects with it at once (a handler that ignores its signal runs on unobserved).
 */
export async function withTimeout(
  timeoutMs: number,
  type: string,
  flight: Flight,
  run: () => void | Promise<void>,
): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err = new HandlerTimeoutError(type, timeoutMs);
      flight.timedOut = true;
      flight.abort(err);
      reject(err);
    }, timeoutMs);
  });
  try {
    await Promise.race([Promise.resolve().then(run), expired]);
  } finally {
    clearTimeout(timer);
  }
}
