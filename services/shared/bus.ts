/**
 * The one place that picks the bus: the embedded Deno KV file every service shares by default,
 * or Redis when `HERALD_BACKEND=redis` (configured by `createRedisBackend`). Services never name a
 * backend themselves, so switching is one setting.
 *
 * @module
 */
import { type Bus, createBus, createKvBackend, defineCron } from "@herald/herald";
import type { Backend } from "@herald/herald/backend";
import { dirname } from "node:path";
import { backendKind, busPath, kvPollMs, kvWatch, pushOnPublish } from "./config.ts";

/**
 * Opens the bus a service publishes and consumes through.
 *
 * @param source The service's name, stamped into the events it publishes.
 * @returns The bus; close it when the service stops.
 *
 * @example Opening the Posts bus
 * ```ts ignore
 * const bus = await openBus("posts");
 * await bus.publish(PostCreated, post);
 * ```
 */
export async function openBus(source: string): Promise<Bus> {
  const bus = createBus({ backend: await openBackend(), source, push: pushOnPublish() });
  if (Deno.env.get("HERALD_LOG_EVENTS") === "json") reportStats(bus);
  return bus;
}

/**
 * Prints the embedded bus's counters (`KvStats`: "database is locked" retries and their wait, …)
 * as a JSON line when they changed, every 200 ms, for `bench/e2e_app.ts` (which keeps the last).
 */
function reportStats(bus: Bus) {
  const { backend } = bus;
  if (!("stats" in backend)) return;
  const isolate = "WorkerGlobalScope" in globalThis ? "worker" : "web";
  let last = "";
  const timer = setInterval(() => {
    const line = JSON.stringify({ stats: `${bus.source}.${isolate}`, ...backend.stats as object });
    if (line !== last) console.log(last = line);
  }, 200);
  Deno.unrefTimer(timer);
}

async function openBackend(): Promise<Backend> {
  if (backendKind() === "redis") {
    // Loaded only when asked for, so the embedded default never loads a Redis client.
    const { createRedisBackend } = await import("@herald/herald/redis");
    return createRedisBackend({ journeys: true });
  }
  const path = busPath();
  // A KV Connect URL (a database shared over the network) has no folder to make.
  if (!/^https?:\/\//.test(path)) await Deno.mkdir(dirname(path), { recursive: true });
  // Claims wake on the backend's file-event doorbell; HERALD_KV_WATCH=0 leaves only the poll.
  const watch = kvWatch();
  // Journeys on: the admin API, the dashboard and `herald trace` follow requests across services.
  return createKvBackend({
    path,
    watch,
    pollMs: kvPollMs() ?? (watch ? undefined : 50),
    journeys: true,
  });
}

/**
 * The outbox sweep's tick: every service's worker module runs {@linkcode sweep} on it
 * (`worker.cron(OutboxSweep, …)`), and its entry registers it (`createService({ workerCron })`).
 */
export const OutboxSweep = defineCron({ name: "outbox-sweep", schedule: "* * * * *" });

/**
 * Forwards what the service's outbox still holds: events committed with the service's writes
 * whose forward to the bus did not happen (the bus was down, or the process stopped right after
 * the commit). Each service's worker module runs it as a cron job, off the HTTP isolate; the bus
 * drops duplicates by event id.
 *
 * @param bus The service's bus.
 * @param db The service's database, holding the outbox.
 *
 * @example
 * ```ts ignore
 * createWorker({ bus, group: "posts" }).cron(OutboxSweep, () => sweep(bus, db));
 * ```
 */
export async function sweep(bus: Bus, db: Deno.Kv): Promise<void> {
  const forwarded = await bus.relayOutbox(db);
  if (forwarded > 0) console.log(`outbox: forwarded ${forwarded} deferred event(s)`);
}
