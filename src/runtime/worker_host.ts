/**
 * The script a service's Web Worker runs: it imports the worker module named in the "start"
 * message, starts its default export, and stops it on "stop". Everything that goes wrong is
 * posted back, so the service logs it under its own name.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { enablePromMetrics } from "../telemetry/metrics.ts";
import { longestOutage, onReachability } from "../telemetry/health.ts";
import { promJson } from "../telemetry/prometheus.ts";
import { type FromHost, importWorker, postedError, type StartableWorker } from "./protocol.ts";
import type { ToHost } from "./protocol.ts";

let worker: StartableWorker | undefined;
let starting: Promise<void> | undefined;

function post(message: FromHost): void {
  self.postMessage(message);
}

async function start(url: string, prometheus: boolean): Promise<void> {
  try {
    // Before the module loads, so that its worker records into this isolate's registry.
    if (prometheus) await enablePromMetrics();
    worker = await importWorker(url);
    await worker.start();
    post({ type: "ready" });
  } catch (err) {
    post({ type: "error", phase: "start", error: postedError(err) });
  }
}

async function stop(graceMs: number): Promise<void> {
  try {
    // A stop that arrives while the module is still starting waits for it, so nothing leaks.
    await starting;
    await worker?.stop({ graceMs });
  } catch (err) {
    post({ type: "error", phase: "stop", error: postedError(err) });
  }
  post({ type: "stopped" });
}

self.onmessage = (e: MessageEvent<ToHost>) => {
  const message = e.data;
  if (message.type === "start" && !starting) {
    starting = start(message.url, message.prometheus === true);
  } else if (message.type === "metrics") {
    promJson().then((json) => post({ type: "metrics", id: message.id, json }));
  } else if (message.type === "stop") void stop(message.graceMs);
};

onReachability(() => post({ type: "reachability", outage: longestOutage() }));

// A rejection nobody awaited in user code would end this isolate; report it and keep handling.
self.addEventListener("unhandledrejection", (e) => {
  e.preventDefault();
  post({ type: "error", phase: "run", error: postedError(e.reason) });
});
