/**
 * The script a service's Web Worker runs: it imports the worker module named in the "start"
 * message, starts its default export (unless it is there only for cron jobs), runs the cron
 * jobs handed to it, drains its group's backlog on "drain", and stops it on "stop". Everything
 * that goes wrong is posted back, so the service logs it under its own name.
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
    post({
      type: "ready",
      crons: declaredCrons(worker),
      group: worker.group,
      streams: worker.streams,
    });
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

async function drain(id: number, budgetMs: number): Promise<void> {
  try {
    await starting;
    if (!started) throw new TypeError("The worker cannot drain: its handlers did not start");
    if (!worker?.drain) throw new TypeError("The worker cannot drain: it is not a Herald Worker");
    post({ type: "drained", id, result: await worker.drain({ budgetMs }) });
  } catch (err) {
    post({ type: "drained", id, error: postedError(err) });
  }
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
  else if (message.type === "drain") void drain(message.id, message.budgetMs);
};

onReachability(() => post({ type: "reachability", outage: longestOutage() }));

// A rejection nobody awaited in user code would end this isolate; report it and keep handling.
self.addEventListener("unhandledrejection", (e) => {
  e.preventDefault();
  post({ type: "error", phase: "run", error: postedError(e.reason) });
});
