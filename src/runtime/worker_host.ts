/**
 * The script a service's Web Worker runs: it imports the worker module named in the "start"
 * message, starts its default export (unless it is there only for cron jobs), runs the cron
 * jobs handed to it, and stops it on "stop". Everything that goes wrong is posted back, so the
 * service logs it under its own name.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { CronRuns } from "./cron_runs.ts";
import {
  declaredCrons,
  type FromHost,
  importWorker,
  postedError,
  type StartableWorker,
} from "./protocol.ts";
import { enablePromMetrics } from "../telemetry/metrics.ts";
import { longestOutage, onReachability } from "../telemetry/health.ts";
import { promJson } from "../telemetry/prometheus.ts";
import type { ToHost } from "./protocol.ts";

let worker: StartableWorker | undefined;
let starting: Promise<void> | undefined;
let started = false;
let service = "";
const crons = new CronRuns();

function post(message: FromHost): void {
  self.postMessage(message);
}

async function start(url: string, handlers: boolean, prometheus: boolean): Promise<void> {
  try {
    // Before the module loads, so that its worker records into this isolate's registry.
    if (prometheus) await enablePromMetrics();
    worker = await importWorker(url);
    if (handlers) {
      await worker.start();
      started = true;
    }
    post({ type: "ready", crons: declaredCrons(worker) });
  } catch (err) {
    post({ type: "error", phase: "start", error: postedError(err) });
  }
}

async function runCron(run: number, name: string, tick: string): Promise<void> {
  await starting;
  const job = worker?.crons?.get(name);
  if (!job) {
    const error = new Error(`The worker module declares no cron job "${name}"`);
    return post({ type: "cron-done", run, ms: 0, error: postedError(error) });
  }
  post({ type: "cron-started", run });
  const result = await crons.run(job, { name, service, tick: new Date(tick) });
  const error = result.error === undefined ? undefined : postedError(result.error);
  post({ type: "cron-done", run, ms: result.ms, error });
}

async function stop(graceMs: number): Promise<void> {
  try {
    // A stop that arrives while the module is still starting waits for it, so nothing leaks.
    await starting;
    await Promise.all([crons.settle(graceMs), started ? worker?.stop({ graceMs }) : undefined]);
  } catch (err) {
    post({ type: "error", phase: "stop", error: postedError(err) });
  }
  post({ type: "stopped" });
}

self.onmessage = (e: MessageEvent<ToHost>) => {
  const message = e.data;
  if (message.type === "start" && !starting) {
    service = message.service;
    starting = start(message.url, message.handlers, message.prometheus === true);
  } else if (message.type === "cron") void runCron(message.run, message.name, message.tick);
  else if (message.type === "metrics") {
    promJson().then((json) => post({ type: "metrics", id: message.id, json }));
  } else if (message.type === "stop") void stop(message.graceMs);
};

onReachability(() => post({ type: "reachability", outage: longestOutage() }));

// A rejection nobody awaited in user code would end this isolate; report it and keep handling.
self.addEventListener("unhandledrejection", (e) => {
  e.preventDefault();
  post({ type: "error", phase: "run", error: postedError(e.reason) });
});
