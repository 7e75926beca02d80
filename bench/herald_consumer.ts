/**
 * Role: a Herald consumer: `createWorker` in group "bench" with one handler that records the
 * latency from the publish stamp in the payload. With `idle`, it only starts and waits (for the
 * idle CPU row).
 *
 * @module
 */
import { createBus, createWorker, defineEvent } from "@herald/herald";
import { type BackendSpec, makeBackend, Tick } from "./_herald.ts";
import { now } from "./_clock.ts";
import { Samples } from "./_stats.ts";
import { profileBackend, profileFetch, profileIoredis, profileKv } from "./_profile.ts";
import { type ConsumerParams, params, Recorder, stopRequested } from "./_role.ts";

const p = params<
  ConsumerParams & {
    backend: BackendSpec;
    concurrency?: number;
    batch?: number;
    index?: number;
    /** Split latency at the claim (paced rows, `--profile`): a map entry and a clock read more per event. */
    split?: boolean;
    /** Consume this stream instead of the benchmark's (the idle row beside a busy stream). */
    stream?: string;
  }
>();
const recorder = new Recorder(p);
recorder.watchConsole();
const profile = p.backend.kind === "kv" ? profileKv() : undefined;
const http = p.backend.kind === "redis" && p.backend.token ? profileFetch() : undefined;
const tcp = p.backend.kind === "redis" && !p.backend.token ? await profileIoredis() : undefined;
const backend = await makeBackend(p.backend);
const calls = profileBackend(backend);
// When each event's claim returned: splits latency into "until claimed" and "claim to handler".
const claimedAt = new Map<string, number>();
const untilClaimed = new Samples();
const toHandler = new Samples();
const splitStamps = new Samples();
let firstStamp = Infinity;
if (p.split) {
  const claim = backend.claim.bind(backend);
  backend.claim = async (...args) => {
    const deliveries = await claim(...args);
    const at = now();
    for (const d of deliveries) if (d.envelope) claimedAt.set(d.envelope.id, at);
    return deliveries;
  };
}
const bus = createBus({ backend, source: "bench" });
const contract = p.stream === undefined
  ? Tick
  : defineEvent({ stream: p.stream, type: Tick.type, schema: Tick.schema });
const worker = createWorker({ bus, group: "bench", batch: p.batch })
  .on(contract, (event) => {
    recorder.record(event.data.seq, event.data.t);
    const at = claimedAt.get(event.id);
    if (at !== undefined) {
      claimedAt.delete(event.id);
      untilClaimed.push(at - event.data.t);
      toHandler.push(now() - at);
      splitStamps.push(event.data.t);
      firstStamp = Math.min(firstStamp, event.data.t);
    }
  }, { concurrency: p.concurrency ?? 100 });
await worker.start();
recorder.ready();
await stopRequested();
const detail = () => ({
  calls: calls(),
  kv: profile?.(),
  http: http?.(),
  redis: tcp?.(),
  stats: (backend as { stats?: unknown }).stats,
  untilClaimedMs: untilClaimed.percentiles(splitStamps, firstStamp + (p.warmupMs ?? 0)),
  claimToHandlerMs: toHandler.percentiles(splitStamps, firstStamp + (p.warmupMs ?? 0)),
});
recorder.snapshot(detail());
try {
  await worker.stop();
  await bus.close();
} catch (err) {
  recorder.error(err);
}
recorder.finish(detail());
