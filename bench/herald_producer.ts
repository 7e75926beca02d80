/**
 * Role: a Herald producer: sequential `bus.publish` calls, or `bus.publishMany` of `batch`
 * events, through the public API.
 *
 * @module
 */
import { createBus } from "@herald/herald";
import { tick } from "./_clock.ts";
import { type BackendSpec, makeBackend, Tick } from "./_herald.ts";
import { profileBackend, profileFetch, profileIoredis, profileKv } from "./_profile.ts";
import { params, produce, type ProducerParams } from "./_role.ts";

const p = params<
  ProducerParams & {
    backend: BackendSpec;
    /** Give each event the key `k<seq % keys>` (the keyed rows). */
    keys?: number;
  }
>();
const profile = p.backend.kind === "kv" ? profileKv() : undefined;
const http = p.backend.kind === "redis" && p.backend.token ? profileFetch() : undefined;
const tcp = p.backend.kind === "redis" && !p.backend.token ? await profileIoredis() : undefined;
const backend = await makeBackend(p.backend);
const calls = profileBackend(backend);
const bus = createBus({ backend, source: "bench" });
const keys = p.keys;
await produce(
  p,
  keys === undefined
    ? async (seq) => {
      await bus.publish(Tick, tick(seq));
    }
    : async (seq) => {
      await bus.publish(Tick, tick(seq), { key: `k${seq % keys}` });
    },
  keys === undefined
    ? async (seqs) => {
      await bus.publishMany(seqs.map((seq) => ({ contract: Tick, data: tick(seq) })));
    }
    : async (seqs) => {
      await bus.publishMany(seqs.map((seq) => ({
        contract: Tick,
        data: tick(seq),
        options: { key: `k${seq % keys}` },
      })));
    },
  () => ({
    calls: calls(),
    kv: profile?.(),
    http: http?.(),
    redis: tcp?.(),
    stats: (backend as { stats?: unknown }).stats,
  }),
);
await bus.close();
