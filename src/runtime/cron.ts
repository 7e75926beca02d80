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
 * The ticks are always registered in this isolate (Deno Deploy finds crons by evaluating the
 * entry module). A job given in `cron` runs here; a job the worker module declares
 * (`workerCron`) is handed to the worker module's isolate, waiting for it while it is down up
 * to the tick's window (the job's next tick), and never handed twice for one tick.
 *
 * @module
 */
import type { Bus } from "../bus.ts";
import type { CronDeclaration, CronJob } from "../cron.ts";
import { InvalidOptionsError } from "../errors.ts";
import type { CronTarget } from "./cron_target.ts";
import { CronRuns } from "./cron_runs.ts";
import { cronPeriodMs, tickOf, windowEnd } from "./cron_window.ts";
import type { Log } from "./log.ts";
import { type RoleHandle, type RoleState, within } from "./role.ts";

export { cronPeriodMs, tickOf } from "./cron_window.ts";

// A hand-off ends with the worker's own stop: its grace, then the moment it takes to release.
const HAND_OFF_RELEASE_MS = 2_000;

/** The jobs of the cron role: run here (`cron`), or in the worker module (`workerCron`). */
export interface CronRoleJobs {
  /** Jobs whose functions are in this isolate. */
  local: Record<string, CronJob>;
  /** Jobs the worker module declares. */
  worker: readonly CronDeclaration[];
}

/** The cron role; `useWorker` gives it where worker-declared jobs run. */
export interface CronRoleHandle extends RoleHandle {
  /** Where the worker module's jobs are handed; `owned` ones are stopped with this role. */
  useWorker(target: CronTarget, owned: boolean): void;
  /** Logs the jobs the worker module declares that do not match `workerCron`. */
  checkDeclared(declared: CronDeclaration[]): void;
}

/** Registers the jobs with Deno.cron. Throws at once for a schedule Deno.cron rejects. */
export function startCronRole(
  jobs: CronRoleJobs,
  service: string,
  bus: Bus | undefined,
  log: Log,
): CronRoleHandle {
  return new CronRole(jobs, service, bus, log);
}

interface Registered {
  name: string;
  schedule: string;
  job: CronJob | CronDeclaration;
}

class CronRole implements CronRoleHandle {
  #state: RoleState = "starting";
  #reason?: string;
  #abort = new AbortController();
  #runs = new CronRuns();
  #handOffs = new Set<Promise<void>>();
  #stopping?: Promise<void>;
  #period = cronPeriodMs();
  #worker?: { target: CronTarget; owned: boolean };

  /** Its own state; "failed" too while the worker module it alone runs (HERALD_ROLE=cron) is. */
  get state(): RoleState {
    const owned = this.#worker?.owned ? this.#worker.target : undefined;
    return this.#state === "up" && owned?.state === "failed" ? "failed" : this.#state;
  }

  /** Why it is not up. */
  get reason(): string | undefined {
    const owned = this.#worker?.owned ? this.#worker.target : undefined;
    return this.#state === "up" && owned?.state === "failed" ? owned.reason : this.#reason;
  }

  constructor(
    readonly jobs: CronRoleJobs,
    readonly service: string,
    readonly bus: Bus | undefined,
    readonly log: Log,
  ) {
    if (typeof Deno.cron !== "function") {
      this.#state = "failed";
      this.#reason = 'Deno.cron is not available: add "cron" to "unstable" in deno.json';
      log.error(`cron: ${this.#reason}`);
      return;
    }
    const all: Registered[] = [
      ...Object.entries(jobs.local).map(([name, job]) => ({ name, schedule: job.schedule, job })),
      ...jobs.worker.map((job) => ({ name: job.name, schedule: job.schedule, job })),
    ];
    this.#register(all);
    if (!bus && all.length > 0) log.info("cron: no bus given, so every replica runs every tick");
    this.#state = "up";
    const where = (names: string[], place: string) => names.length ? [`${names} (${place})`] : [];
    const listed = [
      ...where(Object.keys(jobs.local), "in this isolate"),
      ...where(jobs.worker.map((j) => j.name), "in the worker"),
    ];
    log.info(`cron: registered ${listed.join(", ") || "no jobs"}`);
  }

