/**
 * Cron jobs as declarations: a name and a schedule (what `Deno.cron` must know in the main
 * isolate) apart from the function that runs (which may live in the worker module).
 *
 * @module
 */
import { InvalidOptionsError } from "./errors.ts";

/**
 * What a cron job's `run` receives.
 *
 * @example Stamping work with the tick it belongs to
 * ```ts
 * import type { CronContext } from "@herald/herald";
 * const run = (ctx: CronContext) => console.log(`${ctx.name} for ${ctx.tick.toISOString()}`);
 * run({ name: "purge", service: "posts", tick: new Date(0), signal: new AbortController().signal });
 * ```
 */
export interface CronContext {
  /** The job's name. */
  readonly name: string;
  /** The service's name. */
  readonly service: string;
  /**
   * The scheduled time this run is for (the tick every replica agrees on), not the moment it
   * started.
   */
  readonly tick: Date;
  /** Aborted when the service shuts down and the grace period ran out: stop early then. */
  readonly signal: AbortSignal;
}

/**
 * A cron job of a service.
 *
 * @example Purging drafts every night at 03:00 UTC
 * ```ts
 * import type { CronJob } from "@herald/herald";
 * const purge: CronJob = { schedule: "0 3 * * *", run: async (ctx) => {} };
 * console.log(purge.schedule);
 * ```
 */
export interface CronJob {
  /** When to run, as a Unix cron expression in UTC (`"0 3 * * *"`). */
  schedule: string;
  /** The job; a promise it returns is awaited, its value ignored. A throw is logged. */
  run: (ctx: CronContext) => unknown;
}

/**
 * A cron job's name and schedule without its function: what `createService()` registers with
 * `Deno.cron` in the main isolate for a job the worker module runs. Made by
 * {@linkcode defineCron}.
 */
export interface CronDeclaration {
  /** The job's name (letters, digits, spaces, `-` and `_`; Deno.cron's rule). */
  readonly name: string;
  /** When to run, as a Unix cron expression in UTC (`"0 3 * * *"`). */
  readonly schedule: string;
}

/** Deno.cron's own rule for names; checked up front so every problem is reported at once. */
export const CRON_NAME: RegExp = /^[A-Za-z0-9_\- ]{1,64}$/;

/** Lists what is wrong with a job's name and schedule (empty when nothing is). */
export function cronProblems(name: unknown, schedule: unknown): string[] {
  const problems: string[] = [];
  if (typeof name !== "string" || !CRON_NAME.test(name)) {
    problems.push(`cron job name ${JSON.stringify(name)} must match ${CRON_NAME}`);
  }
  if (typeof schedule !== "string" || schedule.trim().split(/\s+/).length !== 5) {
    problems.push(
      `cron job ${JSON.stringify(name)} needs a schedule of five fields ("0 3 * * *"), got ${
        JSON.stringify(schedule)
      }`,
    );
  }
  return problems;
}

/**
 * Declares a cron job whose function lives in a worker module. Keep declarations in a module
 * without side effects, imported both by the worker module (which gives each its function with
 * `worker.cron(declaration, run)`) and by the service's entry (which lists them in
 * `createService({ workerCron })`, so `Deno.cron` sees them at the entry's top level).
 *
 * @param options The job's name and schedule.
 * @returns The declaration.
 * @throws {InvalidOptionsError} listing every problem with the name and schedule.
 *
 * @example Declaring the nightly purge of drafts
 * ```ts
 * import { defineCron } from "@herald/herald";
 * export const PurgeDrafts = defineCron({ name: "purge-drafts", schedule: "0 3 * * *" });
 * console.log(PurgeDrafts.name); // purge-drafts
 * ```
 */
export function defineCron(options: { name: string; schedule: string }): CronDeclaration {
  const problems = cronProblems(options?.name, options?.schedule);
  if (problems.length > 0) throw new InvalidOptionsError("defineCron", problems);
  return Object.freeze({ name: options.name, schedule: options.schedule.trim() });
}
