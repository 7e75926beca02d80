/**
 * Role of `backlog.ts`: a new group at "earliest" drains `count` events of `stream` with one
 * worker, then prints one JSON line: the drain rate, the peak RSS while draining and what it was
 * made of (V8's young generation, the rest of V8's heap, the process's other anonymous memory,
 * its file-backed pages: the `deno` binary), and the latency of the claims that returned events.
 *
 * ```sh
 * deno run -A bench/backlog_drain.ts '{"backend":{"kind":"kv","path":"/tmp/x.db"},"stream":"s","group":"g","count":1000}'
 * ```
 *
 * @module
 */
import { getHeapSpaceStatistics } from "node:v8";
import { createBus, createWorker } from "@herald/herald";
import { type BackendSpec, makeBackend } from "./_herald.ts";
import { tickOn } from "./_scale.ts";

const p = JSON.parse(Deno.args[0]) as {
  backend: BackendSpec;
  stream: string;
  group: string;
  count: number;
};
const backend = await makeBackend(p.backend);
const claims: number[] = [];
const claim = backend.claim.bind(backend);
backend.claim = async (...args) => {
  const t = performance.now();
  const got = await claim(...args);
  if (got.length > 0) claims.push(performance.now() - t);
  return got;
};
const bus = createBus({ backend, source: "bench" });
let handled = 0;
/** The process's memory now, in bytes: RSS and its parts. */
function memory() {
  const { rss, heapTotal } = Deno.memoryUsage();
  const status = Deno.readTextFileSync("/proc/self/status");
  const kb = (field: string) => Number(status.match(new RegExp(`${field}:\\s+(\\d+)`))?.[1] ?? 0);
  const young = getHeapSpaceStatistics().find((s) => s.space_name === "new_space");
  const youngBytes = young?.physical_space_size ?? 0;
  return {
    rss,
    young: youngBytes,
    heapRest: heapTotal - youngBytes,
    native: kb("RssAnon") * 1024 - heapTotal,
    file: (kb("RssFile") + kb("RssShmem")) * 1024,
  };
}
let peak = memory();
const sample = () => {
  const now = memory();
  if (now.rss > peak.rss) peak = now;
};
const { promise: drained, resolve } = Promise.withResolvers<void>();
const worker = createWorker({ bus, group: p.group, start: "earliest", batch: 100 })
  .on(tickOn(p.stream), () => {
    if (++handled === p.count) resolve();
  }, { concurrency: 100 });
const sampler = setInterval(sample, 100);
const start = performance.now();
await worker.start();
await drained;
const ms = performance.now() - start;
clearInterval(sampler);
sample();
await worker.stop();
await bus.close();
const sorted = claims.sort((a, b) => a - b);
const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
console.log(JSON.stringify({
  rate: p.count / (ms / 1000),
  peakRssMB: peak.rss / 1e6,
  peakYoungMB: peak.young / 1e6,
  peakHeapRestMB: peak.heapRest / 1e6,
  peakNativeMB: peak.native / 1e6,
  peakFileMB: peak.file / 1e6,
  claimP50: at(0.5),
  claimP99: at(0.99),
  claims: sorted.length,
}));
