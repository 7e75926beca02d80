/**
 * Ticks: which tick a run belongs to (so replicas agree), and until when a tick may still run
 * (a tick handed to a worker that is down waits for it up to then).
 *
 * @module
 */
import { Cron } from "croner";

/**
 * The time between two ticks that may be told apart: a minute, or what
 * `DENO_CRON_TEST_SCHEDULE_OFFSET` makes Deno.cron fire at (tests).
 */
export function cronPeriodMs(): number {
  return testOffsetMs() ?? 60_000;
}

function testOffsetMs(): number | undefined {
  let offset: string | undefined;
  try {
    offset = Deno.env.get("DENO_CRON_TEST_SCHEDULE_OFFSET");
  } catch {
    offset = undefined;
  }
  const ms = Number(offset);
  return offset && Number.isFinite(ms) && ms > 0 ? ms : undefined;
}

/**
 * The tick a run at `now` belongs to: the nearest multiple of `periodMs`, so replicas that fire
 * up to half a period apart agree.
 */
export function tickOf(now: number, periodMs: number): Date {
  return new Date(Math.round(now / periodMs) * periodMs);
}

/**
 * When the tick's window ends: the job's next tick by its schedule (croner reads the cron
 * expression the way Deno.cron does, in UTC), or one period on when Deno.cron fires on the test
 * offset instead of the schedule.
 */
export function windowEnd(schedule: string, tick: Date): Date {
  const offset = testOffsetMs();
  if (offset !== undefined) return new Date(tick.getTime() + offset);
  const next = new Cron(schedule, { timezone: "UTC", paused: true }).nextRun(tick);
  return next ?? new Date(tick.getTime() + 60_000);
}