  #register(all: Registered[]): void {
    const problems: string[] = [];
    for (const { name, schedule, job } of all) {
      try {
        Deno.cron(name, schedule, { signal: this.#abort.signal }, () => this.#fire(name, job))
          .catch((err) => this.log.error(`cron "${name}": ended`, err));
      } catch (err) {
        problems.push(`cron job "${name}": ${err instanceof Error ? err.message : err}`);
      }
    }
    if (problems.length > 0) {
      this.#abort.abort();
      throw new InvalidOptionsError("service", problems);
    }
  }

  useWorker(target: CronTarget, owned: boolean): void {
    this.#worker = { target, owned };
  }

  checkDeclared(declared: CronDeclaration[]): void {
    const expected = new Map(this.jobs.worker.map((j) => [j.name, j.schedule]));
    for (const job of declared) {
      if (!expected.has(job.name)) {
        this.log.error(
          `cron "${job.name}": declared by the worker module but not in workerCron, so it never runs`,
        );
      } else if (expected.get(job.name) !== job.schedule) {
        this.log.error(
          `cron "${job.name}": the worker module says "${job.schedule}", workerCron says ` +
            `"${expected.get(job.name)}"; it runs on workerCron's`,
        );
      }
    }
  }

  // Deno.cron awaits this before scheduling the job's next tick; it never rejects, so a failing
  // job is only logged (and not retried by Deno.cron's backoff).
  async #fire(name: string, job: CronJob | CronDeclaration): Promise<void> {
    if (this.#abort.signal.aborted) return;
    const tick = tickOf(Date.now(), this.#period);
    if (!await this.#elected(name, tick)) return;
    const run = "run" in job ? this.#runHere(name, job, tick) : this.#handOff(name, job, tick);
    this.#handOffs.add(run);
    await run;
    this.#handOffs.delete(run);
  }

  async #elected(name: string, tick: Date): Promise<boolean> {
    if (!this.bus) return true;
    const at = tick.toISOString();
    const lease = `cron:${this.service}:${name}:${at}`;
    try {
      // The lease only has to outlive the replicas' skew; the tick is in its name.
      if (await this.bus.backend.tryLock(lease, this.#period * 2)) return true;
      this.log.info(`cron "${name}": tick ${at} is run by another replica`);
    } catch (err) {
      this.log.error(`cron "${name}": tick ${at} skipped, the lease could not be taken`, err);
    }
    return false;
  }

  async #runHere(name: string, job: CronJob, tick: Date): Promise<void> {
    const result = await this.#runs.run(job, { name, service: this.service, tick });
    this.#report(name, tick, result.ms, result.error, "");
  }

  #report(name: string, tick: Date, ms: number, error: unknown, where: string): void {
    const at = tick.toISOString();
    if (error === undefined) this.log.info(`cron "${name}": tick ${at} ran${where} in ${ms} ms`);
    else this.log.error(`cron "${name}": tick ${at} failed${where}`, error);
  }

  async #handOff(name: string, job: CronDeclaration, tick: Date): Promise<void> {
    const at = tick.toISOString();
    const until = windowEnd(job.schedule, tick).getTime();
    let waited = false;
    for (;;) {
      const target = this.#worker?.target;
      if (!target) {
        this.log.error(`cron "${name}": tick ${at} skipped, no worker module runs it`);
        return;
      }
      if (target.state !== "up" && !waited) {
        waited = true;
        this.log.info(`cron "${name}": tick ${at} waits for the worker (${target.state})`);
      }
      if (!await target.whenUp(until - Date.now(), this.#abort.signal)) {
        const why = this.#abort.signal.aborted
          ? "the service is stopping"
          : `the worker was not up before the tick's window closed (${
            target.reason ?? target.state
          })`;
        this.log.error(`cron "${name}": tick ${at} skipped, ${why}`);
        return;
      }
      const result = await target.runCron(name, tick);
      if (result.outcome === "not-started") continue;
      if (result.outcome === "lost") {
        this.log.error(
          `cron "${name}": tick ${at} lost, the worker went down while it ran (not run again)`,
        );
        return;
      }
      return this.#report(name, tick, result.ms, result.error, " in the worker");
    }
  }

  stop(graceMs: number): Promise<void> {
    this.#stopping ??= this.#stop(graceMs);
    return this.#stopping;
  }

  async #stop(graceMs: number): Promise<void> {
    if (this.#state === "failed") return;
    this.#state = "stopping";
    this.#reason = "cron is stopping";
    this.#abort.abort();
    if (this.#handOffs.size > 0) {
      this.log.info(`cron: waiting for ${this.#handOffs.size} running job(s)`);
      if (!await this.#runs.settle(graceMs)) {
        this.log.error(`cron: jobs still running after ${graceMs} ms; their signal is aborted`);
      }
    }
    // Hand-offs end with the worker's own stop (it gives its jobs the same grace).
    if (this.#worker?.owned) await this.#worker.target.stop(graceMs);
    await within(Promise.all(this.#handOffs), graceMs + HAND_OFF_RELEASE_MS);
    this.#state = "stopped";
    this.log.info("cron: stopped");
  }
}
