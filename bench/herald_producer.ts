/**
 * Role: a Herald producer: sequential `bus.publish` calls, or `bus.publishMany` of `batch`
 * events, through the public API. With `keys`, event `seq` has key `k<seq % keys>`.
 *
 * @module
 */
import { createBus } from "@herald/herald";
import { tick } from "./_clock.ts";
import { type BackendSpec, makeBackend, Tick } from "./_herald.ts";
import { profileBackend, profileFetch, profileIoredis, profileKv } from "./_profile.ts";
import { params, produce, type ProducerParams } from "./_role.ts";

const p = params<ProducerParams & { backend: BackendSpec; keys?: number }>();
const keyed = p.keys ? (seq: number) => ({ key: `k${seq % p.keys!}` }) : () => undefined;
const profile = p.backend.kind === "kv" ? profileKv() : undefined;
const http = p.backend.kind === "redis" && p.backend.token ? profileFetch() : undefined;
const tcp = p.backend.kind === "redis" && !p.backend.token ? await profileIoredis() : undefined;
const backend = await makeBackend(p.backend);
const calls = profileBackend(backend);
const bus = createBus({ backend, source: "bench" });
await produce(
  p,
  async (seq) => {
    await bus.publish(Tick, tick(seq), keyed(seq));
  },
  async (seqs) => {
    await bus.publishMany(
      seqs.map((seq) => ({ contract: Tick, data: tick(seq), options: keyed(seq) })),
    );
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
