/**
 * The cron role: registers a service's jobs with `Deno.cron` and makes each tick run once
 * across replicas.
 *
 * Every isolate that registers a cron name runs it, so N replicas would run each tick N times.
 * Before running, a replica takes the lease `cron:<service>:<job>:<tick>` from the bus's backend;
 * the tick is the scheduled time rounded to the cron period (a minute: the finest a cron
 * expression can say), so replicas firing a few seconds apart (up to half a period) name the
 * same tick and only the first runs it.
 *
 * @module
 */
import type { Bus } from "../bus.ts";
import { InvalidOptionsError } from "../errors.ts";
import type { Log } from "./log.ts";
import type { CronContext, CronJob } from "./options.ts";
import { type RoleHandle, type RoleState, within } from "./role.ts";

/**
 * The time between two ticks that may be told apart: a minute, or what
 * `DENO_CRON_TEST_SCHEDULE_OFFSET` makes Deno.cron fire at (tests).
 */
export function cronPeriodMs(): number {
  let offset: string | undefined;
  try {
    offset = Deno.env.get("DENO_CRON_TEST_SCHEDULE_OFFSET");
  } catch {
    offset = undefined;
  }
  const ms = Number(offset);
  return offset && Number.isFinite(ms) && ms > 0 ? ms : 60_000;
}

/**
 * The tick a run at `now` belongs to: the nearest multiple of `periodMs`, so replicas that fire
 * up to half a period apart agree.
 */
export function tickOf(now: number, periodMs: number): Date {
  return new Date(Math.round(now / periodMs) * periodMs);
}

/** Registers the jobs with Deno.cron. Throws at once for a schedule Deno.cron rejects. */
export function startCronRole(
  jobs: Record<string, CronJob>,
  service: string,
  bus: Bus | undefined,
  log: Log,
): RoleHandle {
  return new CronRole(jobs, service, bus, log);
}

class CronRole implements RoleHandle {
  state: RoleState = "starting";
  reason?: string;
  #abort = new AbortController();
  // Jobs' own signal: aborted only when the grace period ran out, like handlers' signals.
  #late = new AbortController();
  #running = new Set<Promise<void>>();
  #stopping?: Promise<void>;
  #period = cronPeriodMs();

  constructor(
    jobs: Record<string, CronJob>,
    readonly service: string,
    readonly bus: Bus | undefined,
    readonly log: Log,
  ) {
    if (typeof Deno.cron !== "function") {
      this.state = "failed";
      this.reason = 'Deno.cron is not available: add "cron" to "unstable" in deno.json';
      log.error(`cron: ${this.reason}`);
      return;
    }
    const problems: string[] = [];
    for (const [name, job] of Object.entries(jobs)) {
      try {
        Deno.cron(name, job.schedule, { signal: this.#abort.signal }, () => this.#fire(name, job))
          .catch((err) => log.error(`cron "${name}": ended`, err));
      } catch (err) {
        problems.push(`cron job "${name}": ${err instanceof Error ? err.message : err}`);
      }
    }
    if (problems.length > 0) {
      this.#abort.abort();
      throw new InvalidOptionsError("service", problems);
    }
    if (!bus && Object.keys(jobs).length > 0) {
      log.info("cron: no bus given, so every replica runs every tick");
    }
    this.state = "up";
    log.info(`cron: registered ${Object.keys(jobs).join(", ") || "no jobs"}`);
  }

  // Deno.cron awaits this before scheduling the job's next tick; it never rejects, so a failing
  // job is only logged (and not retried by Deno.cron's backoff).
  async #fire(name: string, job: CronJob): Promise<void> {
    if (this.#abort.signal.aborted) return;
    const tick = tickOf(Date.now(), this.#period);
    const at = tick.toISOString();
    if (this.bus) {
      const lease = `cron:${this.service}:${name}:${at}`;
      let won: boolean;
      try {
        // The lease only has to outlive the replicas' skew; the tick is in its name.
        won = await this.bus.backend.tryLock(lease, this.#period * 2);
      } catch (err) {
        this.log.error(`cron "${name}": tick ${at} skipped, the lease could not be taken`, err);
        return;
      }
      if (!won) {
        this.log.info(`cron "${name}": tick ${at} is run by another replica`);
        return;
      }
    }
    const ctx: CronContext = { name, service: this.service, tick, signal: this.#late.signal };
    const run = this.#run(name, job, ctx);
    this.#running.add(run);
    await run;
    this.#running.delete(run);
  }

  async #run(name: string, job: CronJob, ctx: CronContext): Promise<void> {
    const t0 = performance.now();
    try {
      await job.run(ctx);
      const ms = Math.round(performance.now() - t0);
      this.log.info(`cron "${name}": tick ${ctx.tick.toISOString()} ran in ${ms} ms`);
    } catch (err) {
      this.log.error(`cron "${name}": tick ${ctx.tick.toISOString()} failed`, err);
    }
  }

  stop(graceMs: number): Promise<void> {
    this.#stopping ??= this.#stop(graceMs);
    return this.#stopping;
  }

  async #stop(graceMs: number): Promise<void> {
    if (this.state === "failed") return;
    this.state = "stopping";
    this.reason = "cron is stopping";
    this.#abort.abort();
    if (this.#running.size > 0) {
      this.log.info(`cron: waiting for ${this.#running.size} running job(s)`);
      if (!await within(Promise.all(this.#running), graceMs)) {
        this.log.error(`cron: jobs still running after ${graceMs} ms; their signal is aborted`);
        this.#late.abort();
      }
    }
    this.state = "stopped";
    this.log.info("cron: stopped");
  }
}
