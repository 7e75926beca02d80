/**
 * The script a service's Web Worker runs: it imports the worker module named in the "start"
 * message, starts its default export, and stops it on "stop". Everything that goes wrong is
 * posted back, so the service logs it under its own name.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { type FromHost, importWorker, postedError, type StartableWorker } from "./protocol.ts";
import type { ToHost } from "./protocol.ts";

let worker: StartableWorker | undefined;
let starting: Promise<void> | undefined;

function post(message: FromHost): void {
  self.postMessage(message);
}

async function start(url: string): Promise<void> {
  try {
    worker = await importWorker(url);
    await worker.start();
    post({ type: "ready", group: worker.group, streams: worker.streams });
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

async function drain(id: number, budgetMs: number): Promise<void> {
  try {
    await starting;
    if (!worker?.drain) throw new TypeError("The worker cannot drain: it is not a Herald Worker");
    post({ type: "drained", id, result: await worker.drain({ budgetMs }) });
  } catch (err) {
    post({ type: "drained", id, error: postedError(err) });
  }
}

self.onmessage = (e: MessageEvent<ToHost>) => {
  const message = e.data;
  if (message.type === "start" && !starting) starting = start(message.url);
  else if (message.type === "stop") void stop(message.graceMs);
  else if (message.type === "drain") void drain(message.id, message.budgetMs);
};

// A rejection nobody awaited in user code would end this isolate; report it and keep handling.
self.addEventListener("unhandledrejection", (e) => {
  e.preventDefault();
  post({ type: "error", phase: "run", error: postedError(e.reason) });
});
