/**
 * Role: a BullMQ worker (npm `bullmq` in Deno) with concurrency 100, recording the latency
 * from the publish stamp in each job's data.
 *
 * @module
 */
import type { Tick } from "./_clock.ts";
import { type ConsumerParams, params, Recorder, stopRequested } from "./_role.ts";

const p = params<ConsumerParams & { queue: string; host: string; port: number }>();
const { Worker } = await import(["npm:bullmq", "5"].join("@"));
const recorder = new Recorder(p);
const worker = new Worker(p.queue, (job: { data: Tick }) => {
  recorder.record(job.data.seq, job.data.t);
  return Promise.resolve();
}, { connection: { host: p.host, port: p.port }, concurrency: 100 });
await worker.waitUntilReady();
recorder.ready();
await stopRequested();
await worker.close();
recorder.finish();
