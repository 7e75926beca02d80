/**
 * Draining a group's backlog within a time budget: what a push request or a cron tick does on a
 * platform that stops idle apps. The worker's claim loop handles and acks the events; the drain
 * watches the backend until the group has nothing left on its streams (no lag, nothing pending)
 * or the budget ends.
 *
 * @module
 */
import type { Backend } from "./backend.ts";
import { sleep } from "./sleep.ts";

/** Options of `Worker.drain`. */
export interface DrainOptions {
  /**
   * How long to drain at most, in milliseconds.
   * @default {20000}
   */
  budgetMs?: number;
  /** Ends the drain early. */
  signal?: AbortSignal;
}

/** What a drain found. */
export interface DrainResult {
  /** Whether the group's backlog was empty when the drain ended. */
  empty: boolean;
  /** Events still waiting (lag and pending, over the group's streams) when it ended. */
  backlog: number;
  /** How long the drain took, in milliseconds. */
  ms: number;
}

/**
 * How often the backlog is looked at while draining, in milliseconds: soon at first, then less
 * often (on a REST backend each look is a few requests).
 */
const FIRST_LOOK_MS = 25, LAST_LOOK_MS = 500;

/** The group's lag and pending over `streams`. */
export async function backlogOf(
  backend: Backend,
  group: string,
  streams: readonly string[],
): Promise<number> {
  let n = 0;
  for (const stream of streams) {
    for (const g of await backend.groups(stream)) {
      if (g.group === group) n += g.lag + g.pending;
    }
  }
  return n;
}

/** Waits until the group's backlog is empty, the budget ends or the signal aborts. */
export async function waitForEmpty(
  backend: Backend,
  group: string,
  streams: readonly string[],
  options: DrainOptions = {},
): Promise<DrainResult> {
  const t0 = performance.now();
  const budget = options.budgetMs ?? 20_000;
  let backlog = await backlogOf(backend, group, streams);
  let every = FIRST_LOOK_MS;
  while (backlog > 0 && performance.now() - t0 < budget && !options.signal?.aborted) {
    await sleep(Math.min(every, budget - (performance.now() - t0)), options.signal);
    every = Math.min(LAST_LOOK_MS, every * 2);
    backlog = await backlogOf(backend, group, streams);
  }
  return { empty: backlog === 0, backlog, ms: Math.round(performance.now() - t0) };
}
